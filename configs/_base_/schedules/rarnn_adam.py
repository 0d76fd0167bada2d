# RARNN optimisation (Li et al., ACM MM 2018, Sec. 4.1): Adam, lr 1e-3,
# betas (0.8, 0.999), lr x0.1 every 10 epochs (paper); batch 64 (paper, set
# in the 224 data configs); the VGG16 backbone fixed for the first 20 epochs,
# then fine-tuned at lr 1e-5 (paper). Total length: 30 epochs (default chosen
# here: the paper gives none; 10 epochs of fine-tuning after the freeze).
#
# The freeze is BackboneFreezeHook (a function of runner.epoch only, so a
# resumed run freezes exactly as the uninterrupted one; nothing in the
# checkpoint). The staircase (milestones 10, 20) puts the base lr at 1e-5
# when the backbone is released at epoch 20, so the backbone's lr_mult is 1
# and it fine-tunes at the paper's 1e-5 (the head continues at 1e-5 too).
# If freeze_epochs is changed, set the backbone lr_mult so that
# lr_mult * scheduled lr = 1e-5.
#
# The GAP baselines on this schedule freeze their backbone the same way (like
# for like). RARNN leaf configs append the PolicyGradientHook with
#   custom_hooks = _base_.custom_hooks + [dict(type='PolicyGradientHook')]
optim_wrapper = dict(
    optimizer=dict(type='Adam', lr=1e-3, betas=(0.8, 0.999), weight_decay=0.),
    paramwise_cfg=dict(custom_keys={'backbone': dict(lr_mult=1.)}))
param_scheduler = [dict(type='MultiStepLR', by_epoch=True,
                        milestones=[10, 20], gamma=0.1)]
train_cfg = dict(by_epoch=True, max_epochs=30, val_interval=5)
val_cfg = dict()
test_cfg = dict()
custom_hooks = [dict(type='BackboneFreezeHook', freeze_epochs=20)]
# DDP sees the frozen backbone's parameters as unused for 20 epochs
model_wrapper_cfg = dict(type='MMDistributedDataParallel',
                         find_unused_parameters=True)
# the paper's batch: 64 images in all (e.g. 1 GPU x 64 or 4 x 16)
auto_scale_lr = dict(base_batch_size=64)
