# Ablation "Ours w/o CE w/o GRRE" (RARNN, Li et al. ACM MM 2018, Table 1:
# F_L 32.8, F_I 50.1, mAP 47.5 on NUS-WIDE, k = 3): neither the context
# extractor nor the relation extractor; Eq. 9 keeps only W_xp X_i.
_base_ = ['../rarnn_vgg16_nuswide.py']
model = dict(neck=dict(context=None),
             head=dict(use_context=False, relation='none'))
