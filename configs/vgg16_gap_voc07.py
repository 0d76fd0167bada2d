# Baseline for rarl_vgg16_voc07.py: the same VGG16 conv5_3 backbone, global
# average pooling and a linear multi-label (sigmoid) head, on the same VOC 2007
# input protocol (N = 512) and schedule, so the glimpse head is the only change.
_base_ = [
    '_base_/models/vgg16_gap.py',
    '_base_/datasets/voc07_rarl_512.py',
    '_base_/schedules/rarl_adam.py',
    '_base_/default_runtime.py',
]
