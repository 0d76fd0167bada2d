# RARNN on cached EfficientNet-Lite0 maps with the class attention: each
# glimpse looks where the class map of the classes its guide picks is high
# (README.md here, "Sixth round"; docs/rarnn.md, "Glimpses that look at the
# objects"). Everything else as rarnn_effnet-lite0_voc07_cached.py. Not the
# shipped RARNN: its glimpses sit on the objects and its indicator is ahead
# of a random emission, but its mAP is lower (README.md here).
_base_ = [
    './rarnn_effnet-lite0_voc07_cached.py',
    '../_base_/models/rarnn-class_effnet-lite0.py',
]
model = dict(neck=dict(rhn=_base_.rarnn_class_rhn),
             head=_base_.rarnn_class_head)
# the query and the class map at the schedule's rate (chosen here)
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={
    'neck.rhn.query': dict(lr_mult=1.0), 'neck.rhn.key': dict(lr_mult=1.0)}))
