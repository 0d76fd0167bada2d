# The model of rarnn-class_effnet-lite0_voc07_cached.py on images (the frozen
# EfficientNet-Lite0 in front), for testing, inference and drawings; attach
# the backbone to a cached checkpoint as rarnn_effnet-lite0_voc07.py says.
_base_ = [
    './rarnn_effnet-lite0_voc07.py',
    '../_base_/models/rarnn-class_effnet-lite0.py',
]
model = dict(neck=dict(rhn=_base_.rarnn_class_rhn),
             head=_base_.rarnn_class_head)
