# NUS-WIDE, 81 concepts, on the RARNN protocol (Li et al., ACM MM 2018): the
# split of Gong et al. 2013 (150,000 train / 59,347 test labelled images),
# made by tools/dataset_converters/nus_wide.py. Train resize 256 x 256,
# random 224 crop, flip; test resize 256 x 256, centre 224 crop (default
# chosen here). Metrics: P_L/R_L/F_L, P_I/R_I/F_I with the top-3 labels and
# N+ (paper), and mAP (non-interpolated).
data_root = 'data/nus-wide'  # <- the one value to change

dataset_type = 'NUSWIDE'
# the one number of classes: the data preprocessor's and (via
# marl_mm.utils.apply_num_classes in MarlRunner) the head's
num_classes = 81
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
        ann_file='annotations/nus_wide_train.json',
        data_prefix=dict(img_path='Flickr'),
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
        ann_file='annotations/nus_wide_test.json',
        data_prefix=dict(img_path='Flickr'),
        test_mode=True,
        pipeline=test_pipeline),
)
test_dataloader = val_dataloader

val_evaluator = [
    dict(type='MultiLabelTopKMetric', topk=3),
    dict(type='MultiLabelAP', mode='noninterp'),
]
test_evaluator = val_evaluator
