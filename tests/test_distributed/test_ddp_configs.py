"""Every config's model trains under DDP without an unused-parameter error.

Two gloo ranks on CPU build the model of each config in ``configs/`` and
``projects/*/configs/``, wrap it
as the Runner does (``MMDistributedDataParallel`` with the config's
``model_wrapper_cfg``; mmengine's default ``find_unused_parameters=False``)
and run 2 training iterations on one 64 px image per rank: a parameter that
gets no gradient makes DDP raise "Expected to have finished reduction in the
prior iteration" at the second forward. A config with a
``BackboneFreezeHook`` gets its backbone frozen after wrapping, as the hook
does in ``before_train``.

To stay fast the checked models are narrower than the configs' (head and
neck widths shrunk: which sub-modules exist and take part does not change)
and VGG16 (no unused parameters: checked once without DDP below) is replaced
by a stand-in map of the same channels and a small size. ResNet backbones are
built with the configured stages and blocks, since an unused ``layer4`` is
exactly what breaks; the Bottleneck ResNets (101 in the projects) and
ConvNeXt get 8-channel stems / stages (ConvNeXt one block per stage), and
the neck or head reading their map is narrowed to match.
"""
import copy
import io
import os
import socket
import time
from pathlib import Path
from queue import Empty

import pytest
import torch
import torch.multiprocessing as mp
import torch.nn as nn
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.model import BaseModule, MMDistributedDataParallel
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope

import marl_mm  # noqa: F401
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

REPO_ROOT = Path(__file__).resolve().parents[2]
#: names relative to configs/; project configs as projects/<name>/configs/...
CONFIGS = sorted(str(p.relative_to(REPO_ROOT / 'configs'))
                 for p in (REPO_ROOT / 'configs').rglob('*.py')
                 if '_base_' not in p.parts) + sorted(
    str(p.relative_to(REPO_ROOT))
    for p in REPO_ROOT.glob('projects/*/configs/**/*.py')
    if '_base_' not in p.parts)
SIZE = 64
NEGATIVE = 'rarnn_vgg16_voc07.py, find_unused_parameters=False'
UNUSED_STAGE = ('projects/glimpse_backbones/configs/rarl_convnext_t_voc07.py'
                ', a 4th ConvNeXt stage built but not used')

#: configs that fail today, with why; strict: the test says when fixed
KNOWN_BROKEN = {}


@MODELS.register_module(force=True)
class _StubFeatureMap(BaseModule):
    """``(B, 3, H, W) -> (B, channels, size, size)`` with one conv."""

    def __init__(self, channels: int, size: int) -> None:
        super().__init__()
        self.size = size
        self.conv = nn.Conv2d(3, channels, 1)

    def forward(self, x):
        return (self.conv(F.adaptive_avg_pool2d(x, self.size)), )


def _narrow_backbone(backbone: dict):
    """Narrow a ResNet-50+ or ConvNeXt config in place, keeping its stages,
    blocks (ResNet) and outputs; the channels of its last output, or None
    when left as configured."""
    if backbone['type'] == 'ResNet' and backbone.get('depth', 50) >= 50:
        backbone.update(stem_channels=8, base_channels=8)
        return 8 * 2**backbone.get('out_indices', (3, ))[-1] * 4  # Bottleneck
    if backbone['type'] == 'ConvNeXt':
        arch = backbone.get('arch', 'tiny')
        if isinstance(arch, str):
            arch = MODELS.get('ConvNeXt').arch_settings[arch]
        stages = len(arch['depths'])
        channels = [8 * 2**i for i in range(stages)]
        backbone['arch'] = dict(depths=[1] * stages, channels=channels)
        return channels[backbone.get('out_indices', -1)[-1]]
    return None


