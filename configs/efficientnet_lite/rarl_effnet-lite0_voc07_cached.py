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
        # each region average-pooled to one 1280-vector (4 x 4 bilinear
        # samples): 70.6 / 80.0 mAP at epoch 4 / 12 against 58-65 with 3 x 3
        # crops, whose 11,520-wide FC learns slowly (README.md here)
        roi_size=1,
        sampling_ratio=4,
        embed_dims=512,
        hidden_dims=512,
        sigma=0.11,
        loss_type='bce',
        baseline_hidden=128))
# the schedule's 1e-2 for the LSTM and classifier; the semantic FC at 1e-3
# and the location network at the paper's 1e-5 (at 1e-3 the locations ran
# into a corner within 7 epochs: README.md here)
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={
    'head.embed': dict(lr_mult=0.1), 'head.loc_net': dict(lr_mult=0.001)}))
# random locations and no policy loss for the first 2 epochs (126 iterations)
custom_hooks = [dict(type='PolicyGradientHook', warmup_iters=126)]
default_hooks = dict(logger=dict(interval=21))
