"""tools/ensemble_test.py end to end: two ten-view models (the
configs/_base_/tta snippets at N = 512 and 640) on a tiny multi-label image
set; the ensemble's predictions are the mean of each model's own, and its
mAP equals sklearn's on that mean."""
import json
import pickle
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.model import BaseModule
from mmengine.registry import init_default_scope
from sklearn.metrics import average_precision_score
from torch import nn

import marl_mm  # noqa: F401  (registers components)
from mmpretrain.registry import DATASETS, MODELS
from tests_conftest import load_tool

REPO_ROOT = Path(__file__).resolve().parents[3]
LABELS = [[0], [1, 2], [0, 2], [1], [2], [0, 1]]


@MODELS.register_module(force=True)
class EnsembleToolTinyBackbone(BaseModule):
    """Stride 4, 5 channels: cheap enough for 512 / 640 inputs on a CPU."""

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(3, 4, 3, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(4, 5, 3, stride=2, padding=1))

    def forward(self, x):
        return (self.net(x), )


def _write_data(root: Path):
    rng = np.random.default_rng(0)
    (root / 'img').mkdir(parents=True)
    data_list = []
    for i, labels in enumerate(LABELS):
        h, w = 40 + 4 * i, 48
        cv2.imwrite(str(root / 'img' / f'{i}.png'),
                    rng.integers(0, 256, (h, w, 3), dtype=np.uint8))
        data_list.append(dict(img_path=f'{i}.png', gt_label=labels))
    meta = dict(classes=['a', 'b', 'c'])
    (root / 'ann.json').write_text(
        json.dumps(dict(metainfo=meta, data_list=data_list)))
    (root / 'ann_reversed.json').write_text(
        json.dumps(dict(metainfo=meta, data_list=data_list[::-1])))


def _write_config(root: Path, size: int, ann: str = 'ann.json') -> Path:
    runtime = REPO_ROOT / 'configs' / '_base_' / 'default_runtime.py'
    snippet = REPO_ROOT / 'configs' / '_base_' / 'tta' / f'ten_view_{size}.py'
    base = root / f'base_{size}_{ann[:-5]}.py'
    base.write_text(f"""_base_ = ['{runtime}']
model = dict(
    type='ImageClassifier',
    backbone=dict(type='EnsembleToolTinyBackbone'),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='MultiLabelLinearClsHead', num_classes=3, in_channels=5),
    data_preprocessor=dict(num_classes=3, to_onehot=True,
                           mean=[127.5] * 3, std=[64.] * 3))
test_dataloader = dict(
    batch_size=4, num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='MultiLabelDataset', data_root='{root}',
                 ann_file='{ann}', data_prefix='img',
                 pipeline=[dict(type='LoadImageFromFile'),
                           dict(type='CenterCrop', crop_size=32),
                           dict(type='PackInputs')]))
test_evaluator = dict(type='AveragePrecision')
test_cfg = dict()
default_hooks = dict(logger=dict(interval=1))
""")
    leaf = root / f'tenview_{size}_{ann[:-5]}.py'
    leaf.write_text(f"""_base_ = ['./{base.name}', '{snippet}']
model = _base_.ten_view_model
test_dataloader = _base_.ten_view_test_dataloader
""")
    return leaf


def _checkpoint(cfg: Config, seed: int, path: Path):
    torch.manual_seed(seed)
    model = MODELS.build(cfg.model.to_dict())
    for p in model.head.parameters():
        nn.init.normal_(p, std=3.)  # views and models differ clearly
    torch.save(dict(state_dict=model.state_dict(), meta=dict()), path)
    return model


def _reference_scores(cfg: Config, model) -> torch.Tensor:
    """Each image through the model's own test step, one at a time."""
    init_default_scope('mmpretrain')
    dataset = DATASETS.build(cfg.test_dataloader.dataset.to_dict())
    model.eval()
    scores = []
    with torch.no_grad():
        for i in range(len(dataset)):
            out = model.test_step(pseudo_collate([dataset[i]]))
            scores.append(out[0].pred_score)
    return torch.stack(scores)  # (N, D)


