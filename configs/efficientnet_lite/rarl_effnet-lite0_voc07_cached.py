# RARL on cached EfficientNet-Lite0 maps (frozen, ImageNet weights), VOC
# 2007: same cache, schedule and evaluation as
# gap_effnet-lite0_voc07_cached.py. Results and choices: README.md here.
_base_ = [
    '../_base_/models/rarl_effnet-lite0.py',
    '../_base_/datasets/voc07_lite0_448_cached.py',
    '../_base_/schedules/cached_adam_12e.py',
    '../_base_/default_runtime.py',
]
# semantic FC and location network at 0.1 x the schedule's rate (1e-3;
# chosen here: at the paper's 1e-5, and at 1e-4 or 3e-4, the map-reading
# location network stays near the centre for every image)
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={
    'head.embed': dict(lr_mult=0.1), 'head.loc_net': dict(lr_mult=0.1)}))
default_hooks = dict(logger=dict(interval=21))
