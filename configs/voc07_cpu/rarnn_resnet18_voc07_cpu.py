# Reduced CPU comparison on real VOC 2007 images, from random init: RARNN
# (RHN with T = 10 candidate glimpses, paper; emission indicator with K = 4
# samples; context extractor; GRRE) on the same ResNet-18 stage-3 map as
# resnet18_gap_voc07_cpu.py (stride 16, 256 channels, 8 x 8 at 128 px),
# same data and schedule, narrower layers (256) than the paper's 512 to
# match the backbone. No backbone freeze: nothing pretrained to keep.
#   python tools/train.py configs/voc07_cpu/rarnn_resnet18_voc07_cpu.py
# Results: configs/voc07_cpu/README.md.
_base_ = [
    '../_base_/datasets/voc07_cpu_128.py',
    '../_base_/schedules/cpu_adam_4e.py',
    '../_base_/default_runtime.py',
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
                 num_glimpses=10),
        context=dict(type='ContextExtractor', in_channels=256,
                     branch_channels=128)),
    head=dict(
        type='GRREHead',
        num_classes=20,
        in_channels=256,
        context_channels=256,
        relation_channels=256,
        num_samples=4,
        # the paper's Eq. 6 and a cost of 0.1 per emitted glimpse, as the
        # VGG16 configs (chosen here; EmissionReward docstring)
        reward=dict(neg_penalty=0.1, emit_cost=0.1),
        baseline_hidden=64))
custom_hooks = [dict(type='PolicyGradientHook')]
default_hooks = dict(logger=dict(interval=25))