def _shrink(model: dict) -> dict:
    """Narrow copy of a model config (same sub-modules)."""
    model = copy.deepcopy(model)
    backbone, neck, head = (model.get(k) for k in ('backbone', 'neck',
                                                   'head'))
    backbone.pop('init_cfg', None)
    if backbone.get('backbone'):
        backbone['backbone'].pop('init_cfg', None)
        out_channels = _narrow_backbone(backbone['backbone'])
        if out_channels is not None:
            if neck and neck.get('rhn'):
                neck['rhn']['in_channels'] = out_channels
                if neck.get('context'):
                    neck['context']['in_channels'] = out_channels
            else:
                head['in_channels'] = out_channels
    channels = 512
    if backbone['type'] == 'VGGFeatureMap':
        size = 2 if backbone.get('with_pool5') else 4
        if neck and neck.get('rhn'):
            size = neck['rhn'].get('spatial_size', 7)
        model['backbone'] = dict(type='_StubFeatureMap', channels=channels,
                                 size=size)
    if backbone['type'] == 'PrecomputedFeatureMap':  # cached maps of 448 px
        model['backbone'] = dict(type='_StubFeatureMap',
                                 channels=backbone['out_channels'],
                                 size=448 // backbone['stride'])
    if neck and neck.get('rhn'):
        neck['rhn'].update(feat_dims=8, adaptive_pool=True)
        if neck.get('context'):
            neck['context'].update(branch_channels=4)
        head.update(in_channels=8, context_channels=8, relation_channels=8)
    if head['type'] == 'LSTMGlimpseHead':
        head.update(embed_dims=8, hidden_dims=8, roi_size=2)
        if (head.get('policy') or {}).get('hidden_dims'):
            head['policy']['hidden_dims'] = 4
        head['baseline'] = dict(head.get('baseline') or {}, hidden_dims=4)
    if 'baseline_hidden' in head or head['type'] == 'GRREHead':
        head['baseline_hidden'] = 4
    return model


def _read(name: str) -> tuple:
    """``(shrunk model cfg, DDP kwargs, frozen backbone?)`` of a config."""
    cfg = Config.fromfile(str(REPO_ROOT / name if name.startswith(
        'projects/') else REPO_ROOT / 'configs' / name))
    model_cfg = _shrink(cfg.model.to_dict())
    model_cfg.setdefault('data_preprocessor',
                         cfg.get('data_preprocessor').to_dict())
    wrapper = dict(cfg.get('model_wrapper_cfg') or {})
    wrapper.pop('type', None)
    wrapper.setdefault('broadcast_buffers', False)  # mmengine's default
    frozen = any(h['type'] == 'BackboneFreezeHook'
                 for h in cfg.get('custom_hooks', []))
    return model_cfg, wrapper, frozen


def _check(model_cfg: dict, wrapper: dict, frozen: bool, rank: int):
    """Build, wrap, maybe freeze, train 2 iterations; error text or None."""
    torch.manual_seed(0)
    model = MODELS.build(model_cfg)
    model.init_weights()
    ddp = MMDistributedDataParallel(module=model, **wrapper)
    if frozen:
        model.backbone.requires_grad_(False)
        model.backbone.eval()
    optim = build_optim_wrapper(ddp, dict(optimizer=dict(type='SGD',
                                                         lr=1e-3)))
    num_classes = model_cfg['data_preprocessor']['num_classes']
    g = torch.Generator().manual_seed(rank)
    try:
        for it in range(2):
            # sample_idx as PackInputs keeps it: with RARNN's
            # emission_holdout=5 rank 0's first image is held out and rank
            # 1 has none (its policy terms at weight 0, still in the graph)
            sample = DataSample(metainfo=dict(img_shape=(SIZE, SIZE),
                                              ori_shape=(SIZE, SIZE),
                                              sample_idx=rank * 2 + it))
            sample.set_gt_label([0, num_classes - 1])
            sample.set_field(torch.tensor([[4., 4., 40., 40.]] * 5),
                             'proposals')
            ddp.train_step(dict(inputs=[torch.randint(
                0, 256, (3, SIZE, SIZE), dtype=torch.uint8, generator=g)],
                data_samples=[sample]), optim)
    except RuntimeError as e:
        return str(e).splitlines()[0]
    return None


def _worker(rank, port, queue, configs):
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    torch.distributed.init_process_group('gloo', rank=rank, world_size=2)
    try:
        torch.set_num_threads(1)
        init_default_scope('mmpretrain')
        errors = {name: _check(*args, rank) for name, args in configs.items()}
        buffer = io.BytesIO()
        torch.save(errors, buffer)
        queue.put((rank, buffer.getvalue()))
    finally:
        torch.distributed.destroy_process_group()


@pytest.fixture(scope='module')
def errors():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    init_default_scope('mmpretrain')
    configs = {name: _read(name) for name in CONFIGS}  # parsed once
    # negative control: a frozen backbone without find_unused_parameters
    model_cfg, wrapper, frozen = configs['rarnn_vgg16_voc07.py']
    assert frozen and wrapper['find_unused_parameters']
    configs[NEGATIVE] = (model_cfg, dict(wrapper,
                                         find_unused_parameters=False), True)
    # negative control for the narrowed backbones: a stage built, not used
    model_cfg, wrapper, frozen = configs[UNUSED_STAGE.split(',')[0]]
    model_cfg = copy.deepcopy(model_cfg)
    model_cfg['backbone']['backbone']['arch'] = dict(
        depths=[1] * 4, channels=[8, 16, 32, 64])
    configs[UNUSED_STAGE] = (model_cfg, wrapper, frozen)
    queue = mp.get_context('fork').Queue()
    context = mp.start_processes(_worker, args=(port, queue, configs),
                                 nprocs=2,
                                 start_method='fork', join=False)
    ranks, deadline = {}, time.time() + 300
    while len(ranks) < 2:
        try:
            rank, out = queue.get(timeout=1)
            ranks[rank] = torch.load(io.BytesIO(out), weights_only=True)
        except Empty:
            context.join(timeout=0)  # re-raises a worker's exception
            assert time.time() < deadline, 'DDP workers timed out'
    while not context.join():
        pass
    return ranks


def test_configs_found():
    assert len(CONFIGS) >= 20
    assert any(c.startswith('ablations/') for c in CONFIGS)


@pytest.mark.parametrize('name', [
    pytest.param(n, marks=pytest.mark.xfail(reason=KNOWN_BROKEN[n],
                                            strict=True))
    if n in KNOWN_BROKEN else n for n in CONFIGS])
def test_no_unused_parameters_under_ddp(errors, name):
    assert errors[0][name] is None, errors[0][name]
    assert errors[1][name] is None, errors[1][name]


def test_frozen_backbone_needs_find_unused_parameters(errors):
    """The freeze hook's configs set find_unused_parameters=True; without it
    the same model fails (so the check above can fail)."""
    frozen = [n for n in CONFIGS if 'rarnn_vgg16' in n]
    assert frozen and all(errors[0][n] is None for n in frozen)
    for rank in (0, 1):
        assert 'Expected to have finished reduction' in (
            errors[rank][NEGATIVE] or '')


def test_narrowed_backbone_keeps_the_unused_stage_error(errors):
    """The narrowing keeps stages and outputs: a ConvNeXt with a 4th stage
    built but not read still fails under DDP."""
    assert any(name.startswith('projects/') for name in CONFIGS)
    for rank in (0, 1):
        assert 'Expected to have finished reduction' in (
            errors[rank][UNUSED_STAGE] or '')


def test_vgg_feature_map_uses_all_parameters():
    """What the stand-in replaces: every VGG16 parameter gets a gradient."""
    backbone = MODELS.build(dict(type='VGGFeatureMap'))  # pool5: no params
    backbone(torch.rand(1, 3, 32, 32))[-1].sum().backward()
    assert all(p.grad is not None for p in backbone.parameters())
