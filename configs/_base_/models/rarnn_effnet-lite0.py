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
        reward=dict(pos_reward=1., neg_penalty=0.1, empty_penalty=10.,
                    emit_cost=0.1),
        # Eq. 10 read as -log of the best GT label (paper open), plus the
        # image-level BCE on the category-wise max (chosen here: with Eq. 10
        # alone the ten candidates were copies)
        assignment='best_gt',
        coverage_weight=10.,
        # one reward for the sequence (paper); credit='per_glimpse' with
        # baseline_mode='none' emits 2.5-3.5 glimpses at test instead of
        # the fallback, but no better than a random choice of that size and
        # 0.7 mAP lower on the mean of two seeds (README.md here)
        credit='sequence',
        baseline_mode='learned',  # paper
        advantage_norm='meanstd',
        entropy_weight=0.01),
    # the ten-view test of RARL's protocol for all three Lite0 models (five
    # 384 crops of the 448 input and their flips, taken on the map);
    # test_cfg.mode='single' for one view
    test_cfg=dict(mode='ten_view', crop_size=384, feat_stride=32))
custom_hooks = [dict(type='PolicyGradientHook')]
