# RARL (Chen et al., AAAI 2018) on ResNet-101 instead of VGG16: VOC 2007 at
# N = 512 (448 crops), everything but the backbone as configs/
# rarl_vgg16_voc07.py. The glimpses are cropped from the output of stage 3
# (conv4_x: stride 16 as VGG16's conv5_3, 1024 channels; FeatureMapWrapper
# measures both at construction). num_stages=3: stage 4 is neither built nor
# run (mmpretrain's ResNet runs every stage it has, whatever out_indices
# says); the checkpoint's layer4 keys are reported as unexpected and skipped.
# Default chosen here, not in the paper.
_base_ = ['../../../configs/rarl_vgg16_voc07.py']
# 'safe:': read with marl_mm's safe loader (docs/host.md).
pretrained = ('safe:https://download.openmmlab.com/mmclassification/v0/resnet/'
              'resnet101_8xb32_in1k_20210831-539c63f8.pth')
model = dict(
    backbone=dict(
        _delete_=True,
        type='FeatureMapWrapper',
        backbone=dict(
            type='ResNet',
            depth=101,
            num_stages=3,
            strides=(1, 2, 2),
            dilations=(1, 1, 1),
            out_indices=(2, )),
        out_index=-1,
        # mmpretrain classifier checkpoint: the ResNet sits under
        # 'backbone.' as in the wrapper, so no prefix
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    head=dict(in_channels=1024, feat_stride=16))
