"""RARL configs (Chen et al., AAAI 2018): the paper's hyperparameters pinned
in the four VGG16 configs (VOC 2007 / COCO at N = 512 and 640), the
optimiser and input protocol, the evaluation per dataset, and what each
ablation of the paper changes against the main model.

The values are the paper's ("Implementation details"; docs/method.md restores
the numbers the text extraction lost): T = 5 steps, k = 9 anchors of areas
80^2 / 160^2 / 320^2 (N = 512) or 96^2 / 192^2 / 384^2 (N = 640) and ratios
2:1, 1:1, 1:2, sigma = 0.11, the squared loss on softmax, REINFORCE with a
learned baseline and K = |GT| in the reward, VGG16 conv5_3 without pool5
(stride 16), Adam at 1e-5 with betas (0.9, 0.999), batch 16, resize to
N x N and random (N - 64) crops with a horizontal flip.
"""
from pathlib import Path

import pytest
import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope

import marl_mm  # noqa: F401  (registers components)

REPO_ROOT = Path(__file__).resolve().parents[2]
CONFIGS = REPO_ROOT / 'configs'
ABLATIONS = CONFIGS / 'ablations'

#: config -> (N, anchor sizes, classes)
MAIN = {
    'rarl_vgg16_voc07.py': (512, (80, 160, 320), 20),
    'rarl_vgg16_voc07_640.py': (640, (96, 192, 384), 20),
    'rarl_vgg16_coco.py': (512, (80, 160, 320), 80),
    'rarl_vgg16_coco_640.py': (640, (96, 192, 384), 80),
}


def _cfg(name: str) -> Config:
    return Config.fromfile(str(CONFIGS / name))


def _step(pipeline, name):
    steps = [s for s in pipeline if s['type'] == name]
    assert len(steps) == 1, (name, pipeline)
    return steps[0]


@pytest.mark.parametrize('name', sorted(MAIN))
def test_head_is_the_papers(name):
    n, sizes, classes = MAIN[name]
    cfg = _cfg(name)
    head = cfg.model.head
    assert head.type == 'LSTMGlimpseHead'
    assert head.num_classes == classes
    assert head.in_channels == 512 and head.feat_stride == 16
    assert head.num_steps == 5  # T
    assert tuple(head.anchor_sizes) == sizes
    assert tuple(head.anchor_ratios) == (2., 1., .5)  # 2:1, 1:1, 1:2
    assert len(head.anchor_sizes) * len(head.anchor_ratios) == 9  # k
    assert head.policy == dict(sigma=0.11)  # the rest: head defaults
    assert head.loss_type == 'squared'
    assert head.baseline == dict(mode='learned')
    assert head.lambda_pg == 1. and head.lambda_b == 1.
    # paper defaults of the head, not overridden by the config
    for key in ('reward', 'advantage_norm', 'use_lstm', 'classify_from',
                'random_locations', 'region_source'):
        assert key not in head, key
    backbone = cfg.model.backbone
    assert backbone.type == 'VGGFeatureMap' and backbone.with_pool5 is False
    assert backbone.get('depth', 16) == 16


def test_head_defaults_are_the_papers():
    """The defaults the configs rely on (previous test) are the paper's."""
    from marl_mm.models.heads import LSTMGlimpseHead
    head = LSTMGlimpseHead(num_classes=3, embed_dims=8, hidden_dims=8,
                           baseline=dict(hidden_dims=4))
    assert head.reward_fn.topk is None  # K = |GT|
    assert head.advantage_norm == 'none'  # raw R - b
    assert head.loc_net.detach_input is False  # REINFORCE reaches the state
    assert head.baseline_mode == 'learned'
    assert head.use_lstm and head.classify_from == 'state'  # Ours-C
    assert head.region_source == 'anchors' and not head.random_locations


