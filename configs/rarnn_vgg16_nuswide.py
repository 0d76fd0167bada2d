# RARNN on NUS-WIDE (81 concepts, the split of Gong et al. 2013), 224 px,
# top-3 labels per image: P_L/R_L/F_L, P_I/R_I/F_I, N+ and mAP (paper).
# Paper (Table 1): P_L 44.2, R_L 49.3, F_L 46.6, P_I 53.9, R_I 68.7,
# F_I 60.4, mAP 63.5. Baseline: vgg16_gap_nuswide.py (same schedule).
_base_ = [
    '_base_/models/rarnn_vgg16.py',
    '_base_/datasets/nuswide_224.py',
    '_base_/schedules/rarnn_adam.py',
    '_base_/default_runtime.py',
]
model = dict(head=dict(num_classes=81))
custom_hooks = _base_.custom_hooks + [dict(type='PolicyGradientHook')]
