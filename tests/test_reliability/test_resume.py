"""Exact resume: a training process killed with SIGKILL after the checkpoint
of iteration 4 and resumed with ``tools/train.py --resume`` ends with the
same weights (bit for bit), the same policy-gradient hook state and the same
validation metrics as an uninterrupted run, for RARL and RARNN on CPU.

The runs are tiny (ResNet-18 with 16 base channels at 64 px, batch 2, 6
iterations of an ``IterBasedTrainLoop``, checkpoints every 2 iterations,
validation at iterations 3 and 6). They exercise every resumed state: model,
Adam moments, a per-iteration cosine schedule, the hook's running reward
baseline, the random generators (policy noise, random flips drawn in the
main process with ``num_workers=0``) and the data order (mmengine replays
the 4 trained batches).

The killed run is a forked child (no re-import); a test-only hook writes a
marker and sleeps after the checkpoint of iteration 4 exists, and the parent
sends the real signal. Resumed from the same checkpoint without
``RNGStateHook`` the run differs (checked, so the hook is shown to be needed).

The second case is the path the shipped configs take: an
``EpochBasedTrainLoop`` (2 epochs of 4 batches of 4, a checkpoint and a
validation every epoch), the training pipeline's resize / random crop / flip
run in 2 data-loader workers started fresh each epoch and seeded by
``resumable_worker_init_fn`` (``persistent_workers=False``). Killed in
epoch 2, resumed from ``epoch_1.pth``: bit-identical again; resumed with
mmengine's fixed per-worker seeds instead, it differs.
"""
import multiprocessing as mp
import os
import shutil
import signal
import time
from pathlib import Path

import pytest
import torch
from mmengine.dataset import worker_init_fn
from mmengine.hooks import Hook
from mmengine.registry import FUNCTIONS

import marl_mm  # noqa: F401
from mmpretrain.registry import HOOKS
from tests_conftest import load_tool

REPO_ROOT = Path(__file__).resolve().parents[2]
MAX_ITERS, KILL_AFTER = 6, 4
#: the epoch-based case: 16 images, batch 4; killed in epoch 2
EPOCHS, ITERS_PER_EPOCH, KILL_AFTER_EPOCH_1 = 2, 4, 6

# the worker_init_fn mmengine uses when a config names none
FUNCTIONS.register_module(name='_mmengine_worker_init_fn',
                          module=worker_init_fn, force=True)

#: work_dir -> what the record hook saw (filled in this process)
RESULTS = {}
#: in the forked child: the iteration after which the child blocks
PAUSE = {'after': None, 'marker': None}


@HOOKS.register_module(force=True)
class _ResumeTestRecordHook(Hook):
    """Keeps val metrics, final weights and the policy hook's state."""

    priority = 'LOWEST'

    def after_val_epoch(self, runner, metrics=None) -> None:
        RESULTS.setdefault(runner.work_dir, {}).setdefault(
            'metrics', []).append((runner.iter, dict(metrics)))

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None) -> None:
        if PAUSE['after'] is not None and runner.iter + 1 == PAUSE['after']:
            Path(PAUSE['marker']).write_text(str(runner.iter + 1))
            time.sleep(300)  # the parent kills us here

    def after_train(self, runner) -> None:
        pg = [h for h in runner.hooks if type(h).__name__ ==
              'PolicyGradientHook'][0]
        RESULTS.setdefault(runner.work_dir, {}).update(
            weights={k: v.detach().clone()
                     for k, v in runner.model.state_dict().items()},
            baselines={k: dict(v) for k, v in pg.baselines.items()})


TINY_BACKBONE = dict(
    type='FeatureMapWrapper',
    backbone=dict(type='ResNet', depth=18, stem_channels=16,
                  base_channels=16, num_stages=3, strides=(1, 2, 2),
                  dilations=(1, 1, 1), out_indices=(2, )),
    out_index=-1)  # (B, 64, 4, 4) at 64 px

MODELS = {
    'rarl': dict(
        type='ImageClassifier', backbone=TINY_BACKBONE,
        head=dict(type='LSTMGlimpseHead', num_classes=8, in_channels=64,
                  feat_stride=16, num_steps=2, anchor_sizes=(16, 32),
                  roi_size=3, embed_dims=16, hidden_dims=16,
                  baseline=dict(hidden_dims=8), policy=dict(sigma=0.2),
                  loss_type='bce')),
    'rarnn': dict(
        type='ImageClassifier', backbone=TINY_BACKBONE,
        neck=dict(type='RHNContextNeck',
                  rhn=dict(type='RHN', in_channels=64, feat_dims=16,
                           spatial_size=4, num_glimpses=3),
                  context=dict(type='ContextExtractor', in_channels=64,
                               branch_channels=8)),
        head=dict(type='GRREHead', num_classes=8, in_channels=16,
                  context_channels=16, relation_channels=16, num_samples=2,
                  baseline_hidden=8)),
}


