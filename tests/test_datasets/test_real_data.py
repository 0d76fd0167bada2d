"""Real-data integration (issue 2, item 9): the VOC 2007 train subset and
coco_mini of <repo>/../shared/data load through StrictVOC / COCOMultiLabel
with the counts and class mapping of an independent parse of the same files
(xml.etree, the devkit's per-class lists, json), and one training iteration
of the ResNet-18 GAP baseline runs on each through mmengine's Runner.
Skipped where the folder is absent (a user's clone)."""
import json
import math
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import Runner

import marl_mm  # noqa: F401
from marl_mm.datasets import COCOMultiLabel, StrictVOC
from mmpretrain.datasets import VOC

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / '..' / 'shared' / 'data'
VOC_ROOT = DATA / 'voc2007_train' / 'VOCdevkit' / 'VOC2007'
COCO_ROOT = DATA / 'coco_mini'
CONFIGS = REPO / 'configs' / '_base_'

pytestmark = pytest.mark.skipif(
    not DATA.is_dir(),
    reason=f'real data folder {DATA} absent (only on the team machines)')

init_default_scope('mmpretrain')


def _small_train_pipeline(config: str, size: int = 64, crop: int = 56):
    """The config's train pipeline at a small input size."""
    pipeline = Config.fromfile(str(CONFIGS / 'datasets' / config)) \
        .train_pipeline
    for t in pipeline:
        if t['type'] == 'Resize':
            t['scale'] = (size, size)
        if t['type'] == 'RandomCrop':
            t['crop_size'] = crop
    return [dict(t) for t in pipeline]


# ---------------------------------------------------------------- VOC 2007
def _voc_reference():
    """Independent parse: ids from train.txt, labels from the xml files."""
    ids = (VOC_ROOT / 'ImageSets' / 'Main' / 'train.txt').read_text().split()
    labels, difficult = {}, {}
    for img_id in ids:
        root = ET.parse(VOC_ROOT / 'Annotations' / f'{img_id}.xml').getroot()
        plain, diff = set(), set()
        for obj in root.iter('object'):
            name = obj.findtext('name').strip()
            (diff if obj.findtext('difficult', '0').strip() == '1'
             else plain).add(name)
        labels[img_id], difficult[img_id] = plain, diff - plain
    return ids, labels, difficult


@pytest.fixture(scope='module')
def voc_train():
    return StrictVOC(data_root=str(VOC_ROOT), split='train',
                     pipeline=_small_train_pipeline('voc07_rarl_512.py'))


def test_voc07_train_counts_and_class_mapping(voc_train):
    ids, labels, difficult = _voc_reference()
    classes = VOC.METAINFO['classes']
    assert voc_train.CLASSES == classes and len(classes) == 20
    assert classes[0] == 'aeroplane' and classes[-1] == 'tvmonitor'
    assert len(voc_train) == len(ids) == 2500
    got_pos, got_diff = Counter(), Counter()
    for i, img_id in enumerate(ids):
        info = voc_train.get_data_info(i)
        assert Path(info['img_path']).name == f'{img_id}.jpg'
        assert [classes[j] for j in info['gt_label']] == \
            sorted(labels[img_id], key=classes.index)
        assert [classes[j] for j in info['gt_label_difficult']] == \
            sorted(difficult[img_id], key=classes.index)
        got_pos.update(classes[j] for j in info['gt_label'])
        got_diff.update(classes[j] for j in info['gt_label_difficult'])
    # the devkit's own per-class lists (1 present, 0 difficult only)
    for name in classes:
        lines = (VOC_ROOT / 'ImageSets' / 'Main' /
                 f'{name}_train.txt').read_text().split('\n')
        values = Counter(line.split()[1] for line in lines if line.strip())
        assert got_pos[name] == values['1'], name
        assert got_diff[name] == values['0'], name
    assert sum(got_pos.values()) == 3687  # 1.47 per image


def test_voc07_one_training_iteration(voc_train, tmp_path):
    _one_iteration(voc_train, 20, tmp_path, 'real_voc07')


