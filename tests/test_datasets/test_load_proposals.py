"""LoadProposals: top-k after NMS 0.7 in rank order, boxes mapped through
Resize / CenterCrop / RandomFlip by hand, packed into the data sample, and
clear errors."""
import json

import numpy as np
import pytest
from mmcv.transforms import Compose

import marl_mm  # noqa: F401
from mmpretrain.registry import TRANSFORMS


def _write(tmp_path, table):
    path = tmp_path / 'proposals.json'
    path.write_text(json.dumps(table))
    return str(path)


BOXES = [
    [10, 20, 50, 60],    # best
    [11, 21, 51, 61],    # IoU with the best ~0.91 -> suppressed at 0.7
    [100, 40, 180, 90],
    [0, 0, 199, 99],
]


def test_nms_topk_and_geometry_by_hand(tmp_path):
    path = _write(tmp_path, {'000005': BOXES})
    # a 100 x 200 (h x w) image, resized to 64 x 64, centre-cropped to 48 x 48
    pipeline = Compose([
        TRANSFORMS.build(dict(type='Resize', scale=(64, 64))),
        TRANSFORMS.build(dict(type='CenterCrop', crop_size=48)),
        TRANSFORMS.build(dict(type='LoadProposals', proposal_file=path,
                              num_proposals=2, nms_iou=0.7)),
    ])
    img = np.zeros((100, 200, 3), np.uint8)
    res = pipeline(dict(img=img, img_path='/x/JPEGImages/000005.jpg',
                        ori_shape=(100, 200), img_shape=(100, 200)))
    sx, sy, off = 64 / 200, 64 / 100, 8  # offset (64 - 48) / 2
    expected = []
    for x1, y1, x2, y2 in (BOXES[0], BOXES[2]):  # BOXES[1] suppressed
        b = [x1 * sx - off, y1 * sy - off, x2 * sx - off, y2 * sy - off]
        expected.append([min(max(v, 0), 48) for v in b])
    np.testing.assert_allclose(res['proposals'], expected, rtol=1e-5)
    assert res['proposals'].dtype == np.float32


def test_horizontal_flip_and_packing(tmp_path):
    path = _write(tmp_path, {'a': BOXES[:1]})
    pipeline = Compose([
        TRANSFORMS.build(dict(type='RandomFlip', prob=1.,
                              direction='horizontal')),
        TRANSFORMS.build(dict(type='LoadProposals', proposal_file=path)),
        TRANSFORMS.build(dict(type='PackInputs',
                              algorithm_keys=('proposals', ))),
    ])
    img = np.zeros((100, 200, 3), np.uint8)
    out = pipeline(dict(img=img, img_path='a.png', ori_shape=(100, 200),
                        img_shape=(100, 200)))
    # x1' = W - x2, x2' = W - x1
    np.testing.assert_allclose(out['data_samples'].proposals,
                               [[150, 20, 190, 60]])


def test_missing_image_and_bad_file(tmp_path):
    path = _write(tmp_path, {'a': BOXES})
    t = TRANSFORMS.build(dict(type='LoadProposals', proposal_file=path))
    with pytest.raises(KeyError, match="'b'"):
        t(dict(img_path='b.jpg', ori_shape=(10, 10), img_shape=(10, 10)))
    t = TRANSFORMS.build(dict(type='LoadProposals', proposal_file=path,
                              allow_missing=True))
    res = t(dict(img_path='b.jpg', ori_shape=(10, 10), img_shape=(10, 10)))
    assert res['proposals'].shape == (0, 4)
    with pytest.raises(FileNotFoundError, match='generate_proposals'):
        TRANSFORMS.build(dict(type='LoadProposals',
                              proposal_file=str(tmp_path / 'none.json')))
    bad = tmp_path / 'bad.json'
    bad.write_text(json.dumps([[1, 2, 3, 4]]))
    with pytest.raises(ValueError, match='json object'):
        TRANSFORMS.build(dict(type='LoadProposals', proposal_file=str(bad)))
