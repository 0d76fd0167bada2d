# PASCAL VOC 2007 on the RARL input protocol, N = 640 (576 crops); the rest
# as voc07_rarl_512.py.
_base_ = ['./voc07_rarl_512.py']

image_size = 640  # N
crop_size = 576  # N - 64
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
    dict(type='PackInputs', meta_keys={{_base_.meta_keys}}),
]
tenview_test_pipeline = [
    dict(type='CheckedLoadImageFromFile'),
    dict(type='Resize', scale=(image_size, image_size)),
    dict(type='PackInputs', meta_keys={{_base_.meta_keys}}),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
