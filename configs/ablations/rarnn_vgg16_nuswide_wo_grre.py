# Ablation "Ours w/o GRRE" (RARNN, Li et al. ACM MM 2018, Table 1: F_L 36.5,
# F_I 53.6, mAP 52.8 on NUS-WIDE, k = 3): no relation extractor, Eq. 9
# without the W_op O_i term (each emitted glimpse predicts alone).
_base_ = ['../rarnn_vgg16_nuswide.py']
model = dict(head=dict(relation='none'))
