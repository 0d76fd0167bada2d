# Quick start: the GAP baseline on the generated shapes data, minutes on a CPU.
#   python tools/dataset_converters/generate_shapes.py
#   python tools/train.py configs/resnet18_gap_shapes.py
_base_ = [
    '_base_/models/resnet18_gap.py',
    '_base_/datasets/shapes_quickstart.py',
    '_base_/schedules/quickstart_adam.py',
    '_base_/default_runtime.py',
]
num_classes = 8  # must match the generated shapes data
model = dict(backbone=dict(init_cfg=None), head=dict(num_classes=num_classes))
default_hooks = dict(logger=dict(interval=5))
