# Quick start: the GAP baseline on the generated shapes data, minutes on a CPU.
#   python tools/dataset_converters/generate_shapes.py
#   python tools/train.py configs/resnet18_gap_shapes.py
# The backbone is the one of the RARL / RARNN quick starts (ResNet-18 from
# scratch, 3 stages built: stride 16, 256 channels, 8 x 8 at 128 px), so the
# three are like-for-like.
# Results (mAP, time): configs/README.md, 'Quick starts'.
_base_ = [
    '_base_/models/resnet18_gap.py',
    '_base_/datasets/shapes_quickstart.py',
    '_base_/schedules/quickstart_adam.py',
    '_base_/default_runtime.py',
]
model = dict(
    backbone=dict(
        backbone=dict(num_stages=3, strides=(1, 2, 2), dilations=(1, 1, 1),
                      out_indices=(2, )),
        init_cfg=None),
    head=dict(num_classes={{_base_.num_classes}}, in_channels=256))
default_hooks = dict(logger=dict(interval=5))
