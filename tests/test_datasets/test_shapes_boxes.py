"""The generated shapes data through mmpretrain's own RandomFlip: the
dataset json is plain mmpretrain multi-label (the boxes sit in
``<split>_boxes.json``), and json lists under ``gt_bboxes`` become arrays in
CheckedMultiLabelDataset, so mmcv's transforms move them with the image."""
import json
from pathlib import Path

import mmcv
import numpy as np
import pytest
from mmengine.registry import init_default_scope

from mmpretrain.datasets import MultiLabelDataset

from marl_mm.datasets import CheckedMultiLabelDataset
from tests_conftest import load_tool

REPO_ROOT = Path(__file__).resolve().parents[2]
SIZE = 64


gen = load_tool('tools/dataset_converters/generate_shapes.py')


@pytest.fixture(scope='module')
def shapes(tmp_path_factory):
    root = tmp_path_factory.mktemp('shapes_boxes') / 'shapes'
    gen.generate(str(root), num_train=2, num_val=4, size=SIZE,
                 max_objects=3, min_obj=8, max_obj=14)
    return root


def flip_pipeline():
    # a plain mmpretrain pipeline: no Resize before the flip
    return [dict(type='LoadImageFromFile'),
            dict(type='RandomFlip', prob=1., direction='horizontal'),
            dict(type='PackInputs')]


def test_plain_mmpretrain_pipeline_with_random_flip(shapes):
    """mmpretrain's MultiLabelDataset + RandomFlip over every generated
    image: each packed input is the file's pixels mirrored (before: the
    first item stopped with "'list' object has no attribute 'shape'")."""
    init_default_scope('mmpretrain')
    for split, num in (('train', 2), ('val', 4)):
        dataset = MultiLabelDataset(
            ann_file=str(shapes / f'{split}.json'),
            data_prefix=dict(img_path=str(shapes / 'images')),
            pipeline=flip_pipeline())
        assert len(dataset) == num
        for i in range(num):
            item = dataset[i]
            info = dataset.get_data_info(i)
            image = mmcv.imread(info['img_path'])  # BGR, as the loader
            packed = item['inputs'].permute(1, 2, 0).numpy()
            assert np.array_equal(packed, image[:, ::-1])
            assert item['data_samples'].flip is True
            assert sorted(item['data_samples'].gt_label.tolist()) == \
                sorted(info['gt_label'])
        assert all('gt_bboxes' not in dataset.get_data_info(i)
                   for i in range(num))


def test_boxes_beside_the_json(shapes):
    """load_boxes: one (N, 4) float32 array per image in pixels, labels
    equal to the image's gt_label, every box inside the image."""
    val = json.loads((shapes / 'val.json').read_text())['data_list']
    boxes = gen.load_boxes(str(shapes), 'val')
    assert sorted(boxes) == sorted(item['img_path'] for item in val)
    for item in val:
        b = boxes[item['img_path']]
        assert b['gt_bboxes'].dtype == np.float32
        assert b['gt_bboxes'].shape == (len(item['gt_label']), 4)
        assert sorted(b['gt_bbox_labels'].tolist()) == \
            sorted(item['gt_label'])
        assert (b['gt_bboxes'] >= 0).all() and (b['gt_bboxes'] <= SIZE).all()
        assert (b['gt_bboxes'][:, 2:] > b['gt_bboxes'][:, :2]).all()
    with pytest.raises(FileNotFoundError, match='generate_shapes.py'):
        gen.load_boxes(str(shapes / 'nowhere'), 'val')


def test_checked_dataset_turns_box_lists_into_arrays(shapes, tmp_path):
    """A json with boxes as lists (as the generator wrote them before):
    CheckedMultiLabelDataset gives arrays, and RandomFlip mirrors them by
    hand: x1' = W - x2, x2' = W - x1."""
    init_default_scope('mmpretrain')
    val = json.loads((shapes / 'val.json').read_text())
    boxes = json.loads((shapes / 'val_boxes.json').read_text())['data_list']
    for item, b in zip(val['data_list'], boxes):
        item.update(gt_bboxes=b['gt_bboxes'],
                    gt_bbox_labels=b['gt_bbox_labels'])
    ann = tmp_path / 'with_boxes.json'
    ann.write_text(json.dumps(val))
    dataset = CheckedMultiLabelDataset(
        ann_file=str(ann), data_prefix=dict(img_path=str(shapes / 'images')),
        pipeline=[dict(type='LoadImageFromFile'),
                  dict(type='RandomFlip', prob=1., direction='horizontal')])
    for i, b in enumerate(boxes):
        info = dataset.get_data_info(i)
        assert isinstance(info['gt_bboxes'], np.ndarray)
        assert info['gt_bboxes'].dtype == np.float32
        assert info['gt_bbox_labels'].dtype == np.int64
        out = dataset[i]
        want = np.asarray(b['gt_bboxes'], dtype=np.float32)
        want = np.stack([SIZE - want[:, 2], want[:, 1], SIZE - want[:, 0],
                         want[:, 3]], 1)
        np.testing.assert_allclose(out['gt_bboxes'], want)

    val['data_list'][1]['gt_bboxes'] = [[1, 2, 3]]
    ann.write_text(json.dumps(val))
    with pytest.raises(ValueError, match=r'data_list\[1\]\.gt_bboxes: '
                       r'expected a list of \[x1, y1, x2, y2\]'):
        CheckedMultiLabelDataset(ann_file=str(ann),
                                 data_prefix=dict(img_path='images'))
