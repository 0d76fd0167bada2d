# RARL on VOC 2007 (trainval -> test), N = 512: 448 crops, anchors of
# 80^2 / 160^2 / 320^2 px, T = 5. Paper: 91.3 mAP ten-view (this config's
# test is single-view; ten-view: TenViewClassifier).
_base_ = [
    '_base_/models/rarl_vgg16.py',
    '_base_/datasets/voc07_rarl_512.py',
    '_base_/schedules/rarl_adam.py',
    '_base_/default_runtime.py',
]
