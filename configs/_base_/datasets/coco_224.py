# MS-COCO 2014 on the RARNN protocol (Li et al., ACM MM 2018): train on
# train2014, test on all 40,504 val2014 images (paper's count: unlabelled
# val images are kept with an empty target; unlabelled training images are
# dropped, 82,081 of the paper's 82,783, since the losses normalise the
# target). Train resize 256 x 256, random 224 crop, flip; test resize 256 x
# 256, centre 224 crop (default chosen here). Metrics: P_L/R_L/F_L and
# P_I/R_I/F_I with the top-3 labels (paper), and mAP (non-interpolated).
data_root = 'data/coco'  # <- the one value to change

dataset_type = 'COCOMultiLabel'
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
    dict(type='Resize', scale=(256, 256)),
    dict(type='RandomCrop', crop_size=224),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='CheckedLoadImageFromFile'),
    dict(type='Resize', scale=(256, 256)),
    dict(type='CenterCrop', crop_size=224),
    dict(type='PackInputs'),
]

train_dataloader = dict(
    batch_size=64,  # paper
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
    batch_size=64,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='annotations/instances_val2014.json',
        data_prefix=dict(img_path='val2014'),
        crowd='include',
        keep_empty=True,
        test_mode=True,
        pipeline=test_pipeline),
)
test_dataloader = val_dataloader

val_evaluator = [
    dict(type='MultiLabelTopKMetric', topk=3),
    dict(type='MultiLabelAP', mode='noninterp'),
]
test_evaluator = val_evaluator
