# GAP baseline on cached EfficientNet-Lite0 maps (frozen, ImageNet weights):
# global average pooling + a linear classifier, sigmoid BCE. Same cache,
# schedule and evaluation as rarl_/rarnn_effnet-lite0_voc07_cached.py.
_base_ = [
    '../_base_/datasets/voc07_lite0_448_cached.py',
    '../_base_/schedules/cached_adam_12e.py',
    '../_base_/default_runtime.py',
]
model = dict(
    # the ten-view test, as RARL and RARNN here (five 384 crops of the 448
    # input and their flips, taken on the map; mode='single' for one view)
    type='TenViewClassifier',
    test_cfg=dict(mode='ten_view', crop_size=384, feat_stride=32),
    backbone=dict(type='PrecomputedFeatureMap', out_channels=1280, stride=32),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='MultiLabelLinearClsHead',
        num_classes=20,
        in_channels=1280,
        loss=dict(type='CrossEntropyLoss', use_sigmoid=True)))
default_hooks = dict(logger=dict(interval=21))
