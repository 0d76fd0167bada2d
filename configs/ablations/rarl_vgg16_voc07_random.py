# Ablation on VOC 2007, N = 512: Random locations (paper Table 3: 89.0 single-
# view 512), same 9 anchors, no policy loss.
_base_ = ['../rarl_vgg16_voc07.py']
model = dict(head=dict(random_locations=True))
