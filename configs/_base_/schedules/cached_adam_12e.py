# The shared schedule of the EfficientNet-Lite cached-feature comparison
# (GAP, RARL, RARNN alike): Adam 1e-2 (the best of 1e-3 / 3e-3 / 1e-2 for
# GAP: 77.4 / 82.4 / 83.7 VOC07 mAP), cosine to 1e-5 over 12 epochs of
# the 2000-image split (batch 32: 63 iterations an epoch), validation every
# 4 epochs.
optim_wrapper = dict(
    optimizer=dict(type='Adam', lr=1e-2, betas=(0.9, 0.999), weight_decay=0.))
param_scheduler = [dict(type='CosineAnnealingLR', by_epoch=True, T_max=12,
                        eta_min=1e-5)]
train_cfg = dict(by_epoch=True, max_epochs=12, val_interval=4)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(base_batch_size=32)
