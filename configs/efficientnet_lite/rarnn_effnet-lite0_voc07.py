# The model of rarnn_effnet-lite0_voc07_cached.py on images: the frozen,
# ImageNet-pretrained EfficientNet-Lite0 in front of the same RARNN neck and
# head, for testing, inference and drawings on images. A checkpoint trained on
# the cache holds the head only; attach the backbone once with
#   python tools/misc/attach_backbone.py \
#       configs/efficientnet_lite/rarnn_effnet-lite0_voc07.py \
#       work_dirs/rarnn_effnet-lite0_voc07_cached/epoch_12.pth rarnn_lite0.pth
# and use rarnn_lite0.pth with tools/test.py, demo/image_demo.py or
# tools/visualization/vis_glimpses.py.
_base_ = [
    '../_base_/models/rarnn_effnet-lite0.py',
    '../_base_/models/effnet-lite0_frozen.py',
    '../_base_/datasets/voc07_lite_448.py',
    '../_base_/schedules/cached_adam_12e.py',
    '../_base_/default_runtime.py',
]
# as in rarnn_effnet-lite0_voc07_cached.py
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={
    'neck.reduce': dict(lr_mult=0.1), 'neck.rhn.fc': dict(lr_mult=0.01),
    'neck.rhn.deconv': dict(lr_mult=1.0)}))
# one view, so that predictions carry the glimpses the drawings show; the
# table's ten-view figures on images: tools/test.py with
#   --cfg-options model.test_cfg.mode=ten_view
model = dict(
    test_cfg=dict(mode='single'),
    backbone=_base_.lite0_frozen_backbone)