@pytest.mark.parametrize('name', sorted(MAIN))
def test_optimiser_and_input_protocol(name):
    n, _, _ = MAIN[name]
    cfg = _cfg(name)
    init_default_scope('mmpretrain')
    model = nn.Module()
    model.backbone = nn.Linear(2, 2)
    model.head = nn.Linear(2, 2)
    opt = build_optim_wrapper(model, cfg.optim_wrapper).optimizer
    assert isinstance(opt, torch.optim.Adam)
    assert opt.defaults['betas'] == (0.9, 0.999)
    assert {g['lr'] for g in opt.param_groups} == {1e-5}  # one lr, paper
    assert cfg.train_dataloader.batch_size == 16
    assert cfg.auto_scale_lr.base_batch_size == 16
    train = cfg.train_dataloader.dataset.pipeline
    assert tuple(_step(train, 'Resize')['scale']) == (n, n)
    assert _step(train, 'RandomCrop')['crop_size'] == n - 64
    flip = _step(train, 'RandomFlip')
    assert flip['prob'] == 0.5 and flip['direction'] == 'horizontal'
    test = cfg.test_dataloader.dataset.pipeline
    assert tuple(_step(test, 'Resize')['scale']) == (n, n)
    assert _step(test, 'CenterCrop')['crop_size'] == n - 64
    hooks = [h for h in cfg.custom_hooks if h.type == 'PolicyGradientHook']
    assert len(hooks) == 1
    assert hooks[0].get('exploration_schedule') is None  # sigma constant


@pytest.mark.parametrize('name', sorted(MAIN))
def test_evaluation_protocol(name):
    cfg = _cfg(name)
    evaluators = cfg.val_evaluator if isinstance(cfg.val_evaluator, list) \
        else [cfg.val_evaluator]
    by_type = {e['type']: e for e in evaluators}
    if 'voc07' in name:  # per-class AP, VOC 2007's 11-point devkit
        assert by_type == {'MultiLabelAP': dict(type='MultiLabelAP',
                                                mode='voc07_11point')}
        assert cfg.train_dataloader.dataset.split == 'trainval'
        assert cfg.test_dataloader.dataset.split == 'test'
    else:  # COCO: C/O P, R, F1 on the top-3 labels above 0.1, and mAP
        top = by_type['MultiLabelTopKMetric']
        assert top['topk'] == 3 and top['thr'] == 0.1
        assert 'MultiLabelAP' in by_type


#: ablation config -> the head keys it changes against rarl_vgg16_voc07.py
ABLATION_CHANGES = {
    'rarl_vgg16_voc07_random.py': dict(random_locations=True),
    'rarl_vgg16_voc07_ours_a.py': dict(use_lstm=False,
                                       classify_from='region'),
    'rarl_vgg16_voc07_ours_b.py': dict(classify_from='region'),
    'rarl_vgg16_voc07_t1.py': dict(num_steps=1),
    'rarl_vgg16_voc07_t10.py': dict(num_steps=10),
    'rarl_vgg16_voc07_single_region.py': dict(anchor_sizes=(160, ),
                                              anchor_ratios=(1., )),
    'rarl_vgg16_voc07_proposals.py': dict(region_source='proposals'),
    'rarl_vgg16_voc07_paper_policy.py': dict(
        policy=dict(sigma=0.11, zero_init=False, detach_input=False),
        advantage_norm='none'),
}


@pytest.mark.parametrize('name', sorted(ABLATION_CHANGES))
def test_ablation_changes_only_its_part(name):
    main = _cfg('rarl_vgg16_voc07.py')
    cfg = Config.fromfile(str(ABLATIONS / name))
    head, base = cfg.model.head.to_dict(), main.model.head.to_dict()
    changed = {k: v for k, v in head.items() if base.get(k, None) != v}
    expected = {k: (tuple(v) if isinstance(v, tuple) else v)
                for k, v in ABLATION_CHANGES[name].items()}
    got = {k: (tuple(v) if isinstance(v, (list, tuple)) else v)
           for k, v in changed.items()}
    # keys set to the head's default value are not a change of the model
    if 'advantage_norm' in expected and 'advantage_norm' not in got:
        expected.pop('advantage_norm')
    assert got == expected
    for key in ('optim_wrapper', 'param_scheduler', 'train_cfg',
                'val_evaluator'):
        assert cfg[key] == main[key], key
    assert cfg.model.backbone == main.model.backbone
    hooks = {h.type: h for h in cfg.custom_hooks}
    warmup = hooks['PolicyGradientHook'].get('warmup_iters', 0)
    main_hooks = {h.type: h for h in main.custom_hooks}
    if name.endswith('paper_policy.py'):  # the paper: no warm-up
        assert warmup == 0
    else:
        assert warmup == main_hooks['PolicyGradientHook'].warmup_iters > 0
