# Small GAP baseline for CPU runs: ResNet-18 (its last stage, stride 32,
# 512 channels) through FeatureMapWrapper -> global average pooling -> linear
# multi-label head with a per-class sigmoid loss. The wrapper holds the
# ResNet under `backbone.`, exactly as mmpretrain's checkpoint does, so its
# Pretrained init needs no prefix (the checkpoint's head keys are ignored).
# Leaf configs training from scratch set model.backbone.init_cfg=None.
# 'safe:' (marl_mm's checkpoint scheme): read with weights_only=True and
# marl_mm's allowlist, not mmengine's plain torch.load.
pretrained = ('safe:https://download.openmmlab.com/mmclassification/v0/resnet/'
              'resnet18_8xb32_in1k_20210831-fbbb1da6.pth')
model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='FeatureMapWrapper',
        backbone=dict(type='ResNet', depth=18, out_indices=(3, )),
        out_index=-1,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='MultiLabelLinearClsHead',
        num_classes=20,
        in_channels=512,
        loss=dict(type='CrossEntropyLoss', use_sigmoid=True)))
