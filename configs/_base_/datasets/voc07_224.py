# PASCAL VOC 2007 at 224 x 224 (the RARNN input protocol, Li et al. ACM MM
# 2018: VGG16 with pool5 gives 7 x 7): train resize to 256 x 256, random 224
# crop, flip; test resize 256 x 256, centre 224 crop (default chosen here:
# the paper gives only the 224 input; a square resize keeps every object in
# view). Train on trainval, test on test; 11-point AP, difficult ignored.
data_root = 'data/VOCdevkit/VOC2007'  # <- the one value to change

dataset_type = 'StrictVOC'
# the one number of classes: the data preprocessor's and (via
# marl_mm.utils.apply_num_classes in MarlRunner) the head's
num_classes = 20
data_preprocessor = dict(
    num_classes=num_classes,
    mean=[123.675, 116.28, 103.53],  # ImageNet, RGB
    std=[58.395, 57.12, 57.375],
    to_rgb=True,
    to_onehot=True,
)
meta_keys = ('sample_idx', 'img_path', 'ori_shape', 'img_shape',
             'scale_factor', 'flip', 'flip_direction', 'gt_label_difficult')

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
    dict(type='PackInputs', meta_keys=meta_keys),
]

train_dataloader = dict(
    batch_size=64,  # RARNN
    num_workers=2,
    # fresh workers each epoch, seeded from the (resumable) main generator:
    # exact resume, new augmentation every epoch (resumable_worker_init_fn)
    persistent_workers=False,
    worker_init_fn=dict(type='resumable_worker_init_fn'),
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='trainval',
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
        split='test',
        test_mode=True,
        pipeline=test_pipeline),
)
test_dataloader = val_dataloader

# VOC 2007 11-point mAP, and RARNN's protocol: the top-3 labels of each
# image, no threshold (P_L, R_L, F_L, P_I, R_I, F_I)
val_evaluator = [
    dict(type='MultiLabelAP', mode='voc07_11point'),
    dict(type='MultiLabelTopKMetric', topk=3, naming='rarnn'),
]
test_evaluator = val_evaluator
