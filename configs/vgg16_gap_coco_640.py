# Baseline for rarl_vgg16_coco_640.py: the same VGG16 conv5_3 backbone, global
# average pooling and a linear multi-label (sigmoid) head, on the same COCO
# 2014 input protocol (N = 640: 576 crops), schedule and metrics (top-3 labels
# with probability >= 0.1: CP..OF1; mAP). (vgg16_gap_coco.py is the N = 512
# one.)
_base_ = [
    '_base_/models/vgg16_gap.py',
    '_base_/datasets/coco_rarl_640.py',
    '_base_/schedules/rarl_adam.py',
    '_base_/default_runtime.py',
]
model = dict(head=dict(num_classes=80))
val_evaluator = [
    dict(type='MultiLabelTopKMetric', topk=3, thr=0.1),
    dict(type='MultiLabelAP'),
]
test_evaluator = val_evaluator
