# RARL on cached EfficientNet-Lite0 maps (frozen, ImageNet weights), VOC
# 2007: same cache, schedule and evaluation as
# gap_effnet-lite0_voc07_cached.py. Results and choices: README.md here.
_base_ = [
    '../_base_/models/rarl_effnet-lite0.py',
    '../_base_/datasets/voc07_lite0_448_cached.py',
    '../_base_/schedules/cached_adam_12e.py',
    '../_base_/default_runtime.py',
]
# semantic FC at 0.1 x and the location network at 0.001 x the schedule's
# rate (1e-5 at 1e-2: the paper's rate), chosen here
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={
    'head.embed': dict(lr_mult=0.1), 'head.loc_net': dict(lr_mult=0.001)}))
default_hooks = dict(logger=dict(interval=21))
