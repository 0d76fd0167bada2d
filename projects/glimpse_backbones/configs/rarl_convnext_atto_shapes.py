# CPU quick start of this project: RARL on a small ConvNeXt (ConvNeXt-atto's
# first three stages: depths 2-2-6, channels 40-80-160; stride 16, 160
# channels) trained from scratch on the generated shapes data, everything
# else as configs/rarl_resnet18_shapes.py. Minutes on two cores.
#   python tools/dataset_converters/generate_shapes.py
#   python tools/train.py \
#       projects/glimpse_backbones/configs/rarl_convnext_atto_shapes.py
_base_ = ['../../../configs/rarl_resnet18_shapes.py']
model = dict(
    backbone=dict(
        _delete_=True,
        type='FeatureMapWrapper',
        backbone=dict(
            type='ConvNeXt',
            arch=dict(depths=[2, 2, 6], channels=[40, 80, 160]),
            out_indices=(2, ),
            gap_before_final_norm=False),
        out_index=-1),
    head=dict(in_channels=160, feat_stride=16))
