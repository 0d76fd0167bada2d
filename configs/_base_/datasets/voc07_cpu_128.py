# A reduced VOC 2007 protocol for CPU comparisons (not a paper protocol):
# the RARL input recipe scaled down - resize to 144 x 144, random 128 crop
# and flip for training; resize 144, centre 128 crop for testing - on a
# seeded 2000 / 500 split of one official VOC split, made by
#   python tools/dataset_converters/make_voc_split.py \
#       path/to/VOCdevkit/VOC2007 work_dirs/voc_split
# (run from the repository root). AP as the VOC 2007 devkit (11-point,
# difficult labels ignored) plus the non-interpolated AP, and the top-3
# P/R/F1 table.
# data_root below is the team's development data folder beside the
# checkout (official VOC 2007 `train` images only); point it at your own
# VOCdevkit/VOC2007 copy (<- change).
data_root = '../shared/data/voc2007_train/VOCdevkit/VOC2007'  # <- change
split_dir = '{{ fileDirname }}/../../../work_dirs/voc_split'  # <- change

dataset_type = 'StrictVOC'
image_size = 144
crop_size = 128
# the one number of classes: the data preprocessor's and (via
# marl_mm.utils.apply_num_classes in MarlRunner) the head's
num_classes = 20
data_preprocessor = dict(
    num_classes=num_classes,
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    to_rgb=True,
    to_onehot=True,
)
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

train_dataloader = dict(
    batch_size=16,
    num_workers=1,
    # fresh workers each epoch, seeded from the (resumable) main generator:
    # exact resume, new augmentation every epoch (resumable_worker_init_fn)
    persistent_workers=False,
    worker_init_fn=dict(type='resumable_worker_init_fn'),
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='',
        image_set_path=split_dir + '/sub_train.txt',
        pipeline=train_pipeline),
)
val_dataloader = dict(
    batch_size=32,
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='',
        image_set_path=split_dir + '/sub_val.txt',
        test_mode=True,
        pipeline=test_pipeline),
)
test_dataloader = val_dataloader

val_evaluator = [
    dict(type='MultiLabelAP', mode='voc07_11point'),
    dict(type='MultiLabelAP', mode='noninterp'),
    # RARL's table (top-3 above 0.1) and RARNN's (top-3, no threshold)
    dict(type='MultiLabelTopKMetric', topk=3, thr=0.1, naming='rarl'),
    dict(type='MultiLabelTopKMetric', topk=3, naming='rarnn',
         prefix='top3'),
]
test_evaluator = val_evaluator