# ---------------------------------------------------------------- COCO mini
def _coco_reference(split):
    with open(COCO_ROOT / 'annotations' / f'instances_{split}2017.json') as f:
        content = json.load(f)
    cats = sorted(content['categories'], key=lambda c: c['id'])
    index = {c['id']: i for i, c in enumerate(cats)}
    labels = {img['id']: set() for img in content['images']}
    crowd_free = {img['id']: set() for img in content['images']}
    for ann in content['annotations']:
        labels[ann['image_id']].add(index[ann['category_id']])
        if not ann.get('iscrowd', 0):
            crowd_free[ann['image_id']].add(index[ann['category_id']])
    return cats, content['images'], labels, crowd_free


@pytest.mark.parametrize('split', ['train', 'val'])
def test_coco_mini_counts_and_class_mapping(split):
    cats, images, labels, crowd_free = _coco_reference(split)
    ds = COCOMultiLabel(
        data_root=str(COCO_ROOT),
        ann_file=f'annotations/instances_{split}2017.json',
        data_prefix=dict(img_path=f'{split}2017'), pipeline=[])
    assert len(cats) == 80 and max(c['id'] for c in cats) == 90
    assert ds.CLASSES == tuple(c['name'] for c in cats)
    assert ds.CLASSES[0] == 'person' and ds.CLASSES[-1] == 'toothbrush'
    labelled = [img for img in images if labels[img['id']]]
    assert len(ds) == len(labelled)
    assert len(images) == {'train': 80, 'val': 79}[split]
    for i, img in enumerate(labelled):
        info = ds.get_data_info(i)
        assert info['img_id'] == img['id']
        assert Path(info['img_path']).name == img['file_name']
        assert Path(info['img_path']).is_file()
        assert info['gt_label'] == sorted(labels[img['id']])
    # crowd='ignore': only the labels of non-crowd instances
    ignore = COCOMultiLabel(
        data_root=str(COCO_ROOT),
        ann_file=f'annotations/instances_{split}2017.json',
        data_prefix=dict(img_path=f'{split}2017'), crowd='ignore',
        pipeline=[])
    expected = {k: sorted(v) for k, v in crowd_free.items() if v}
    assert {ignore.get_data_info(i)['img_id']:
            ignore.get_data_info(i)['gt_label']
            for i in range(len(ignore))} == expected


def test_coco_mini_one_training_iteration(tmp_path):
    ds = COCOMultiLabel(
        data_root=str(COCO_ROOT),
        ann_file='annotations/instances_train2017.json',
        data_prefix=dict(img_path='train2017'),
        pipeline=_small_train_pipeline('coco_224.py'))
    _one_iteration(ds, 80, tmp_path, 'real_coco_mini')


# --------------------------------------------------------------- training
def _one_iteration(dataset, num_classes, tmp_path, name):
    """One Runner iteration of the ResNet-18 GAP baseline (random init)."""
    model = Config.fromfile(str(CONFIGS / 'models' / 'resnet18_gap.py')) \
        .model
    model.backbone.init_cfg = None
    model.head.num_classes = num_classes
    model.data_preprocessor = dict(
        type='ClsDataPreprocessor', num_classes=num_classes, to_rgb=True,
        to_onehot=True, mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375])
    runner = Runner(
        model=model.to_dict(), work_dir=str(tmp_path), experiment_name=name,
        train_dataloader=dict(
            dataset=dataset, batch_size=2, num_workers=0,
            sampler=dict(type='DefaultSampler', shuffle=True)),
        train_cfg=dict(type='IterBasedTrainLoop', max_iters=1),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01)),
        default_hooks=dict(checkpoint=None, logger=None),
        custom_hooks=[dict(type='DataCheckHook'),
                      dict(type='NonFiniteCheckHook')],
        default_scope='mmpretrain', randomness=dict(seed=0))
    before = runner.model.head.fc.weight.detach().clone()
    runner.train()
    assert runner.iter == 1
    loss = runner.message_hub.get_scalar('train/loss').current()
    # mmpretrain's sigmoid BCE sums over the classes, averages over the
    # images; the head's N(0, 0.01) init gives logits near 0, i.e. log(2)
    # per class
    assert loss == pytest.approx(num_classes * math.log(2), rel=0.1)
    assert not torch.equal(runner.model.head.fc.weight, before)
