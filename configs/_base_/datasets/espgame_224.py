# ESP Game, 268 labels, TagProp split (about 18,689 train / 2,081 test), on
# the RARNN protocol (Li et al., ACM MM 2018), made by
# tools/dataset_converters/esp_game.py. Train resize 256 x 256, random 224
# crop, flip; test resize 256 x 256, centre 224 crop (default chosen here).
# Metrics: P_L/R_L/F_L and N+ with the top-5 labels (paper; P_I/R_I/F_I
# also reported), and mAP (non-interpolated).
data_root = 'data/espgame'  # <- the one value to change

dataset_type = 'ESPGame'
# the one number of classes: the data preprocessor's and (via
# marl_mm.utils.apply_num_classes in MarlRunner) the head's
num_classes = 268
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
        ann_file='annotations/espgame_train.json',
        data_prefix=dict(img_path='images'),
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
        ann_file='annotations/espgame_test.json',
        data_prefix=dict(img_path='images'),
        test_mode=True,
        pipeline=test_pipeline),
)
test_dataloader = val_dataloader

val_evaluator = [
    dict(type='MultiLabelTopKMetric', topk=5),
    dict(type='MultiLabelAP', mode='noninterp'),
]
test_evaluator = val_evaluator
