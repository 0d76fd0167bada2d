# RARL (Chen et al. AAAI 2018): VGG16 conv5_3 feature map (stride 16, no
# pool5; mmpretrain's public VGG16 ImageNet checkpoint) -> LSTMGlimpseHead
# (k = 9 anchors, T = 5 steps, Gaussian location policy sigma = 0.11,
# squared error on softmax + REINFORCE with a learned baseline). No neck.
# Anchor areas are for N = 512 (448 crops); the 640 configs override them.
# 'safe:' (marl_mm's checkpoint scheme): read with weights_only=True and
# marl_mm's allowlist, not mmengine's plain torch.load.
pretrained = ('safe:https://download.openmmlab.com/mmclassification/v0/vgg/'
              'vgg16_batch256_imagenet_20210208-db26f1a5.pth')
model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='VGGFeatureMap',
        with_pool5=False,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained,
                      prefix='backbone.')),
    head=dict(
        type='LSTMGlimpseHead',
        num_classes=20,
        in_channels=512,
        feat_stride=16,
        num_steps=5,
        anchor_sizes=(80, 160, 320),
        anchor_ratios=(2., 1., 0.5),
        policy=dict(sigma=0.11),
        baseline=dict(mode='learned'),
        loss_type='squared',  # paper; 'bce' learns better from random init
        lambda_pg=1.,
        lambda_b=1.))
# The head's reinforcement statistics (rl/reward, rl/loc_spread, ...) are
# logged, and sigma scheduled if asked, by the policy-gradient hook.
# warmup_iters: default chosen here (paper: none; docs/rarl.md): the first
# 500 iterations (~1.6 VOC epochs at batch 16) look at uniform random
# locations with no policy loss, so the classifier learns to read glimpses
# before REINFORCE starts; without it the main model's policy does not
# learn from random init (docs/rarl.md, 'The fix (new defaults)')
custom_hooks = [dict(type='PolicyGradientHook', warmup_iters=500)]
