# RARNN on cached EfficientNet-Lite0 maps (frozen, ImageNet weights; the
# 1280-channel head conv, 14 x 14 at 448 px, the pool5 analogue): RHN with
# T = 10 candidate glimpses, emission indicator with K = 4 samples, context
# extractor, GRRE (paper). Same cache, schedule and evaluation as
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
    neck=dict(
        type='RHNContextNeck',
        # the 14 x 14 map average-pooled to 7 x 7 (the paper's pool5 size):
        # the RHN's FC reads the whole C x S x S map, 250,880 inputs at 14
        rhn=dict(type='RHN', in_channels=1280, feat_dims=512,
                 spatial_size=7, adaptive_pool=True, num_glimpses=10,
                 init_glimpse='image'),
        context=dict(type='ContextExtractor', in_channels=1280,
                     branch_channels=256, dilation=2)),
    head=dict(
        type='GRREHead',
        num_classes=20,
        in_channels=512,  # the RHN's glimpse features
        context_channels=512,
        relation_channels=512,
        num_samples=4,
        reward=dict(pos_reward=1., neg_penalty=0.1, empty_penalty=10.,
                    emit_cost=0.1),
        baseline_mode='learned',
        advantage_norm='meanstd',
        entropy_weight=0.01))
custom_hooks = [dict(type='PolicyGradientHook')]
default_hooks = dict(logger=dict(interval=21))
