# Reduced CPU comparison on real VOC 2007 images, from random init: the GAP
# baseline on the backbone the RARL / RARNN runs use (ResNet-18 cut after its
# third stage: stride 16, 256 channels, 8 x 8 at 128 px).
#   python tools/train.py configs/voc07_cpu/resnet18_gap_voc07_cpu.py
# Results: configs/voc07_cpu/README.md.
_base_ = [
    '../_base_/models/resnet18_gap.py',
    '../_base_/datasets/voc07_cpu_128.py',
    '../_base_/schedules/cpu_adam_4e.py',
    '../_base_/default_runtime.py',
]
model = dict(
    backbone=dict(
        backbone=dict(num_stages=3, strides=(1, 2, 2), dilations=(1, 1, 1),
                      out_indices=(2, )),
        init_cfg=None),
    head=dict(in_channels=256))
default_hooks = dict(logger=dict(interval=25))
