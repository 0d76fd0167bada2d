# GAP baseline (both papers compare against it): VGG16 conv5_3 feature map
# (stride 16, no pool5) -> global average pooling -> linear multi-label head
# with a per-class sigmoid loss. The backbone starts from mmpretrain's public
# VGG16 ImageNet checkpoint (top-1 71.62); torchvision weights can be used
# after tools/model_converters/torchvision_vgg16.py (same prefix).
# 'safe:' (marl_mm's checkpoint scheme): read with weights_only=True and
# marl_mm's allowlist, not mmengine's plain torch.load.
pretrained = ('safe:https://download.openmmlab.com/mmclassification/v0/vgg/'
              'vgg16_batch256_imagenet_20210208-db26f1a5.pth')
model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='VGGFeatureMap',
        with_pool5=False,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained,
                      prefix='backbone.')),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='MultiLabelLinearClsHead',
        num_classes=20,
        in_channels=512,
        loss=dict(type='CrossEntropyLoss', use_sigmoid=True)))
