# RARL on COCO 2014, N = 640 (anchors 96^2 / 192^2 / 384^2 px).
_base_ = [
    '_base_/models/rarl_vgg16.py',
    '_base_/datasets/coco_rarl_640.py',
    '_base_/schedules/rarl_adam.py',
    '_base_/default_runtime.py',
]
model = dict(head=dict(num_classes=80, anchor_sizes=(96, 192, 384)))
val_evaluator = [
    dict(type='MultiLabelTopKMetric', topk=3, thr=0.1),
    dict(type='MultiLabelAP'),
]
test_evaluator = val_evaluator
