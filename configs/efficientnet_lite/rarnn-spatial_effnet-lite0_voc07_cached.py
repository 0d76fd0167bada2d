# RARNN on cached EfficientNet-Lite0 maps with the fourth round's options
# (README.md here, "Fourth round"; docs/rarnn.md, "Candidates that look at
# the objects"): a content attention over the cells guided by Eq. 1 with
# inhibition of return and a cell-shared read-out, an indicator that also
# reads its glimpse's log-probabilities, and the coverage reward with
# per-glimpse credit. Measured: ten-view mAP 83.92 / 81.14 (seeds 0 / 1),
# below rarnn_effnet-lite0_voc07_cached.py; not the shipped model, kept so
# that the row can be reproduced and built on.
_base_ = ['./rarnn_effnet-lite0_voc07_cached.py']
model = dict(
    neck=dict(rhn=dict(attention='spatial', key_dims=64,
                       inhibition_weight=5., glimpse_pool='attention')),
    head=dict(credit='per_glimpse', baseline_mode='none',
              reward_type='coverage',
              reward=dict(_delete_=True, emit_cost=0.002),
              # measured without the hold-out the shipped RARNN now uses
              emission_holdout=0,
              emission=dict(score_dims=20)))
# the read-out (256 -> 256), the query and the key at 0.1 x (at 1 x the
# attention is sharper and the mAP 2.5 points lower)
optim_wrapper = dict(paramwise_cfg=dict(_delete_=True, custom_keys={
    'neck.reduce': dict(lr_mult=0.1), 'neck.rhn.fc': dict(lr_mult=0.1),
    'neck.rhn.query': dict(lr_mult=0.1), 'neck.rhn.key': dict(lr_mult=0.1)}))
