# RARL on COCO 2014 (train -> val), N = 512, 80 classes. Reported with the
# top-3 labels per image whose probability is >= 0.1 (CP, CR, CF1, OP, OR,
# OF1; paper, ten-view 512: CF1 65.6, OF1 70.5) and mAP.
_base_ = [
    '_base_/models/rarl_vgg16.py',
    '_base_/datasets/coco_rarl_512.py',
    '_base_/schedules/rarl_adam.py',
    '_base_/default_runtime.py',
]
model = dict(head=dict(num_classes=80))
val_evaluator = [
    dict(type='MultiLabelTopKMetric', topk=3, thr=0.1),
    dict(type='MultiLabelAP'),
]
test_evaluator = val_evaluator
