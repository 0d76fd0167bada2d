# RARL optimisation (paper): Adam, lr 1e-5, betas (0.9, 0.999), batch 16.
# Chosen here (the paper gives no schedule length or decay): 20 epochs, the
# lr divided by 10 after epoch 15.
# The location network and the baseline have their own lr multiplier (1 =
# the paper's single lr); raise it to speed the policy up.
optim_wrapper = dict(
    optimizer=dict(type='Adam', lr=1e-5, betas=(0.9, 0.999), weight_decay=0.),
    paramwise_cfg=dict(custom_keys={
        'head.loc_net': dict(lr_mult=1.),
        'head.baseline': dict(lr_mult=1.),
    }))
param_scheduler = [dict(type='MultiStepLR', by_epoch=True, milestones=[15],
                        gamma=0.1)]
train_cfg = dict(by_epoch=True, max_epochs=20, val_interval=5)
val_cfg = dict()
test_cfg = dict()
# the paper's batch: 16 images in all (e.g. 1 GPU x 16 or 2 x 8)
auto_scale_lr = dict(base_batch_size=16)
