# RARL ten-view test at N = 512 (Chen et al., AAAI 2018; docs/method.md "Test
# protocol"): the whole image resized to 512 x 512 (no centre crop), five
# 448 x 448 crops (corners + centre) and their flips taken on the backbone's
# feature map, probabilities averaged (TenViewClassifier).
#
# mmengine refuses the same key in two bases, so this file only defines
# ten_view_* values and the leaf config applies them:
#
#   _base_ = ['./rarl_vgg16_voc07.py', './_base_/tta/ten_view_512.py']
#   model = _base_.ten_view_model
#   test_dataloader = _base_.ten_view_test_dataloader
#
# 'model' merges into the base model (type and test_cfg change; backbone,
# neck, head and data_preprocessor stay); the test pipeline list replaces the
# base one. Set val_dataloader the same way to validate with ten views.
ten_view_size = 512
ten_view_model = dict(
    type='TenViewClassifier',
    test_cfg=dict(mode='ten_view', crop_size=448))
ten_view_test_pipeline = [
    dict(type='CheckedLoadImageFromFile'),
    dict(type='Resize', scale=(512, 512)),
    # gt_label_difficult (VOC) must reach the AP metrics, which ignore those
    # labels; PackInputs skips keys a dataset does not provide.
    dict(
        type='PackInputs',
        meta_keys=('sample_idx', 'img_path', 'ori_shape', 'img_shape',
                   'scale_factor', 'flip', 'flip_direction',
                   'gt_label_difficult')),
]
ten_view_test_dataloader = dict(dataset=dict(pipeline=ten_view_test_pipeline))
