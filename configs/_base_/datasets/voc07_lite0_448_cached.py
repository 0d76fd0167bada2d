# VOC 2007 (the seeded 2000 / 500 split of voc07_cpu_128.py) as EfficientNet-
# Lite0 feature maps cached once: the 1280-channel head conv of the frozen,
# ImageNet-pretrained backbone on the whole image at 448 x 448 (14 x 14,
# stride 32). Make the cache (about 12 minutes on 2 cores) with
#   python tools/misc/extract_feature_maps.py \
#       configs/efficientnet_lite/effnet-lite0_gap_voc07.py \
#       work_dirs/cache/effnet-lite0_voc07_448
# Training flips the maps horizontally; nothing else (docs/pretrained.md:
# what this loses against training on images).
_base_ = ['./voc07_cpu_128.py']

cache_dir = '{{ fileDirname }}/../../../work_dirs/cache/effnet-lite0_voc07_448'  # noqa: E501  <- change
dataset_type = 'CachedFeatureMaps'
crop_size = 448  # the input size of the cached maps (voc07_cpu_128.py: 128)
# the maps are network activations: no mean / std, no channel swap
# the one number of classes: the data preprocessor's and (via
# marl_mm.utils.apply_num_classes in MarlRunner) the head's
num_classes = 20
data_preprocessor = dict(
    _delete_=True, num_classes=num_classes, to_onehot=True)
train_pipeline = [
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [dict(type='PackInputs', meta_keys={{_base_.meta_keys}})]
train_dataloader = dict(
    batch_size=32,
    dataset=dict(_delete_=True, type=dataset_type,
                 ann_file=cache_dir + '/train.json', pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=64,
    dataset=dict(_delete_=True, type=dataset_type,
                 ann_file=cache_dir + '/val.json', test_mode=True,
                 pipeline=test_pipeline))
test_dataloader = val_dataloader
