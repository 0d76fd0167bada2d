# Quick start for RARL on a CPU: the generated shapes data (~128 px images),
# a ResNet-18 from scratch cut after its third stage (stride 16, 256
# channels, an 8 x 8 map), T = 3 steps of 9 anchors sized for 128 px inputs,
# a small LSTM, and the sigmoid BCE loss (learns from random init; the paper
# uses 'squared' on a pretrained VGG16).
# Results (mAP, time, policy report): configs/README.md, 'Quick starts'.
#   python tools/dataset_converters/generate_shapes.py
#   python tools/train.py configs/rarl_resnet18_shapes.py
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
    head=dict(
        type='LSTMGlimpseHead',
        num_classes={{_base_.num_classes}},
        in_channels=256,
        feat_stride=16,
        num_steps=3,
        anchor_sizes=(24, 48, 96),
        embed_dims=256,
        hidden_dims=256,
        policy=dict(sigma=0.22),
        baseline=dict(hidden_dims=64),
        loss_type='bce'))
# the semantic FC (fan-in 12,544) and the location network at 1e-5 (the
# paper's rate), the rest at the schedule's 1e-3: at 1e-3 Adam kills the
# FC's units and drives the locations into the border (docs/rarl.md)
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={
    'head.embed': dict(lr_mult=0.01),
    'head.loc_net': dict(lr_mult=0.01)}))
# 2 epochs of classifier warm-up (docs/rarl.md)
custom_hooks = [dict(type='PolicyGradientHook', warmup_iters=38)]
default_hooks = dict(logger=dict(interval=5))
