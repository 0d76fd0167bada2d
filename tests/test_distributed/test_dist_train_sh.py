"""``bash tools/dist_train.sh CONFIG 2`` end to end on CPU (torchrun, gloo).

Two processes started by ``torchrun`` through the shell launcher train a
tiny RARL (ResNet-18 with 16 base channels at 64 px) for one epoch of 3
iterations (12 generated images, batch 2 per rank) and validate on 4 images,
through ``tools/train.py --launcher pytorch``: ``DefaultSampler`` splitting
the data, ``MMDistributedDataParallel``, ``PolicyGradientHook``'s
``all_reduce`` of the policy statistics, ``RNGStateHook`` gathering every
rank's generators, ``NonFiniteCheckHook``'s per-iteration ``all_reduce``,
``DataCheckHook`` and the gathered validation metrics, all together.
Checked: exit status 0, ``epoch_1.pth`` written with 3 iterations, two
different per-rank generator states and the hook's baseline state, and the
``rl/`` statistics logged at every iteration with finite values.
"""
import json
import math
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from marl_mm.utils import safe_torch_load
from tests_conftest import load_tool

REPO_ROOT = Path(__file__).resolve().parents[2]
ITERS = 3  # 12 images / (2 ranks x batch 2)

MODEL = dict(
    type='ImageClassifier',
    backbone=dict(
        type='FeatureMapWrapper',
        backbone=dict(type='ResNet', depth=18, stem_channels=16,
                      base_channels=16, num_stages=3, strides=(1, 2, 2),
                      dilations=(1, 1, 1), out_indices=(2, )),
        out_index=-1),  # (B, 64, 4, 4) at 64 px
    head=dict(type='LSTMGlimpseHead', num_classes=8, in_channels=64,
              feat_stride=16, num_steps=2, anchor_sizes=(16, 32), roi_size=3,
              embed_dims=16, hidden_dims=16, baseline=dict(hidden_dims=8),
              policy=dict(sigma=0.2), loss_type='bce'))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


@pytest.fixture(scope='module')
def run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('dist_train')
    gen = load_tool(REPO_ROOT / 'tools' / 'dataset_converters' /
                     'generate_shapes.py')
    gen.generate(str(tmp / 'shapes'), num_train=12, num_val=4, size=64,
                 max_objects=2, min_obj=8, max_obj=14)
    config = tmp / 'rarl_tiny.py'
    config.write_text(f"""
_base_ = [{str(REPO_ROOT / 'configs' / 'rarl_resnet18_shapes.py')!r}]
model = dict(_delete_=True, **{MODEL!r})
train_dataloader = dict(batch_size=2, num_workers=0, persistent_workers=False,
                        dataset=dict(data_root={str(tmp / 'shapes')!r}))
val_dataloader = dict(batch_size=2, num_workers=0, persistent_workers=False,
                      dataset=dict(data_root={str(tmp / 'shapes')!r}))
test_dataloader = val_dataloader
train_cfg = dict(max_epochs=1, val_interval=1)
param_scheduler = []
default_hooks = dict(logger=dict(interval=1))
""")
    work = tmp / 'work'
    env = dict(os.environ, PORT=str(_free_port()), OMP_NUM_THREADS='1',
               PATH=f'{Path(sys.executable).parent}:{os.environ["PATH"]}')
    proc = subprocess.run(
        ['bash', str(REPO_ROOT / 'tools' / 'dist_train.sh'), str(config),
         '2', '--work-dir', str(work), '--cfg-options',
         'env_cfg.dist_cfg.backend=gloo'],
        capture_output=True, text=True, timeout=120, cwd=tmp, env=env)
    return proc, work


def test_exits_0_and_writes_a_checkpoint(run):
    proc, work = run
    assert proc.returncode == 0, proc.stderr[-3000:]
    ckpt = safe_torch_load(str(work / 'epoch_1.pth'), map_location='cpu')
    assert ckpt['meta']['iter'] == ITERS and ckpt['meta']['epoch'] == 1
    # RNGStateHook gathered both ranks' generators; diff_rank_seed makes
    # them differ
    ranks = ckpt['rng_state']['ranks']
    assert len(ranks) == 2
    assert not (ranks[0]['torch'] == ranks[1]['torch']).all()
    # PolicyGradientHook's running baseline: one update per iteration
    (baseline, ) = ckpt['policy_gradient_hook']['baselines'].values()
    assert baseline['count'] == ITERS


def test_all_hooks_ran_under_ddp(run):
    proc, work = run
    assert proc.returncode == 0, proc.stderr[-3000:]
    log = next(work.glob('*/*.log')).read_text()
    assert 'Distributed training: True' in log and 'GPU number: 2' in log
    assert 'CPU distributed training: gloo process group of 2 processes' \
        in proc.stdout + proc.stderr
    hooks = log[log.index('Hooks will be executed'):]
    for hook in ('PolicyGradientHook', 'RNGStateHook', 'NonFiniteCheckHook',
                 'DataCheckHook', 'DistSamplerSeedHook'):
        assert hook in hooks, hook
    # DefaultSampler split the 12 images: 3 iterations of 2 x 2, not 6
    assert f'Epoch(train) [1][{ITERS}/{ITERS}]' in log
    assert f'[1][{ITERS + 1}/' not in log


def test_rl_statistics_logged_every_iteration(run):
    proc, work = run
    assert proc.returncode == 0, proc.stderr[-3000:]
    scalars = [json.loads(line) for line in next(
        work.glob('*/vis_data/scalars.json')).read_text().splitlines()]
    train = [s for s in scalars if 'loss' in s]
    assert [s['step'] for s in train] == list(range(1, ITERS + 1))
    baseline = None
    for s in train:
        rl = {k: v for k, v in s.items() if k.startswith('rl/')}
        assert {'rl/reward', 'rl/running_baseline', 'rl/advantage_abs',
                'rl/loc_spread'} <= set(rl), sorted(s)
        assert all(math.isfinite(v) for v in rl.values()), rl
        # the reward averaged over the ranks (all_reduce): a mean of two
        # rank means of top-K recalls, each a multiple of 1/4 here (batch 2,
        # 1-2 labels per image)
        assert 0. <= rl['rl/reward'] <= 1.
        assert (rl['rl/reward'] * 8) % 1 == 0, rl['rl/reward']
        # the hook's running mean (momentum 0.9) of that reduced reward
        baseline = rl['rl/reward'] if baseline is None else \
            0.9 * baseline + 0.1 * rl['rl/reward']
        assert rl['rl/running_baseline'] == pytest.approx(baseline, abs=1e-9)
    val = [s for s in scalars if 'multi-label/mAP_noninterp' in s]
    assert len(val) == 1 and 0. <= val[0]['multi-label/mAP_noninterp'] <= 100
