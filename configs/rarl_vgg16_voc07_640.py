# RARL on VOC 2007, N = 640: 576 crops, anchors of 96^2 / 192^2 / 384^2 px.
# Paper: 91.3 mAP ten-view; averaging with the 512 model gives 92.0.
_base_ = [
    '_base_/models/rarl_vgg16.py',
    '_base_/datasets/voc07_rarl_640.py',
    '_base_/schedules/rarl_adam.py',
    '_base_/default_runtime.py',
]
model = dict(head=dict(anchor_sizes=(96, 192, 384)))
