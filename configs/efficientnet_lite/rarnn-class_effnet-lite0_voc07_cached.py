# RARNN on cached EfficientNet-Lite0 maps with the class attention: each
# glimpse looks where the class map of the classes its guide picks is high
# (README.md here, "Sixth round"; docs/rarnn.md, "Glimpses that look at the
# objects"). Everything else as rarnn_effnet-lite0_voc07_cached.py; the
# query and the class maps train at the schedule's rate (no custom key
# matches them). Not the shipped RARNN: its glimpses sit on the objects, but
# its mAP is lower (README.md here).
_base_ = [
    './rarnn_effnet-lite0_voc07_cached.py',
    '../_base_/models/rarnn-class_effnet-lite0.py',
]
model = dict(neck=dict(rhn=_base_.rarnn_class_rhn),
             head=_base_.rarnn_class_head)
