# RARNN on EfficientNet-Lite0's 1280-channel head map (14 x 14 at 448 px,
# pooled to the paper's 7 x 7). The backbone here is the cached map
# (PrecomputedFeatureMap); configs/efficientnet_lite/rarnn_effnet-lite0_voc07.py
# puts the real, frozen backbone in front. Each choice:
# configs/efficientnet_lite/README.md ('Choices').
model = dict(
    type='TenViewClassifier',
    backbone=dict(type='PrecomputedFeatureMap', out_channels=1280, stride=32),
    neck=dict(
        type='RHNContextNeck',
        # a 1 x 1 conv + ReLU maps the 1280 channels to 256 first (chosen
        # here: the context extractor's dilated 3 x 3 conv on ten candidates
        # and the RHN's FC over C x 7 x 7 cost in proportion to C; a step
        # took 3.2 s at 1280, 1.5 s at 256)
        reduce_channels=256,
        in_channels=1280,
        # glimpse features 256 wide (paper: 512) to fit the CPU budget; the
        # deconvolution starts with larger weights (0.1, attention bias
        # 0.5) so that the ten candidates' attentions differ from the start
        rhn=dict(type='RHN', in_channels=256, feat_dims=256,
                 spatial_size=7, adaptive_pool=True, num_glimpses=10,
                 init_glimpse='image', deconv_std=0.1,
                 attention_bias_init=0.5),
        context=dict(type='ContextExtractor', in_channels=256,
                     branch_channels=128, dilation=2)),
    head=dict(
        type='GRREHead',
        num_classes=20,
        in_channels=256,  # the RHN's glimpse features
        context_channels=256,  # the two context branches
        relation_channels=256,
        num_samples=4,  # paper: K = 4
        # every 5th training image trains only the emission indicator, the
        # others only the classifier (chosen here): the head fits the images
        # it learns from (mAP 100 on them with every candidate), so a reward
        # read there never shows a misleading glimpse. With it the indicator
        # reads the glimpse's own log-probabilities, is credited glimpse by
        # glimpse, and is rewarded with minus the BCE of the test-time score
        # (the category-wise max) instead of Eq. 6, at 0.01 per emitted
        # glimpse. Ten-view mAP, seeds 0 / 1: 84.59 / 83.86, against 83.13 /
        # 83.06 without the hold-out and 83.71 / 83.34 with Eq. 6 and one
        # reward per sequence (the paper's; README.md here, fifth round)
        emission_holdout=5,
        reward_type='coverage',
        reward=dict(emit_cost=0.01),
        credit='per_glimpse',
        baseline_mode='none',
        emission=dict(score_dims=20),
        # Eq. 10 read as -log of the best GT label (paper open), plus the
        # image-level BCE on the category-wise max (chosen here: with Eq. 10
        # alone the ten candidates were copies)
        assignment='best_gt',
        coverage_weight=10.,
        advantage_norm='meanstd',  # not used with per-glimpse credit
        entropy_weight=0.01),
    # the ten-view test of RARL's protocol for all three Lite0 models (five
    # 384 crops of the 448 input and their flips, taken on the map);
    # test_cfg.mode='single' for one view
    test_cfg=dict(mode='ten_view', crop_size=384, feat_stride=32))
custom_hooks = [dict(type='PolicyGradientHook')]
