"""RARNN configs (Li et al., ACM MM 2018): the schedule's learning rates per
epoch, the ablations of Table 1 (what each removes, counted in parameters
against hand formulas), the evaluation protocol per dataset and the quick
start's map size.

Only necks and heads are built (the VGG16 backbone is the same in every
arm); ``tests/test_configs/test_all_configs.py`` runs each whole model.
"""
import functools
from pathlib import Path

import pytest
import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope

import marl_mm  # noqa: F401  (registers components)
from mmpretrain.registry import MODELS, PARAM_SCHEDULERS

REPO_ROOT = Path(__file__).resolve().parents[2]
CONFIGS = REPO_ROOT / 'configs'
ABLATIONS = CONFIGS / 'ablations'

C, D, T = 512, 81, 10  # VGG16 channels, NUS-WIDE concepts, glimpses


def _cfg(path: Path) -> Config:
    return Config.fromfile(str(path))


def _count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


@functools.lru_cache(maxsize=None)
def _neck_and_head(name: str):
    """Neck and head of a config (built once per module: 25M parameters)."""
    cfg = _cfg(CONFIGS / name)
    init_default_scope('mmpretrain')
    torch.manual_seed(0)
    return (MODELS.build(cfg.model.neck.to_dict()),
            MODELS.build(cfg.model.head.to_dict()))


# parameters of each removable part, written out from the paper's sizes
CONTEXT = (C * 256 + 256) + (C * 256 * 9 + 256)  # 1x1 and dilated 3x3
W_CP = 2 * 256 * D  # Eq. 9's W_cp on C_t in R^512, no bias
GRRE = (C * C + C) + C * C + (C + 1) + C  # W_hx, W_hf, w_zx, w_zf (Eqs. 7-8)
PLAIN_RNN = 2 * C * C + 2 * C  # tanh RNN cell: W_ih, W_hh and two biases
W_OP = C * D  # Eq. 9's W_op on O_i, no bias
EMISSION = C + 1  # p_t = sigmoid(FC(X_t))
VALUE_NET = (C * 256 + 256) + (256 + 1)  # learned baseline, hidden 256


def test_full_model_sizes():
    neck, head = _neck_and_head('rarnn_vgg16_nuswide.py')
    rhn = (C * 7 * 7 * C + C) + (C * C * 7 * 7 + C)  # FC and deconvolution
    assert _count(neck) == rhn + CONTEXT
    w_xp = C * D + D
    assert _count(head) == w_xp + W_CP + GRRE + W_OP + EMISSION + VALUE_NET
    assert neck.rhn.num_glimpses == T and head.num_samples == 4


@pytest.mark.parametrize('name, neck_removed, head_removed', [
    ('wo_ce', CONTEXT, W_CP),
    ('wo_ei', 0, EMISSION + VALUE_NET),
    ('wo_grre', 0, GRRE + W_OP),
    ('plain_rnn', 0, GRRE - PLAIN_RNN),
    ('wo_ce_wo_grre', CONTEXT, W_CP + GRRE + W_OP),
])
def test_ablation_removes_exactly_its_part(name, neck_removed, head_removed):
    full_neck, full_head = _neck_and_head('rarnn_vgg16_nuswide.py')
    path = f'ablations/rarnn_vgg16_nuswide_{name}.py'
    neck, head = _neck_and_head(path)
    cfg = _cfg(CONFIGS / path)
    assert _count(full_neck) - _count(neck) == neck_removed
    assert _count(full_head) - _count(head) == head_removed
    # same data, schedule and protocol as the full model
    full = _cfg(CONFIGS / 'rarnn_vgg16_nuswide.py')
    for key in ('val_evaluator', 'train_cfg', 'optim_wrapper',
                'param_scheduler', 'custom_hooks'):
        assert cfg[key] == full[key], key