def _write_config(tmp: Path, data_root: Path, model: str,
                  rng_hook: bool = True, by_epoch: bool = False,
                  resumable_workers: bool = True) -> Path:
    # the policy warm-up ends at iteration 5: the iteration-based run is
    # killed inside it (after 4) and resumes across its end
    hooks = [dict(type='PolicyGradientHook', baseline='running_mean',
                  warmup_iters=5),
             dict(type='_ResumeTestRecordHook')]
    # RNGStateHook comes from default_runtime's default_hooks ('rng_state');
    # without it, default_hooks is rebuilt from mmengine's own hooks only
    # (mmengine refuses None for a key it does not define).
    rng_state = ("rng_state=dict(type='RNGStateHook')," if rng_hook else
                 "_delete_=True, timer=dict(type='IterTimerHook'), "
                 "param_scheduler=dict(type='ParamSchedulerHook'), "
                 "sampler_seed=dict(type='DistSamplerSeedHook'),")
    load, pack = dict(type='LoadImageFromFile'), dict(type='PackInputs')
    if by_epoch:
        # as configs/_base_/datasets/voc07_cpu_128.py: resize, random crop
        # and flip in 2 fresh workers per epoch seeded by
        # resumable_worker_init_fn. Val loads in the main process: persistent
        # val workers take 5 s each to shut down when a Runner is collected
        pipeline = [load, dict(type='Resize', scale=(72, 72)),
                    dict(type='RandomCrop', crop_size=64),
                    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
                    pack]
        val_pipeline = [load, pack]
        loader = dict(batch_size=4, num_workers=2, persistent_workers=False)
        loader['worker_init_fn'] = dict(
            type='resumable_worker_init_fn') if resumable_workers else dict(
            # mmengine's default: fixed seeds per worker
            type='_mmengine_worker_init_fn', num_workers=2, rank=0, seed=0)
        val_loader = dict(num_workers=0, persistent_workers=False)
        total = EPOCHS * ITERS_PER_EPOCH
        schedule = f"""
train_cfg = dict(_delete_=True, by_epoch=True, max_epochs={EPOCHS},
                 val_interval=1)
checkpoint = dict(type='CheckpointHook', by_epoch=True, interval=1,
                  max_keep_ckpts=5, save_last=True,
                  backend_args=dict(backend='atomic_local'))
log_processor = dict(by_epoch=True)
"""
    else:
        pipeline = [load, dict(type='RandomFlip', prob=0.5,
                               direction='horizontal'), pack]
        val_pipeline = [load, pack]
        val_loader = dict(num_workers=0, persistent_workers=False)
        loader = dict(val_loader, batch_size=2)
        total = MAX_ITERS
        schedule = f"""
train_cfg = dict(_delete_=True, type='IterBasedTrainLoop',
                 max_iters={MAX_ITERS}, val_interval=3)
checkpoint = dict(type='CheckpointHook', by_epoch=False, interval=2,
                  max_keep_ckpts=5, save_last=True,
                  backend_args=dict(backend='atomic_local'))
log_processor = dict(by_epoch=False)
"""
    text = f"""
_base_ = [{str(REPO_ROOT / 'configs' / 'rarl_resnet18_shapes.py')!r}]
model = dict(_delete_=True, **{MODELS[model]!r})
train_dataloader = dict(**{loader!r}, dataset=dict(
    data_root={str(data_root)!r}, pipeline={pipeline!r}))
val_dataloader = dict(batch_size=4, **{val_loader!r}, dataset=dict(
    data_root={str(data_root)!r}, pipeline={val_pipeline!r}))
test_dataloader = val_dataloader
optim_wrapper = dict(optimizer=dict(lr=1e-2))
param_scheduler = [dict(type='CosineAnnealingLR', by_epoch=False,
                        T_max={total}, eta_min=1e-4)]
{schedule}
default_hooks = dict(
    {rng_state}
    logger=dict(type='LoggerHook', interval=1),
    checkpoint=checkpoint)
custom_hooks = {hooks!r}
"""
    path = tmp / (f'{model}_{int(rng_hook)}{"_epoch" * by_epoch}'
                  f'{"_mmengine_workers" * (not resumable_workers)}.py')
    path.write_text(text)
    return path


