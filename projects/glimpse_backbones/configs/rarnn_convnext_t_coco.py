# RARNN (Li et al., ACM MM 2018) on ConvNeXt-T instead of VGG16: MS-COCO at
# 224 px, everything but the backbone as configs/rarnn_vgg16_coco.py. The
# RHN reads the layer-normalised output of stage 4 (stride 32: 7 x 7 at
# 224 px as VGG16's pool5, 768 channels); X_t stays 512-d (paper).
# adaptive_pool=True lets other input sizes through (pooled to 7 x 7).
# Default chosen here, not in the paper.
_base_ = ['../../../configs/rarnn_vgg16_coco.py']
# 'safe:': read with marl_mm's safe loader (docs/host.md).
pretrained = ('safe:https://download.openmmlab.com/mmclassification/v0/'
              'convnext/convnext-tiny_32xb128_in1k_20221207-998cf3e9.pth')
model = dict(
    backbone=dict(
        _delete_=True,
        type='FeatureMapWrapper',
        backbone=dict(
            type='ConvNeXt',
            arch='tiny',
            out_indices=(3, ),
            gap_before_final_norm=False),
        out_index=-1,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    neck=dict(
        rhn=dict(in_channels=768, adaptive_pool=True),
        context=dict(in_channels=768)))
