# RARNN (Li et al., ACM MM 2018) on ResNet-101 instead of VGG16: MS-COCO at
# 224 px, everything but the backbone as configs/rarnn_vgg16_coco.py. The
# RHN reads the output of stage 4 (stride 32: 7 x 7 at 224 px as VGG16's
# pool5, 2048 channels); its attention and the context extractor work on
# those 2048 channels, the glimpse vectors X_t stay 512-d (paper).
# adaptive_pool=True lets other input sizes through (pooled to 7 x 7).
# Default chosen here, not in the paper.
_base_ = ['../../../configs/rarnn_vgg16_coco.py']
# 'safe:': read with marl_mm's safe loader (docs/host.md).
pretrained = ('safe:https://download.openmmlab.com/mmclassification/v0/resnet/'
              'resnet101_8xb32_in1k_20210831-539c63f8.pth')
model = dict(
    backbone=dict(
        _delete_=True,
        type='FeatureMapWrapper',
        backbone=dict(type='ResNet', depth=101, out_indices=(3, )),
        out_index=-1,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    neck=dict(
        rhn=dict(in_channels=2048, adaptive_pool=True),
        context=dict(in_channels=2048)))
