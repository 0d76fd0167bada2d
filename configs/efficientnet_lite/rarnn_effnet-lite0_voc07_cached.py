# RARNN on cached EfficientNet-Lite0 maps (frozen, ImageNet weights), VOC
# 2007: same cache, schedule and evaluation as
# gap_effnet-lite0_voc07_cached.py. Results and choices: README.md here.
_base_ = [
    '../_base_/models/rarnn_effnet-lite0.py',
    '../_base_/datasets/voc07_lite0_448_cached.py',
    '../_base_/schedules/cached_adam_12e.py',
    '../_base_/default_runtime.py',
]
# the channel reduction at 0.1 x, the RHN's FC (12,544 inputs) at 0.01 x
# and its deconvolution at the schedule's rate (chosen here)
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={
    'neck.reduce': dict(lr_mult=0.1), 'neck.rhn.fc': dict(lr_mult=0.01),
    'neck.rhn.deconv': dict(lr_mult=1.0)}))
default_hooks = dict(logger=dict(interval=21))
