# RARL on EfficientNet-Lite0's 1280-channel head map (stride 32, 14 x 14 at
# 448 px). The backbone here is the cached map (PrecomputedFeatureMap);
# configs/efficientnet_lite/rarl_effnet-lite0_voc07.py puts the real,
# frozen backbone in front. Each choice: configs/efficientnet_lite/README.md
# ('Choices').
model = dict(
    type='ImageClassifier',
    backbone=dict(type='PrecomputedFeatureMap', out_channels=1280, stride=32),
    head=dict(
        type='LSTMGlimpseHead',
        num_classes=20,
        in_channels=1280,
        feat_stride=32,
        num_steps=5,  # paper
        anchor_sizes=(70, 140, 280),  # paper's (80, 160, 320) at 512 -> 448
        anchor_ratios=(2., 1., 0.5),  # paper
        roi_size=1,  # each region pooled to one vector (chosen here)
        sampling_ratio=4,
        embed_dims=512,
        hidden_dims=512,
        policy=dict(sigma=0.11),  # paper
        baseline=dict(hidden_dims=128),
        loss_type='bce'))  # chosen here (paper: squared on the softmax)
# random locations, no policy loss, for the first 126 iterations (2 epochs)
custom_hooks = [dict(type='PolicyGradientHook', warmup_iters=126)]
