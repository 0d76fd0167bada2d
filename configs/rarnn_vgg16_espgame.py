# RARNN on ESP Game (268 labels, TagProp split), 224 px, top-5 labels per
# image: P_L/R_L/F_L and N+ (paper; P_I/R_I/F_I and mAP also reported).
# Paper (Table 3): P_L 51.3, R_L 37.8, F_L 43.5, N+ 261.
# Baseline: vgg16_gap_espgame.py (same schedule).
_base_ = [
    '_base_/models/rarnn_vgg16.py',
    '_base_/datasets/espgame_224.py',
    '_base_/schedules/rarnn_adam.py',
    '_base_/default_runtime.py',
]
model = dict(head=dict(num_classes=268))
custom_hooks = _base_.custom_hooks + [dict(type='PolicyGradientHook')]
