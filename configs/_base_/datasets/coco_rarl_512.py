# MS-COCO 2014 on the RARL input protocol (Chen et al., AAAI 2018), N = 512:
# train on train2014, test on val2014 (paper); images without any label are
# dropped from both (82,081 / 40,137 images, the paper's counts); crowd
# annotations count as labels (default chosen here). Train: resize N x N,
# random (N-64) crop, flip; test: resize N x N, centre (N-64) crop.
# Metrics: CP/CR/CF1/OP/OR/OF1 with the top-3 labels, dropping labels below
# probability 0.1 (paper), and mAP (non-interpolated, default chosen here).
data_root = 'data/coco'  # <- the one value to change

dataset_type = 'COCOMultiLabel'
image_size = 512  # N
crop_size = 448  # N - 64
# the one number of classes: the data preprocessor's and (via
# marl_mm.utils.apply_num_classes in MarlRunner) the head's
num_classes = 80
data_preprocessor = dict(
    num_classes=num_classes,
    mean=[123.675, 116.28, 103.53],  # ImageNet, RGB
    std=[58.395, 57.12, 57.375],
    to_rgb=True,
    to_onehot=True,
)

train_pipeline = [
    dict(type='CheckedLoadImageFromFile'),
    dict(type='Resize', scale=(image_size, image_size)),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='CheckedLoadImageFromFile'),
    dict(type='Resize', scale=(image_size, image_size)),
    dict(type='CenterCrop', crop_size=crop_size),
    dict(type='PackInputs'),
]
# The whole N x N image, for TenViewClassifier (crops on the feature map).
tenview_test_pipeline = [
    dict(type='CheckedLoadImageFromFile'),
    dict(type='Resize', scale=(image_size, image_size)),
    dict(type='PackInputs'),
]

train_dataloader = dict(
    batch_size=16,  # paper
    num_workers=2,
    # fresh workers each epoch, seeded from the (resumable) main generator:
    # exact resume, new augmentation every epoch (resumable_worker_init_fn)
    persistent_workers=False,
    worker_init_fn=dict(type='resumable_worker_init_fn'),
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='annotations/instances_train2014.json',
        data_prefix=dict(img_path='train2014'),
        crowd='include',
        keep_empty=False,
        pipeline=train_pipeline),
)
val_dataloader = dict(
    batch_size=16,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='annotations/instances_val2014.json',
        data_prefix=dict(img_path='val2014'),
        crowd='include',
        keep_empty=False,
        test_mode=True,
        pipeline=test_pipeline),
)
test_dataloader = val_dataloader

val_evaluator = [
    dict(type='MultiLabelTopKMetric', topk=3, thr=0.1),
    dict(type='MultiLabelAP', mode='noninterp'),
]
test_evaluator = val_evaluator
