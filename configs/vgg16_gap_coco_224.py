# Baseline for rarnn_vgg16_coco.py: VGG16 with pool5 (7 x 7 at 224), global
# average pooling and a linear multi-label head, on RARNN's input protocol,
# schedule (backbone frozen 20 epochs) and top-3 metrics. (vgg16_gap_coco.py
# is the RARL protocol's baseline, N = 512.)
_base_ = [
    '_base_/models/vgg16_gap.py',
    '_base_/datasets/coco_224.py',
    '_base_/schedules/rarnn_adam.py',
    '_base_/default_runtime.py',
]
model = dict(backbone=dict(with_pool5=True), head=dict(num_classes=80))
