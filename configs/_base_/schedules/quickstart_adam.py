# A short CPU schedule for the generated quick-start shapes data: minutes on
# two cores, long enough to learn well above chance. Not a paper schedule.
optim_wrapper = dict(
    optimizer=dict(type='Adam', lr=1e-3, betas=(0.9, 0.999), weight_decay=0.))
param_scheduler = [dict(type='CosineAnnealingLR', by_epoch=True, T_max=6,
                        eta_min=1e-5)]
train_cfg = dict(by_epoch=True, max_epochs=6, val_interval=6)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(base_batch_size=16)
