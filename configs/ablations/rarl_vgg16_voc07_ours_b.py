# Ablation on VOC 2007, N = 512: Ours-B (paper Table 4: 90.0): the LSTM only
# localises; each region is classified from its own semantic vector.
_base_ = ['../rarl_vgg16_voc07.py']
model = dict(head=dict(classify_from='region'))
