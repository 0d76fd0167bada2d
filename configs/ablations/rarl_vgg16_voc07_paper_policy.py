# Ablation on VOC 2007, N = 512: The paper's policy as written: no zero-init
# of the location network, raw advantages R - b (no batch normalisation),
# state not detached (METHOD.md Known pitfalls: collapses from random init).
_base_ = ['../rarl_vgg16_voc07.py']
model = dict(head=dict(
    loc_zero_init=False, advantage_norm='none', policy_detach_state=False))
