# RARNN on PASCAL VOC 2007 (trainval / test, 20 classes), 224 px: VOC 11-point
# mAP with difficult labels ignored (the paper reports no VOC result; this is
# the common protocol, for comparison with RARL and the GAP baseline
# vgg16_gap_voc07_224.py on the same schedule).
_base_ = [
    '_base_/models/rarnn_vgg16.py',
    '_base_/datasets/voc07_224.py',
    '_base_/schedules/rarnn_adam.py',
    '_base_/default_runtime.py',
]
model = dict(head=dict(num_classes=20))
custom_hooks = _base_.custom_hooks + [dict(type='PolicyGradientHook')]
