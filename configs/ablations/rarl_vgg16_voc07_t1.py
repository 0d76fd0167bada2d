# Ablation on VOC 2007, N = 512: T = 1 glimpse step (paper Table 6: 90.9).
_base_ = ['../rarl_vgg16_voc07.py']
model = dict(head=dict(num_steps=1))
