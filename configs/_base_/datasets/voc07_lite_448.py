# VOC 2007 at 448 x 448 with ImageNet normalisation, for the pretrained
# EfficientNet-Lite configs, on a seeded 2000 / 500 split of one official
# VOC split, made by
#   python tools/dataset_converters/make_voc_split.py \
#       path/to/VOCdevkit/VOC2007 work_dirs/voc_split
# (data_root comes from voc07_cpu_128.py: the team's development data
# folder; point it at your own VOCdevkit/VOC2007 copy there.)
# Training: resize to 512, random 448 crop, flip; testing: the whole image
# resized to 448 x 448 (what tools/misc/extract_feature_maps.py caches).
_base_ = ['./voc07_cpu_128.py']

image_size = 448
crop_size = image_size  # the input size (voc07_cpu_128.py has 128)
train_pipeline = [
    dict(type='CheckedLoadImageFromFile'),
    dict(type='Resize', scale=(512, 512)),
    dict(type='RandomCrop', crop_size=image_size),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='CheckedLoadImageFromFile'),
    dict(type='Resize', scale=(image_size, image_size)),
    dict(type='PackInputs', meta_keys={{_base_.meta_keys}}),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