@pytest.fixture(scope='module')
def setup(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('resume')
    gen = load_tool(REPO_ROOT / 'tools' / 'dataset_converters' /
                     'generate_shapes.py')
    gen.generate(str(tmp / 'shapes'), num_train=16, num_val=8, size=64,
                 max_objects=2, min_obj=8, max_obj=14)
    train = load_tool(REPO_ROOT / 'tools' / 'train.py')
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the same in the forked child
    yield tmp, train
    torch.set_num_threads(threads)


def _train(train, config: Path, work_dir: Path, name: str, *extra) -> dict:
    train.main([str(config), '--work-dir', str(work_dir), *extra,
                '--cfg-options', f'experiment_name={name}'])
    return RESULTS[str(work_dir)]


def _killed_child(train, config, work_dir, marker, after):
    PAUSE.update(after=after, marker=str(marker))
    try:
        train.main([str(config), '--work-dir', str(work_dir),
                    '--cfg-options', 'experiment_name=killed'])
    finally:
        os._exit(3)  # only reached if the kill did not happen


def _run_and_kill(train, config: Path, work_dir: Path,
                  after: int = KILL_AFTER) -> None:
    """Train in a forked child; SIGKILL it after iteration ``after``."""
    marker = work_dir.parent / f'{work_dir.name}.paused'
    child = mp.get_context('fork').Process(
        target=_killed_child, args=(train, config, work_dir, marker, after))
    child.start()
    deadline = time.time() + 120
    while not marker.exists():
        assert child.is_alive(), f'child exited early ({child.exitcode})'
        assert time.time() < deadline, \
            f'child never reached iteration {after}'
        time.sleep(0.05)
    os.kill(child.pid, signal.SIGKILL)
    # no timeout: join(timeout) waits for a pipe that the child's data-loader
    # workers hold open until their watchdog notices (5 s)
    child.join()
    assert child.exitcode == -signal.SIGKILL


def _assert_same(a: dict, b: dict) -> None:
    assert a['weights'].keys() == b['weights'].keys()
    different = [k for k, v in a['weights'].items()
                 if not torch.equal(v, b['weights'][k])]
    assert not different, different
    assert a['baselines'] == b['baselines']
    assert a['metrics'][-1] == b['metrics'][-1]


@pytest.mark.parametrize('model', ['rarl', 'rarnn'])
def test_killed_and_resumed_equals_uninterrupted(setup, model):
    tmp, train = setup
    config = _write_config(tmp, tmp / 'shapes', model)
    ref = _train(train, config, tmp / f'{model}_ref', f'{model}_ref')
    assert [it for it, _ in ref['metrics']] == [3, 6]

    work = tmp / f'{model}_killed'
    _run_and_kill(train, config, work)
    assert (work / 'last_checkpoint').read_text().strip().endswith(
        f'iter_{KILL_AFTER}.pth')
    assert not (work / f'iter_{KILL_AFTER + 2}.pth').exists()

    copy = tmp / f'{model}_killed_copy'
    shutil.copytree(work, copy)

    resumed = _train(train, config, work, f'{model}_resumed', '--resume')
    # only the val of iteration 6 ran after the resume
    assert [it for it, _ in resumed['metrics']] == [6]
    _assert_same(ref, resumed)
    assert ref['baselines'][next(iter(ref['baselines']))]['count'] == \
        MAX_ITERS

    if model == 'rarl':
        # mmengine alone (the same checkpoint, RNGStateHook left out of the
        # config) re-seeds on resume: the policy noise of iterations 5-6
        # repeats earlier noise and the weights drift.
        plain = _write_config(tmp, tmp / 'shapes', model, rng_hook=False)
        drifted = _train(train, plain, copy, f'{model}_plain', '--resume',
                         str(copy / f'iter_{KILL_AFTER}.pth'))
        assert any(not torch.equal(ref['weights'][k], drifted['weights'][k])
                   for k in ref['weights'] if k.startswith('head.loc_net.'))


def test_epoch_loop_with_workers_killed_and_resumed(setup):
    """The path the shipped configs take: ``EpochBasedTrainLoop``, a
    checkpoint every epoch, 2 fresh workers per epoch seeded by
    ``resumable_worker_init_fn``, random crop and flip in the workers,
    validation after epoch 1 (between the
    checkpoint and epoch 2). Killed in epoch 2 (iteration 6 of 8, after
    ``epoch_1.pth``), resumed from ``epoch_1.pth``: the same weights, hook
    state and metrics as 2 uninterrupted epochs. RARL only: what this case
    adds (loop, workers, seeding) is not model-specific, and RARNN doubles
    the time (~10 s)."""
    tmp, train = setup
    model = 'rarl'
    config = _write_config(tmp, tmp / 'shapes', model, by_epoch=True)
    ref = _train(train, config, tmp / f'{model}_ep_ref', f'{model}_ep_ref')
    total = EPOCHS * ITERS_PER_EPOCH
    assert [it for it, _ in ref['metrics']] == [ITERS_PER_EPOCH, total]

    work = tmp / f'{model}_ep_killed'
    _run_and_kill(train, config, work, after=KILL_AFTER_EPOCH_1)
    assert (work / 'last_checkpoint').read_text().strip().endswith(
        'epoch_1.pth')
    assert not (work / 'epoch_2.pth').exists()
    backup = tmp / f'{model}_ep_killed_copy'
    shutil.copytree(work, backup)

    resumed = _train(train, config, work, f'{model}_ep_resumed', '--resume')
    assert [it for it, _ in resumed['metrics']] == [total]
    _assert_same(ref, resumed)
    assert ref['baselines'][next(iter(ref['baselines']))]['count'] == total

    # the workers' augmentation is live and restored: the same checkpoint
    # resumed with mmengine's worker_init_fn (fixed seeds per worker) crops
    # and flips other images in epoch 2, and the weights differ
    plain = _write_config(tmp, tmp / 'shapes', model, by_epoch=True,
                          resumable_workers=False)
    drifted = _train(train, plain, backup, f'{model}_ep_plain', '--resume',
                     str(backup / 'epoch_1.pth'))
    assert any(not torch.equal(v, drifted['weights'][k])
               for k, v in ref['weights'].items() if torch.is_tensor(v))
