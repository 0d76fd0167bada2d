# RARL on cached EfficientNet-Lite0 maps (frozen, ImageNet weights; the
# 1280-channel head conv at stride 32, 14 x 14 at 448 px): T = 5 steps of
# 9 anchors (paper), sigma 0.11 (paper), the paper's anchor areas scaled
# from a 512 to a 448 input. Same cache, schedule and evaluation as
# gap_effnet-lite0_voc07_cached.py. Choices and their measurements:
# configs/efficientnet_lite/README.md.
_base_ = [
    '../_base_/datasets/voc07_lite0_448_cached.py',
    '../_base_/schedules/cached_adam_12e.py',
    '../_base_/default_runtime.py',
]
model = dict(
    type='ImageClassifier',
    backbone=dict(type='PrecomputedFeatureMap', out_channels=1280, stride=32),
    head=dict(
        type='LSTMGlimpseHead',
        num_classes=20,
        in_channels=1280,
        feat_stride=32,
        num_steps=5,
        anchor_sizes=(70, 140, 280),
        anchor_ratios=(2., 1., 0.5),
        roi_size=3,
        embed_dims=512,
        hidden_dims=512,
        sigma=0.11,
        loss_type='bce',
        baseline_hidden=128))
custom_hooks = [dict(type='PolicyGradientHook', warmup_iters=126)]
default_hooks = dict(logger=dict(interval=21))
