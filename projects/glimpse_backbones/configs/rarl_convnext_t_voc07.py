# RARL (Chen et al., AAAI 2018) on ConvNeXt-T instead of VGG16: VOC 2007 at
# N = 512 (448 crops), everything but the backbone as configs/
# rarl_vgg16_voc07.py. The glimpses are cropped from the layer-normalised
# output of stage 3 (stride 16 as VGG16's conv5_3, 384 channels);
# gap_before_final_norm=False makes mmpretrain's ConvNeXt return that map
# instead of a pooled vector. The arch is ConvNeXt-T cut after stage 3
# (depths 3-3-9, channels 96-192-384), because mmpretrain's ConvNeXt runs
# every stage it has; the checkpoint's stage-4 keys are reported as
# unexpected and skipped, and the stage-3 output norm (norm2, not in an
# ImageNet checkpoint) starts as a plain layer norm (weight 1, bias 0).
# Default chosen here, not in the paper.
_base_ = ['../../../configs/rarl_vgg16_voc07.py']
# 'safe:': read with marl_mm's safe loader (docs/host.md).
pretrained = ('safe:https://download.openmmlab.com/mmclassification/v0/'
              'convnext/convnext-tiny_32xb128_in1k_20221207-998cf3e9.pth')
model = dict(
    backbone=dict(
        _delete_=True,
        type='FeatureMapWrapper',
        backbone=dict(
            type='ConvNeXt',
            arch=dict(depths=[3, 3, 9], channels=[96, 192, 384]),
            out_indices=(2, ),
            gap_before_final_norm=False),
        out_index=-1,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    head=dict(in_channels=384, feat_stride=16))
