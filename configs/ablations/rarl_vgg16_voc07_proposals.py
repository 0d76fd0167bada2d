# Ablation on VOC 2007, N = 512: proposal regions instead of attention
# (paper Table 3: 88.6 single-view 512, top-5 EdgeBox proposals after NMS
# 0.7). Stand-in proposals (EdgeBoxes' model file is not available here):
#   python tools/misc/generate_proposals.py \
#       data/VOCdevkit/VOC2007/JPEGImages data/voc07_proposals.json
# Step t of the T = 5 steps looks at the t-th best proposal (one region per
# step, no location policy: default chosen here). LoadProposals maps the
# boxes through Resize / CenterCrop / RandomFlip; it cannot follow a random
# crop, so this ablation trains on centre crops (departure, documented).
_base_ = ['../rarl_vgg16_voc07.py']
proposal_file = 'data/voc07_proposals.json'  # <- the one value to change

model = dict(head=dict(region_source='proposals', num_steps=5))

image_size, crop_size = 512, 448  # N, N - 64 as the base config
meta_keys = ('sample_idx', 'img_path', 'ori_shape', 'img_shape',
             'scale_factor', 'flip', 'flip_direction', 'gt_label_difficult')
load_proposals = dict(type='LoadProposals', proposal_file=proposal_file,
                      num_proposals=5, nms_iou=0.7)
train_pipeline = [
    dict(type='CheckedLoadImageFromFile'),
    dict(type='Resize', scale=(image_size, image_size)),
    dict(type='CenterCrop', crop_size=crop_size),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    load_proposals,
    dict(type='PackInputs', algorithm_keys=('proposals', )),
]
test_pipeline = [
    dict(type='CheckedLoadImageFromFile'),
    dict(type='Resize', scale=(image_size, image_size)),
    dict(type='CenterCrop', crop_size=crop_size),
    load_proposals,
    dict(type='PackInputs', algorithm_keys=('proposals', ),
         meta_keys=meta_keys),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
