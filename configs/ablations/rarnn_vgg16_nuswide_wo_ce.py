# Ablation "Ours w/o CE" (RARNN, Li et al. ACM MM 2018, Table 1: F_L 44.2,
# F_I 58.4, mAP 61.5 on NUS-WIDE, k = 3): no context extractor, Eq. 9 without
# the W_cp C_i term.
_base_ = ['../rarnn_vgg16_nuswide.py']
model = dict(neck=dict(context=None), head=dict(use_context=False))
