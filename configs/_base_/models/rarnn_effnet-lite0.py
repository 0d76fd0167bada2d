# RARNN on EfficientNet-Lite0's 1280-channel head map (14 x 14 at 448 px,
# pooled to the paper's 7 x 7). The backbone here is the cached map
# (PrecomputedFeatureMap); configs/efficientnet_lite/rarnn_effnet-lite0_voc07.py
# puts the real, frozen backbone in front. Each choice:
# configs/efficientnet_lite/README.md ('Choices').
model = dict(
    type='ImageClassifier',
    backbone=dict(type='PrecomputedFeatureMap', out_channels=1280, stride=32),
    neck=dict(
        type='RHNContextNeck',
        # the RHN's FC reads the whole C x 7 x 7 map (62,720 inputs); glimpse
        # features 256 wide (paper: 512) to fit the CPU budget
        rhn=dict(type='RHN', in_channels=1280, feat_dims=256,
                 spatial_size=7, adaptive_pool=True, num_glimpses=10,
                 init_glimpse='image'),
        context=dict(type='ContextExtractor', in_channels=1280,
                     branch_channels=256, dilation=2)),
    head=dict(
        type='GRREHead',
        num_classes=20,
        in_channels=256,  # the RHN's glimpse features
        context_channels=512,
        relation_channels=256,
        num_samples=4,  # paper: K = 4
        reward=dict(pos_reward=1., neg_penalty=0.1, empty_penalty=10.,
                    emit_cost=0.1),
        baseline_mode='learned',  # paper
        advantage_norm='meanstd',
        entropy_weight=0.01))
custom_hooks = [dict(type='PolicyGradientHook')]