@pytest.fixture(scope='module')
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp('ensemble')
    _write_data(root)
    leaves = {size: _write_config(root, size) for size in (512, 640)}
    ckpts, refs = {}, {}
    for seed, size in enumerate((512, 640)):
        cfg = Config.fromfile(str(leaves[size]))
        ckpts[size] = root / f'model_{size}.pth'
        model = _checkpoint(cfg, seed, ckpts[size])
        refs[size] = _reference_scores(cfg, model)
    return root, leaves, ckpts, refs


def test_ensemble_averages_and_evaluates(setup):
    root, leaves, ckpts, refs = setup
    tool = load_tool('tools/ensemble_test.py')
    out = root / 'preds.pkl'
    work = root / 'work'
    metrics = tool.main([
        str(leaves[512]), str(ckpts[512]), str(leaves[640]), str(ckpts[640]),
        '--work-dir', str(work), '--out', str(out)])

    expected = (refs[512] + refs[640]) / 2  # (N, D)
    assert (refs[512] - refs[640]).abs().max() > 1e-2  # a real average
    with open(out, 'rb') as f:
        preds = pickle.load(f)
    assert [p['sample_idx'] for p in preds] == list(range(len(LABELS)))
    got = torch.stack([p['pred_score'] for p in preds])
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-6)

    y = np.zeros((len(LABELS), 3))
    for i, labels in enumerate(LABELS):
        y[i, labels] = 1
    sk_map = 100 * np.mean([
        average_precision_score(y[:, c], expected[:, c].numpy())
        for c in range(3)])
    assert metrics['multi-label/mAP'] == pytest.approx(sk_map, abs=1e-3)

    saved = json.loads((work / 'ensemble_metrics.json').read_text())
    assert saved['ensemble']['multi-label/mAP'] == pytest.approx(sk_map,
                                                                 abs=1e-3)
    for k, size in enumerate((512, 640)):
        single = 100 * np.mean([
            average_precision_score(y[:, c], refs[size][:, c].numpy())
            for c in range(3)])
        assert saved['per_model'][k]['multi-label/mAP'] == pytest.approx(
            single, abs=1e-3)


def test_ensemble_refuses_different_order(setup):
    root, leaves, ckpts, _ = setup
    reversed_leaf = _write_config(root, 640, ann='ann_reversed.json')
    tool = load_tool('tools/ensemble_test.py')
    with pytest.raises(ValueError, match='different images'):
        tool.main([str(leaves[512]), str(ckpts[512]), str(reversed_leaf),
                   str(ckpts[640]), '--work-dir', str(root / 'work_rev')])


def test_ensemble_args_checked(tmp_path):
    tool = load_tool('tools/ensemble_test.py')
    with pytest.raises(SystemExit):
        tool.parse_args(['a.py', 'a.pth'])  # one model
    with pytest.raises(SystemExit):
        tool.parse_args(['a.py', 'a.pth', 'b.py'])  # odd count
    with pytest.raises(SystemExit):
        tool.parse_args(['a.py', 'a.pth', 'b.py', 'b.pth', '--out', 'x.json'])
    args = tool.parse_args(['c/a.py', 'a.pth', 'c/b.py', 'b.pth'])
    assert args.pairs == [('c/a.py', 'a.pth'), ('c/b.py', 'b.pth')]
    assert args.work_dir.replace('\\', '/') == './work_dirs/ensemble_a+b'
    with pytest.raises(FileNotFoundError, match='checkpoint not found'):
        tool.model_cfg(str(REPO_ROOT / 'configs' / '_base_' / 'tta' /
                           'ten_view_512.py'), str(tmp_path / 'no.pth'), 0,
                       str(tmp_path), None, 'x')
