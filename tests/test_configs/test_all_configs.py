"""Every config in ``configs/`` and ``projects/*/configs`` builds its model,
runs one training iteration and one prediction on a tiny synthetic batch.

Pretrained-weight ``init_cfg`` entries are removed (no downloads here). To
keep the sweep fast on a CPU, the input is 64 x 64 (VGG16 and ResNet-101
cost a fraction of their paper-size step) and the RHN pools the smaller
map this gives to its configured size (``adaptive_pool=True``, an identity
where the sizes agree); every layer keeps its configured shape.
"""
import copy
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper

import marl_mm  # noqa: F401  (registers components)
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

REPO_ROOT = Path(__file__).resolve().parents[2]
CONFIG_DIR = REPO_ROOT / 'configs'

CONFIGS = sorted(
    p for p in list(CONFIG_DIR.rglob('*.py')) +
    list((REPO_ROOT / 'projects').glob('*/configs/**/*.py'))
    if '_base_' not in p.parts)


def _strip_pretrained(cfg):
    """Drop every ``init_cfg`` of type Pretrained, recursively."""
    if isinstance(cfg, dict):
        init = cfg.get('init_cfg')
        if isinstance(init, dict) and init.get('type') == 'Pretrained':
            cfg['init_cfg'] = None
        for v in cfg.values():
            _strip_pretrained(v)
    elif isinstance(cfg, (list, tuple)):
        for v in cfg:
            _strip_pretrained(v)
    return cfg


def _num_classes(model_cfg) -> int:
    head = model_cfg['head']
    return int(head['num_classes'])


SIZE = 64


def _shrink(model_cfg) -> None:
    """Adapt the model to a SIZE x SIZE input without changing any layer."""
    rhn = (model_cfg.get('neck') or {}).get('rhn')
    if isinstance(rhn, dict):
        rhn['adaptive_pool'] = True
    if model_cfg['type'] == 'TenViewClassifier':
        # the (N - 64) crops of an N x N input, scaled to the test's size
        model_cfg['test_cfg']['crop_size'] = SIZE - 16


def test_configs_found():
    names = {p.name for p in CONFIGS}
    assert 'vgg16_gap_voc07.py' in names
    assert 'resnet18_gap_shapes.py' in names


@pytest.mark.parametrize('path', CONFIGS, ids=lambda p: str(
    p.relative_to(REPO_ROOT)))
def test_config_builds_and_runs_one_iteration(path):
    cfg = Config.fromfile(str(path))
    for key in ('model', 'train_dataloader', 'val_evaluator', 'optim_wrapper',
                'train_cfg'):
        assert key in cfg, f'{path.name}: missing {key!r}'
    model_cfg = _strip_pretrained(copy.deepcopy(cfg.model.to_dict()))
    _shrink(model_cfg)
    size = SIZE
    torch.manual_seed(0)
    model = MODELS.build(model_cfg)
    model.init_weights()
    num_classes = _num_classes(model_cfg)

    g = torch.Generator().manual_seed(0)
    inputs = [torch.randint(0, 256, (3, size, size), generator=g,
                            dtype=torch.uint8) for _ in range(2)]
    if model_cfg['backbone']['type'] == 'PrecomputedFeatureMap':
        # cached maps (ReLU6 activations) in place of images, at the size
        # of the cache the config names
        channels = model_cfg['backbone']['out_channels']
        side = 448 // model_cfg['backbone']['stride']
        inputs = [6 * torch.rand(channels, side, side, generator=g)
                  for _ in range(2)]
    # with the dataset index PackInputs keeps by default (RARNN's
    # emission_holdout reads it: image 0 held out, image 1 not)
    samples = [
        DataSample(metainfo=dict(sample_idx=0)).set_gt_label(
            [0, num_classes - 1]),
        DataSample(metainfo=dict(sample_idx=1)).set_gt_label([1]),
    ]
    data = dict(inputs=inputs, data_samples=samples)

    optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    model.train()
    log_vars = model.train_step(copy.deepcopy(data), optim_wrapper)
    assert 'loss' in log_vars
    assert torch.isfinite(log_vars['loss']), f'{path.name}: loss not finite'

    model.eval()
    with torch.no_grad():
        out = model.val_step(copy.deepcopy(data))
    assert len(out) == 2
    scores = torch.stack([s.pred_score for s in out])
    assert scores.shape == (2, num_classes)
    assert torch.isfinite(scores).all()
    assert ((scores >= 0) & (scores <= 1)).all(), \
        f'{path.name}: pred_score must hold probabilities'
