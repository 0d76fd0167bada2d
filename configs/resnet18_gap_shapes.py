# Quick start: the GAP baseline on the generated shapes data, minutes on a CPU.
#   python tools/dataset_converters/generate_shapes.py
#   python tools/train.py configs/resnet18_gap_shapes.py
# The backbone is the one of the RARL / RARNN quick starts (ResNet-18 from
# scratch, 3 stages built: stride 16, 256 channels, 8 x 8 at 128 px), so the
# three are like-for-like.
# Measured 2026-12-03 (seed 0, OMP_NUM_THREADS=2, 2 CPU cores shared with
# other jobs, load ~2): generate_shapes.py 0.9 s, this training 45.9 s wall
# (6 epochs, 114 iterations, validation once at the end): val mAP 38.9
# (non-interpolated; chance, the class prior: 25.6), CF1 37.4, OF1 36.8
# (top-3 above 0.1).
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
