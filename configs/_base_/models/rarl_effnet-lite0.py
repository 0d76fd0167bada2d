# RARL on EfficientNet-Lite0's 1280-channel head map (stride 32, 14 x 14 at
# 448 px). The backbone here is the cached map (PrecomputedFeatureMap);
# configs/efficientnet_lite/rarl_effnet-lite0_voc07.py puts the real,
# frozen backbone in front. Each choice: configs/efficientnet_lite/README.md
# ('Choices').
model = dict(
    type='TenViewClassifier',
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
        # sigma: paper; the location network reads the map (chosen here:
        # the paper's tanh(W s) on a pooled state cannot know where this
        # image's objects are), as a Gaussian mixture over the cells whose
        # most probable cell is the test-time location (chosen here: the
        # centre of mass of a spread attention lies between objects), and
        # the cells near the earlier steps' locations are damped
        # (inhibition of return, chosen here: without it the five steps
        # stay on one spot)
        policy=dict(sigma=0.11, map_channels=1280, map_policy='mixture',
                    inhibition=dict(weight=5., radius=0.25)),
        # REINFORCE against the same image's reward under l = mu (chosen
        # here; paper: a learned baseline), with minus the classification
        # loss as the reward (chosen here; paper: top-K recall, which is 1.0
        # on the training set by epoch 9)
        baseline=dict(mode='self_critical'),
        reward=dict(kind='neg_loss'),
        loss_type='bce'),  # chosen here (paper: squared on the softmax)
    # the paper's ten-view test (five 384 crops of the 448 input and their
    # flips, taken on the map); test_cfg.mode='single' for one view
    test_cfg=dict(mode='ten_view', crop_size=384, feat_stride=32))
# random locations, no policy loss, for the first 126 iterations (2 epochs)
custom_hooks = [dict(type='PolicyGradientHook', warmup_iters=126)]
