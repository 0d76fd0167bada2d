# RARNN (Li et al., ACM MM 2018): VGG16 with pool5 (224 px input -> V_I of
# 512 x 7 x 7; mmpretrain's public VGG16 ImageNet checkpoint) -> RHNContextNeck
# (recurrent highlight network, T = 10 candidate glimpses, Eqs. 1-2, and the
# context extractor on each) -> GRREHead (emission indicator with K = 4
# Bernoulli samples, GRRE of Eqs. 7-8, prediction Eq. 9, loss Eq. 10,
# REINFORCE with the reward of Eq. 6 and a learned value baseline).
#
# Settings the paper gives are marked "paper"; the others are the defaults
# chosen here (docs/method.md). Ablations (Table 1) are in configs/ablations/.
# The BackboneFreezeHook comes with the schedule (_base_/schedules/
# rarnn_adam.py); leaf configs append the PolicyGradientHook, which logs
# rl/reward, rl/emission_rate, rl/num_emitted, rl/advantage_abs, rl/entropy.
# 'safe:' (marl_mm's checkpoint scheme): read with weights_only=True and
# marl_mm's allowlist, not mmengine's plain torch.load.
pretrained = ('safe:https://download.openmmlab.com/mmclassification/v0/vgg/'
              'vgg16_batch256_imagenet_20210208-db26f1a5.pth')
model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='VGGFeatureMap',
        with_pool5=True,  # paper: V_I in R^{7 x 7 x 512}
        init_cfg=dict(type='Pretrained', checkpoint=pretrained,
                      prefix='backbone.')),
    neck=dict(
        type='RHNContextNeck',
        rhn=dict(
            type='RHN',
            in_channels=512,
            feat_dims=512,  # paper
            spatial_size=7,  # paper (224 input)
            num_glimpses=10,  # paper: T = 10
            init_glimpse='image'),  # X_0 = ReLU(FC(V_I)), chosen here
        context=dict(
            type='ContextExtractor',
            in_channels=512,
            branch_channels=256,  # paper: C_t in R^512
            dilation=2)),  # chosen here
    head=dict(
        type='GRREHead',
        num_classes=81,
        in_channels=512,
        context_channels=512,
        relation_channels=512,
        num_samples=4,  # paper: K = 4
        relation='grre',  # paper
        relation_init_std=0.1,  # paper: N(0, 0.1), biases 0
        assignment='soft',  # Eq. 10 for multi-label targets, chosen here
        # paper: R_+, R_-, R_e. emit_cost (chosen here; paper: 0): each
        # emitted glimpse costs 0.1, so a glimpse is worth emitting only if
        # it adds a label; with the paper's reward alone the indicator
        # drifts to "emit all" (docs/rarnn.md, 'Why `emit_cost`')
        reward=dict(pos_reward=1., neg_penalty=0.1, empty_penalty=10.,
                    emit_cost=0.1),
        baseline_mode='learned',  # paper (Eq. 5)
        # against emission collapse (chosen here; paper: 'none' and 0.)
        advantage_norm='meanstd',
        entropy_weight=0.01))
