# A short CPU schedule for like-for-like comparisons from random init
# (not a paper schedule): Adam 1e-3, cosine to 1e-5 over 4 epochs,
# validation every 2 epochs.
optim_wrapper = dict(
    optimizer=dict(type='Adam', lr=1e-3, betas=(0.9, 0.999), weight_decay=0.))
param_scheduler = [dict(type='CosineAnnealingLR', by_epoch=True, T_max=4,
                        eta_min=1e-5)]
train_cfg = dict(by_epoch=True, max_epochs=4, val_interval=2)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(base_batch_size=16)
