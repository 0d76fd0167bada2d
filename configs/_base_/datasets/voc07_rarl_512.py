# PASCAL VOC 2007 on the RARL input protocol (Chen et al., AAAI 2018), N = 512:
# train: resize to N x N, random (N-64) crop, horizontal flip (paper);
# test: resize to N x N, centre (N-64) crop (single view; ten-view testing
# uses tenview_test_pipeline). Train on trainval, test on test (paper);
# per-class AP, 11-point as the VOC 2007 devkit, difficult labels ignored.
data_root = 'data/VOCdevkit/VOC2007'  # <- the one value to change

dataset_type = 'StrictVOC'  # mmpretrain's VOC, but unknown class names raise
image_size = 512  # N
crop_size = 448  # N - 64
# the one number of classes: the data preprocessor's and (via
# marl_mm.utils.apply_num_classes in MarlRunner) the head's
num_classes = 20
data_preprocessor = dict(
    num_classes=num_classes,
    mean=[123.675, 116.28, 103.53],  # ImageNet, RGB
    std=[58.395, 57.12, 57.375],
    to_rgb=True,
    to_onehot=True,  # multi-hot gt_score for the heads
)
# gt_label_difficult reaches the AP metric, which ignores those labels.
meta_keys = ('sample_idx', 'img_path', 'ori_shape', 'img_shape',
             'scale_factor', 'flip', 'flip_direction', 'gt_label_difficult')

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
    dict(type='PackInputs', meta_keys=meta_keys),
]
# The whole N x N image, for TenViewClassifier (crops on the feature map).
tenview_test_pipeline = [
    dict(type='CheckedLoadImageFromFile'),
    dict(type='Resize', scale=(image_size, image_size)),
    dict(type='PackInputs', meta_keys=meta_keys),
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
        split='trainval',
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
        split='test',
        test_mode=True,
        pipeline=test_pipeline),
)
test_dataloader = val_dataloader

val_evaluator = dict(type='MultiLabelAP', mode='voc07_11point')
test_evaluator = val_evaluator
