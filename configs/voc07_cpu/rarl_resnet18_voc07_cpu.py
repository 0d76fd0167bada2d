# Reduced CPU comparison on real VOC 2007 images, from random init: RARL's
# LSTM glimpse head (T = 5 steps of 9 anchors, paper) on the same ResNet-18
# stage-3 map as resnet18_gap_voc07_cpu.py (stride 16, 256 channels, 8 x 8
# at 128 px), same data and schedule. Anchor areas scaled from the paper's
# (80, 160, 320) px per 448 px crop to a 128 px crop; the sigmoid BCE loss
# as the baseline (the paper's squared loss on the softmax does not learn
# from random init, docs/method.md "Known pitfalls").
#   python tools/train.py configs/voc07_cpu/rarl_resnet18_voc07_cpu.py
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
    head=dict(
        type='LSTMGlimpseHead',
        num_classes=20,
        in_channels=256,
        feat_stride=16,
        num_steps=5,
        anchor_sizes=(24, 48, 96),
        embed_dims=256,
        hidden_dims=256,
        baseline=dict(hidden_dims=64),
        loss_type='bce'))
# Learning rates per part (chosen here; docs/rarl.md "From random init on
# real images"): the backbone and the rest of the head at the schedule's
# 1e-3, but the semantic FC (fan-in 256 x 7 x 7 = 12,544) and the location
# network at 1e-5, the paper's rate. With Adam every weight moves ~lr a
# step whatever its gradient's size, so at 1e-3 the FC's pre-activations
# jumped by units per step: within 250 iterations 58% of its units were
# dead and the rest saturated the LSTM (val mAP 11.6, the label prior),
# and the location network's mean ran into the border in 25 iterations
# after the warm-up (tanh saturation, mean y = 0.96).
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={
    'head.embed': dict(lr_mult=0.01),
    'head.loc_net': dict(lr_mult=0.01)}))
# warmup_iters: random locations, no policy loss, for the first 100 of 500
# iterations: the classifier learns to read glimpses before REINFORCE starts
# (docs/rarl.md)
custom_hooks = [dict(type='PolicyGradientHook', warmup_iters=100)]
default_hooks = dict(logger=dict(interval=25))
