# RARNN on MS-COCO 2014 (80 classes; train2014 / val2014), 224 px, top-3
# labels per image: P_L/R_L/F_L, P_I/R_I/F_I and mAP (paper).
# Paper (Table 2): P_L 71.9, R_L 59.6, F_L 65.2, P_I 74.3, R_I 69.7,
# F_I 71.8, mAP 66.7. Baseline: vgg16_gap_coco_224.py (same schedule).
_base_ = [
    '_base_/models/rarnn_vgg16.py',
    '_base_/datasets/coco_224.py',
    '_base_/schedules/rarnn_adam.py',
    '_base_/default_runtime.py',
]
model = dict(head=dict(num_classes=80))
custom_hooks = _base_.custom_hooks + [dict(type='PolicyGradientHook')]
