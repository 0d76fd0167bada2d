# Ten-view test of rarl_vgg16_coco_640.py (N = 640): the whole image at N x N,
# five (N-64) crops and their flips taken on the conv5_3 map (one backbone
# pass per image and flip), probabilities averaged. Train with the plain
# config; test its checkpoint with this one:
#   python tools/test.py configs/tenview/rarl_vgg16_coco_640_tenview.py CKPT
# Two-scale result (the paper's "Ours"): tools/ensemble_test.py with the
# N = 512 and N = 640 ten-view configs and their checkpoints.
_base_ = ['../rarl_vgg16_coco_640.py', '../_base_/tta/ten_view_640.py']
model = _base_.ten_view_model
test_dataloader = _base_.ten_view_test_dataloader
