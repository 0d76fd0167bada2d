# Ablation on VOC 2007, N = 512: One 1:1 region of 160^2 px per location
# instead of 9 anchors (paper Table 5: 90.9).
_base_ = ['../rarl_vgg16_voc07.py']
model = dict(head=dict(anchor_sizes=(160, ), anchor_ratios=(1., )))