def test_without_emission_all_glimpses_are_emitted():
    cfg = _cfg(ABLATIONS / 'rarnn_vgg16_nuswide_wo_ei.py')
    head = MODELS.build(cfg.model.head.to_dict())
    head.eval()
    from marl_mm.models.necks import GlimpseFeatures
    g = torch.Generator().manual_seed(0)
    x = torch.rand(2, T, C, generator=g)
    out = head.predict(GlimpseFeatures(x=x, v=None, a=None,
                                       c=torch.rand(2, T, C, generator=g)))
    assert all(int(ds.emission_mask.sum()) == T for ds in out)


def _lr_by_epoch(cfg: Config, epochs: int):
    """Backbone and head lr at the start of each epoch, as the runner steps
    the param schedulers once per epoch."""
    init_default_scope('mmpretrain')
    model = nn.Module()
    model.backbone = nn.Linear(2, 2)
    model.head = nn.Linear(2, 2)
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    schedulers = [
        PARAM_SCHEDULERS.build(
            dict(s, optimizer=wrapper.optimizer, epoch_length=1))
        for s in cfg.param_scheduler
    ]
    wrapper.optimizer.step()  # no gradients: changes nothing, orders steps
    rows = []
    for _ in range(epochs):
        rows.append([group['lr'] for group in wrapper.optimizer.param_groups])
        for s in schedulers:
            s.step()
    return wrapper, rows


def test_schedule_is_the_papers():
    cfg = _cfg(CONFIGS / 'rarnn_vgg16_nuswide.py')
    assert cfg.train_cfg.max_epochs == 30
    assert cfg.train_dataloader.batch_size == 64
    wrapper, rows = _lr_by_epoch(cfg, 30)
    opt = wrapper.optimizer
    assert isinstance(opt, torch.optim.Adam)
    assert opt.defaults['betas'] == (0.8, 0.999)
    freeze = [h for h in cfg.custom_hooks if h.type == 'BackboneFreezeHook']
    assert len(freeze) == 1 and freeze[0].freeze_epochs == 20
    assert [h.type for h in cfg.custom_hooks].count('PolicyGradientHook') == 1
    # staircase x0.1 every 10 epochs, for every parameter group
    expected = [1e-3] * 10 + [1e-4] * 10 + [1e-5] * 10
    for epoch, lrs in enumerate(rows):
        for lr in lrs:
            assert lr == pytest.approx(expected[epoch], rel=1e-9), epoch
    # the backbone is released at epoch 20 at the paper's 1e-5
    assert rows[20][0] == pytest.approx(1e-5, rel=1e-9)


@pytest.mark.parametrize('name, topk, ap_mode', [
    ('nuswide', 3, 'noninterp'),
    ('coco', 3, 'noninterp'),
    ('espgame', 5, 'noninterp'),
])
def test_evaluation_protocol(name, topk, ap_mode):
    cfg = _cfg(CONFIGS / f'rarnn_vgg16_{name}.py')
    by_type = {e['type']: e for e in cfg.val_evaluator}
    assert by_type['MultiLabelTopKMetric']['topk'] == topk
    assert by_type['MultiLabelTopKMetric'].get('thr') is None
    assert by_type['MultiLabelAP']['mode'] == ap_mode
    assert cfg.model.head.num_classes == cfg.data_preprocessor.num_classes
    # the GAP baseline evaluates the same way on the same data
    gap = _cfg(CONFIGS / f'vgg16_gap_{name}{"_224" if name == "coco" else ""}'
               '.py')
    assert gap.val_evaluator == cfg.val_evaluator
    assert gap.train_dataloader == cfg.train_dataloader
    assert gap.param_scheduler == cfg.param_scheduler


def test_quick_start_map_matches_rhn():
    cfg = _cfg(CONFIGS / 'rarnn_resnet18_shapes.py')
    init_default_scope('mmpretrain')
    torch.manual_seed(0)
    backbone = MODELS.build(cfg.model.backbone.to_dict())
    size = cfg.image_size
    with torch.no_grad():
        v = backbone(torch.zeros(1, 3, size, size))[-1]
    rhn = cfg.model.neck.rhn
    assert tuple(v.shape[1:]) == (rhn.in_channels, rhn.spatial_size,
                                  rhn.spatial_size) == (256, 8, 8)
    assert cfg.model.head.num_classes == cfg.data_preprocessor.num_classes
