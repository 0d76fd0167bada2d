# Quick start for RARNN on a CPU: the generated shapes data (128 px images,
# 8 classes, 1-3 shapes each), a ResNet-18 from scratch cut after its third
# stage (stride 16, 256 channels, an 8 x 8 map: the RHN's spatial_size is set
# to match), T = 4 candidate glimpses, narrower RHN / context / GRRE (256),
# K = 4 emission samples, the paper's reward (R_+ 1, R_- 0.1, R_e 10). No
# backbone freeze (nothing pretrained to keep).
# Results (mAP, time, policy report): configs/README.md, 'Quick starts'.
#   python tools/dataset_converters/generate_shapes.py
#   python tools/train.py configs/rarnn_resnet18_shapes.py
# The GAP baseline on the same data and schedule: resnet18_gap_shapes.py.
_base_ = [
    '_base_/datasets/shapes_quickstart.py',
    '_base_/schedules/quickstart_adam.py',
    '_base_/default_runtime.py',
]
model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='FeatureMapWrapper',
        # 3 stages built, not 4 cut after the third (an unused layer4
        # costs time and breaks DDP)
        backbone=dict(type='ResNet', depth=18, num_stages=3,
                      strides=(1, 2, 2), dilations=(1, 1, 1),
                      out_indices=(2, )),
        out_index=-1),
    neck=dict(
        type='RHNContextNeck',
        rhn=dict(type='RHN', in_channels=256, feat_dims=256,
                 spatial_size=8,  # 128 px input / stride 16
                 num_glimpses=4),
        context=dict(type='ContextExtractor', in_channels=256,
                     branch_channels=128)),
    head=dict(
        type='GRREHead',
        num_classes={{_base_.num_classes}},
        in_channels=256,
        context_channels=256,
        relation_channels=256,
        num_samples=4,
        # the paper's Eq. 6 and a cost of 0.1 per emitted glimpse, as the
        # VGG16 configs (chosen here; EmissionReward docstring)
        reward=dict(neg_penalty=0.1, emit_cost=0.1),
        baseline_hidden=64))
custom_hooks = [dict(type='PolicyGradientHook')]
default_hooks = dict(logger=dict(interval=5))
