# Baseline for rarl_vgg16_voc07_640.py: the same VGG16 conv5_3 backbone, global
# average pooling and a linear multi-label (sigmoid) head, on the same VOC 2007
# input protocol (N = 640: 576 crops) and schedule, so the glimpse head is the
# only change. (vgg16_gap_voc07.py is the N = 512 one.)
_base_ = [
    '_base_/models/vgg16_gap.py',
    '_base_/datasets/voc07_rarl_640.py',
    '_base_/schedules/rarl_adam.py',
    '_base_/default_runtime.py',
]
