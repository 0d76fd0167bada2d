# The generated quick-start data (tools/dataset_converters/generate_shapes.py
# writes data/shapes: 300 train / 100 val images of 128 x 128, 8 classes of
# small coloured shapes, 1-3 per image). Not a paper protocol: flip only,
# no crop (a crop could cut a shape out and leave a wrong label).
# Metrics: mAP (non-interpolated) and CP/CR/CF1/OP/OR/OF1 with the top-3
# labels above probability 0.1 (as the RARL COCO protocol).
data_root = 'data/shapes'  # <- the one value to change

# marl_mm's checked reader of mmpretrain's generic format: json as
# mmpretrain's MultiLabelDataset, but a .pkl / .yaml ann_file is read without
# running code from it, and every entry is checked.
dataset_type = 'CheckedMultiLabelDataset'
image_size = 128  # the generator's --size
# the one number of classes: the data preprocessor's and (via
# marl_mm.utils.apply_num_classes in MarlRunner) the head's
num_classes = 8
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
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='CheckedLoadImageFromFile'),
    dict(type='Resize', scale=(image_size, image_size)),
    dict(type='PackInputs'),
]

train_dataloader = dict(
    batch_size=16,
    num_workers=2,
    # fresh workers each epoch, seeded from the (resumable) main generator:
    # exact resume, new augmentation every epoch (resumable_worker_init_fn)
    persistent_workers=False,
    worker_init_fn=dict(type='resumable_worker_init_fn'),
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='train.json',
        data_prefix=dict(img_path='images'),
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
        ann_file='val.json',
        data_prefix=dict(img_path='images'),
        test_mode=True,
        pipeline=test_pipeline),
)
test_dataloader = val_dataloader

val_evaluator = [
    dict(type='MultiLabelTopKMetric', topk=3, thr=0.1),
    dict(type='MultiLabelAP', mode='noninterp'),
]
test_evaluator = val_evaluator
