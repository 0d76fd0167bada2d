# Baseline for rarl_vgg16_coco.py (COCO 2014, N = 512, RARL schedule).
_base_ = [
    '_base_/models/vgg16_gap.py',
    '_base_/datasets/coco_rarl_512.py',
    '_base_/schedules/rarl_adam.py',
    '_base_/default_runtime.py',
]
model = dict(head=dict(num_classes=80))
