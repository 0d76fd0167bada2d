# Ablation on VOC 2007, N = 512: T = 10 glimpse steps (paper Table 6: 91.3, as
# T = 5).
_base_ = ['../rarl_vgg16_voc07.py']
model = dict(head=dict(num_steps=10))
