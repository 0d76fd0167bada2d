"""Every top-level config trains on mmpretrain's generic ``MultiLabelDataset``
json: only the data part of the config changes (the dataset, its pipeline at
a small input size, the loader), the model, schedule, hooks and evaluators
are the config's. One training iteration and one validation pass go through
mmengine's Runner, which also runs ``DataCheckHook`` (the model's class count
against the json's classes)."""
import json
from pathlib import Path
from typing import Optional

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner
from PIL import Image
# helpers of the model sweep (same folder): drop pretrained init_cfg, adapt
# the model to a SIZE x SIZE input without changing any layer
from test_all_configs import SIZE, _shrink, _strip_pretrained

REPO_ROOT = Path(__file__).resolve().parents[2]
#: configs/*.py (not ablations/, tenview/, voc07_cpu/)
TOP_LEVEL = sorted((REPO_ROOT / 'configs').glob('*.py'))


def _write_json_dataset(root: Path, num_classes: int) -> None:
    """Two small images and a generic multi-label json of num_classes."""
    rng = np.random.default_rng(num_classes)
    (root / 'images').mkdir(parents=True)
    data_list = []
    for i, labels in enumerate([[0, num_classes - 1], [num_classes // 2]]):
        Image.fromarray(rng.integers(0, 255, (40, 48, 3), dtype=np.uint8)
                        ).save(root / 'images' / f'{i}.jpg')
        data_list.append(dict(img_path=f'{i}.jpg', gt_label=labels))
    (root / 'ann.json').write_text(json.dumps(dict(
        metainfo=dict(classes=[f'class_{c}' for c in range(num_classes)]),
        data_list=data_list)))


def _generic_dataset(root: Path, test_mode: bool) -> dict:
    return dict(
        type='MultiLabelDataset', data_root=str(root), ann_file='ann.json',
        data_prefix=dict(img_path='images'), test_mode=test_mode,
        pipeline=[dict(type='LoadImageFromFile'),
                  dict(type='Resize', scale=(SIZE, SIZE)),
                  *([] if test_mode else
                    [dict(type='RandomFlip', prob=0.5)]),
                  dict(type='PackInputs')])


def test_top_level_configs_found():
    names = {p.name for p in TOP_LEVEL}
    assert {'vgg16_gap_voc07.py', 'rarl_vgg16_coco_640.py',
            'rarnn_vgg16_espgame.py', 'resnet18_gap_shapes.py'} <= names


def _generic_cfg(path: Path, tmp_path: Path,
                 json_classes: Optional[int] = None) -> Config:
    """The config of ``path`` with its data swapped for a generic json (of
    the model's class count unless ``json_classes``), one iteration."""
    cfg = Config.fromfile(str(path))
    num_classes = int(cfg.model.head.num_classes)
    root = tmp_path / 'data'
    _write_json_dataset(root, json_classes or num_classes)

    # the model as configured, adapted to the small input
    model = _strip_pretrained(cfg.model.to_dict())
    _shrink(model)
    cfg.model = model
    cfg.data_preprocessor.num_classes = num_classes
    # the data part: what a user changes for their own json
    for split, test_mode in (('train', False), ('val', True)):
        loader = cfg[f'{split}_dataloader']
        loader.dataset = _generic_dataset(root, test_mode)
        loader.batch_size = 2  # both images: one training iteration
        loader.num_workers = 0
        loader.persistent_workers = False
    cfg.test_dataloader = cfg.test_evaluator = cfg.test_cfg = None
    # one epoch of one iteration, validated; no checkpoint file
    cfg.train_cfg.max_epochs = 1
    cfg.train_cfg.val_interval = 1
    cfg.train_cfg.pop('val_begin', None)
    cfg.default_hooks.checkpoint = None
    cfg.default_hooks.logger.interval = 1
    cfg.work_dir = str(tmp_path / 'work')
    cfg.randomness = dict(seed=0)
    return cfg


@pytest.mark.parametrize('path', TOP_LEVEL, ids=lambda p: p.name)
def test_config_trains_on_generic_multilabel_json(path, tmp_path):
    cfg = _generic_cfg(path, tmp_path)
    torch.manual_seed(0)
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert runner.iter == 1
    scalars = runner.message_hub.log_scalars
    assert np.isfinite(scalars['train/loss'].current()), path.name
    metrics = [k for k in scalars if k.startswith('val/')]
    assert any('mAP' in k or 'CF1' in k for k in metrics), (path.name,
                                                            metrics)


def test_class_count_mismatch_stops_before_training(tmp_path):
    """A json with another class count than the model's num_classes."""
    cfg = _generic_cfg(REPO_ROOT / 'configs' / 'resnet18_gap_shapes.py',
                       tmp_path, json_classes=5)
    runner = Runner.from_cfg(cfg)
    with pytest.raises(ValueError, match='model.head.num_classes'):
        runner.train()
    assert runner.iter == 0
