# The model of rarl_effnet-lite0_voc07_cached.py on images: the frozen,
# ImageNet-pretrained EfficientNet-Lite0 in front of the same RARL head,
# for testing, inference and drawings on images. A checkpoint trained on
# the cache holds the head only; attach the backbone once with
#   python tools/misc/attach_backbone.py \
#       configs/efficientnet_lite/rarl_effnet-lite0_voc07.py \
#       work_dirs/rarl_effnet-lite0_voc07_cached/epoch_12.pth rarl_lite0.pth
# and use rarl_lite0.pth with tools/test.py, demo/image_demo.py or
# tools/visualization/vis_glimpses.py.
_base_ = [
    '../_base_/models/rarl_effnet-lite0.py',
    '../_base_/models/effnet-lite0_frozen.py',
    '../_base_/datasets/voc07_lite_448.py',
    '../_base_/schedules/cached_adam_12e.py',
    '../_base_/default_runtime.py',
]
# semantic FC and location network at 0.1 x the schedule's rate (1e-3;
# chosen here: at the paper's 1e-5, and at 1e-4 or 3e-4, the map-reading
# location network stays near the centre for every image)
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={
    'head.embed': dict(lr_mult=0.1), 'head.loc_net': dict(lr_mult=0.1)}))
# one view, so that predictions carry the glimpses the drawings show; the
# table's ten-view figures on images: tools/test.py with
#   --cfg-options model.test_cfg.mode=ten_view
model = dict(
    test_cfg=dict(mode='single'),
    backbone=_base_.lite0_frozen_backbone)
