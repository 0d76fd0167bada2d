"""Safe checkpoint loading with checkpoints a real mmengine Runner writes.

Loading goes through ``MarlRunner`` (what marl_mm configs build) or the
opt-in ``'safe:'`` scheme; a plain ``Runner`` is left to mmengine.
"""
import os
import pickle
import stat

import numpy as np
import pytest
import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.dataset import BaseDataset
from mmengine.evaluator import BaseMetric
from mmengine.fileio import get_file_backend
from mmengine.logging import HistoryBuffer
from mmengine.model import BaseModel
from mmengine.runner import Runner, load_checkpoint
from mmengine.runner.checkpoint import CheckpointLoader
from mmpretrain.registry import DATASETS, METRICS, MODELS

import marl_mm  # noqa: F401
from marl_mm.engine import MarlRunner
from marl_mm.utils import (SAFE_GLOBALS, SAFE_PREFIX, AtomicLocalBackend,
                           UnreadableCheckpointError, UnsafeCheckpointError,
                           load_checkpoint_safe, load_from_http_safe,
                           load_from_local_safe, register_safe_scheme)
from marl_mm.utils.checkpoint import load_from_safe


@MODELS.register_module(force=True)
class _ToyModel(BaseModel):
    """Linear + BatchNorm regression (buffers and parameters to restore)."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 4)
        self.bn = nn.BatchNorm1d(4)
        self.out = nn.Linear(4, 1)

    def forward(self, inputs, target=None, mode='tensor', **kwargs):
        pred = self.out(self.bn(self.fc(inputs)))
        if mode == 'loss':
            return dict(loss=((pred - target)**2).mean())
        if mode == 'predict':
            return [dict(pred=p) for p in pred]
        return pred


@DATASETS.register_module(force=True)
class _ToyDataset(BaseDataset):
    METAINFO = dict(classes=('a', 'b'))

    def load_data_list(self):
        g = torch.Generator().manual_seed(0)
        x = torch.randn(12, 3, generator=g)
        return [dict(inputs=x[i], target=x[i, :1] * 2 - 1) for i in range(12)]


@METRICS.register_module(force=True)
class _NumpyMetric(BaseMetric):
    """Puts numpy scalars and arrays into the message hub, like real ones."""

    def process(self, data_batch, data_samples):
        self.results.append(len(data_samples))

    def compute_metrics(self, results):
        return dict(score=np.float64(0.5), per_class=np.array([0.25, 0.75]))


def _cfg(work_dir, name, max_epochs=2, **kwargs):
    loader = dict(
        # metainfo from a config becomes a ConfigDict in dataset_meta
        dataset=dict(type='_ToyDataset', metainfo=dict(extra=dict(k=1))),
        batch_size=4,
        sampler=dict(type='DefaultSampler', shuffle=True),
        collate_fn=dict(type='default_collate'))
    return Config(dict(
        default_scope='mmpretrain',  # as marl_mm configs
        model=dict(type='_ToyModel'),
        work_dir=str(work_dir),
        experiment_name=name,
        train_dataloader=loader,
        val_dataloader=loader,
        val_evaluator=dict(type='_NumpyMetric'),
        val_cfg=dict(),
        train_cfg=dict(by_epoch=True, max_epochs=max_epochs, val_interval=1),
        optim_wrapper=dict(
            optimizer=dict(type='SGD', lr=0.05, momentum=0.9)),
        param_scheduler=dict(type='MultiStepLR', milestones=[1], gamma=0.5),
        default_hooks=dict(
            logger=dict(type='LoggerHook', interval=1),
            checkpoint=dict(
                type='CheckpointHook', interval=1, save_best='score',
                rule='greater',
                backend_args=dict(backend='atomic_local'))),
        randomness=dict(seed=0),
        log_level='WARNING',
        **kwargs))


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    """A 2-epoch run; returns (work_dir, final model state)."""
    work_dir = tmp_path_factory.mktemp('ckpt_run')
    runner = Runner.from_cfg(_cfg(work_dir, 'ckpt_full'))
    runner.train()
    state = {k: v.clone() for k, v in runner.model.state_dict().items()}
    lr_hist = runner.message_hub.get_scalar('train/lr').data[0].copy()
    return work_dir, state, lr_hist


def test_allowlist_is_exactly_what_mmengine_writes(trained):
    work_dir, _, _ = trained
    path = str(work_dir / 'epoch_2.pth')
    # plain torch refuses mmengine's own checkpoint ...
    with pytest.raises(pickle.UnpicklingError):
        torch.load(path, weights_only=True)
    # ... and every global it needs beyond torch's defaults is allowlisted
    needed = set(torch.serialization.get_unsafe_globals_in_checkpoint(path))
    names = {name for _, name in SAFE_GLOBALS}
    assert needed <= names
    assert {'mmengine.logging.history_buffer.HistoryBuffer',
            'mmengine.config.config.ConfigDict', 'builtins.getattr',
            'numpy.ndarray'} <= needed
    ckpt = load_from_local_safe(path)
    hub = ckpt['message_hub']
    assert isinstance(hub['log_scalars']['train/loss'], HistoryBuffer)
    assert hub['runtime_info']['best_score'] == 0.5
    np.testing.assert_array_equal(hub['runtime_info']['val/per_class'],
                                  [0.25, 0.75])
    assert ckpt['meta']['epoch'] == 2


def test_load_from_restores_weights(trained, tmp_path):
    work_dir, state, _ = trained
    runner = MarlRunner.from_cfg(
        _cfg(tmp_path, 'ckpt_load', load_from=str(work_dir / 'epoch_2.pth')))
    runner.load_or_resume()
    for key, value in runner.model.state_dict().items():
        torch.testing.assert_close(value, state[key], rtol=0, atol=0)
    assert runner.epoch == 0  # load_from loads weights only


def test_resume_continues_identically(trained, tmp_path):
    """Resume after epoch 1 and train epoch 2: same weights as the full run."""
    work_dir, state, lr_hist = trained
    runner = MarlRunner.from_cfg(
        _cfg(tmp_path, 'ckpt_resume', resume=True,
             load_from=str(work_dir / 'epoch_1.pth')))
    runner.train()
    assert runner.epoch == 2 and runner.iter == 6
    for key, value in runner.model.state_dict().items():
        torch.testing.assert_close(value, state[key], rtol=0, atol=1e-7)
    # message hub history and the scheduler's halving came back too
    resumed_lr = runner.message_hub.get_scalar('train/lr').data[0]
    np.testing.assert_allclose(resumed_lr, lr_hist)
    np.testing.assert_allclose(lr_hist, [0.05] * 3 + [0.025] * 3)


class _ReachAttribute:
    """A payload going through ``getattr`` (allowlisted only narrowly)."""

    def __reduce__(self):
        return (getattr, (HistoryBuffer, 'register_statistics'))


def test_malicious_pickle_is_refused_and_not_executed(tmp_path,
                                                      file_payload):
    target = tmp_path / 'pwned.txt'
    evil = tmp_path / 'evil.pth'
    torch.save(dict(state_dict={}, x=file_payload(target)), str(evil))
    model = nn.Linear(2, 2)
    with pytest.raises(UnsafeCheckpointError) as info:
        # mmengine's public entry point, with marl_mm's opt-in scheme
        load_checkpoint(model, SAFE_PREFIX + str(evil))
    assert str(evil) in str(info.value)
    assert 'io.open' in str(info.value)
    assert not target.exists()
    # control: the payload is real - an unrestricted load runs it
    torch.load(str(evil), weights_only=False)
    assert target.exists()

    sneaky = tmp_path / 'sneaky.pth'
    torch.save(dict(x=_ReachAttribute()), str(sneaky))
    with pytest.raises(UnsafeCheckpointError, match='register_statistics'):
        load_from_local_safe(str(sneaky))


def test_plain_state_dict_loads(tmp_path):
    torch.manual_seed(0)
    src, dst = nn.Linear(3, 2), nn.Linear(3, 2)
    path = tmp_path / 'weights.pth'
    torch.save(src.state_dict(), str(path))
    load_checkpoint(dst, SAFE_PREFIX + str(path))
    torch.testing.assert_close(dst.weight, src.weight, rtol=0, atol=0)
    torch.testing.assert_close(dst.bias, src.bias, rtol=0, atol=0)
    with pytest.raises(FileNotFoundError, match='missing.pth'):
        load_checkpoint(dst, SAFE_PREFIX + str(tmp_path / 'missing.pth'))


def test_url_loader_is_safe_too(trained, tmp_path, file_payload):
    """file:// goes through the same download-then-load code as https://."""
    work_dir, state, _ = trained
    url = (work_dir / 'epoch_2.pth').as_uri()
    ckpt = load_from_http_safe(url, model_dir=str(tmp_path / 'cache'))
    torch.testing.assert_close(ckpt['state_dict']['fc.weight'],
                               state['fc.weight'], rtol=0, atol=0)
    evil = tmp_path / 'evil.pth'
    torch.save(dict(x=file_payload(tmp_path / 'pwned')), str(evil))
    with pytest.raises(UnsafeCheckpointError, match='evil.pth'):
        load_from_http_safe(evil.as_uri(), model_dir=str(tmp_path / 'c2'))
    assert not (tmp_path / 'pwned').exists()


def test_safe_scheme_is_added_once_and_changes_no_other():
    before = dict(CheckpointLoader._schemes)
    register_safe_scheme()
    register_safe_scheme()
    assert dict(CheckpointLoader._schemes) == before
    assert CheckpointLoader._get_checkpoint_loader('safe:/a.pth') is \
        load_from_safe
    assert CheckpointLoader._get_checkpoint_loader(
        'safe:https://x/a.pth') is load_from_safe
    # mmengine's own prefixes keep mmengine's loaders
    for path in ('/a.pth', 'https://x/a.pth', 'torchvision://resnet18',
                 'open-mmlab://x', 'mmcls://x', 's3://b/a.pth'):
        loader = CheckpointLoader._get_checkpoint_loader(path)
        assert loader.__module__ == 'mmengine.runner.checkpoint', path


def test_hub_schemes_go_through_the_safe_loader(tmp_path, monkeypatch,
                                                file_payload):
    """torchvision:// open-mmlab:// mmcls:// resolve to URLs as in mmengine,
    then download and load with weights_only (a poisoned cache refuses)."""
    from marl_mm.utils import checkpoint as ckpt_module
    evil = tmp_path / 'cache' / 'vgg.pth'
    evil.parent.mkdir()
    torch.save(dict(x=file_payload(tmp_path / 'pwned')), str(evil))
    url = 'https://example.invalid/models/vgg.pth'
    monkeypatch.setattr(ckpt_module, 'get_torchvision_models',
                        lambda: dict(vgg16=url))
    monkeypatch.setattr(ckpt_module, 'get_external_models',
                        lambda: dict(vgg=url))
    monkeypatch.setattr(ckpt_module, 'get_mmcls_models',
                        lambda: dict(vgg=url))
    monkeypatch.setattr('torch.hub.get_dir', lambda: str(tmp_path))
    (tmp_path / 'checkpoints').mkdir()
    (tmp_path / 'checkpoints' / 'vgg.pth').write_bytes(evil.read_bytes())
    for name in ('torchvision://vgg16', 'open-mmlab://vgg', 'mmcls://vgg',
                 'safe:torchvision://vgg16'):
        with pytest.raises(UnsafeCheckpointError, match='vgg.pth'):
            load_checkpoint_safe(name)
    assert not (tmp_path / 'pwned').exists()
    with pytest.raises(KeyError, match='torchvision://resnet18: unknown'):
        load_checkpoint_safe('torchvision://resnet18')


def test_empty_and_truncated_files_are_named(trained, tmp_path):
    work_dir, _, _ = trained
    whole = (work_dir / 'epoch_2.pth').read_bytes()
    empty, cut = tmp_path / 'empty.pth', tmp_path / 'cut.pth'
    empty.write_bytes(b'')
    cut.write_bytes(whole[:len(whole) // 2])
    with pytest.raises(UnreadableCheckpointError,
                       match=r"'.*empty\.pth'.*empty \(0 bytes\)"):
        load_from_local_safe(str(empty))
    with pytest.raises(UnreadableCheckpointError,
                       match=r"'.*cut\.pth'.*truncated"):
        load_from_local_safe(str(cut))


def _crafted_history_buffer():
    """A HistoryBuffer whose pickled state maps 'mean' to ``max``."""
    buf = HistoryBuffer([1.0, 5.0], [1, 1])
    buf._statistics_methods = dict(HistoryBuffer._statistics_methods,
                                   mean=HistoryBuffer.max)
    return buf


@pytest.mark.parametrize('refused', [False, True])
def test_reading_a_file_changes_no_process_state(tmp_path, file_payload,
                                                 refused):
    """HistoryBuffer.__setstate__ writes a file's statistics into the dict
    shared by every buffer; the safe loader never calls it."""
    path = tmp_path / 'crafted.pth'
    content = dict(message_hub=dict(log_scalars=dict(
        loss=_crafted_history_buffer())))
    if refused:  # the buffer is read, then the file is refused
        content['z'] = file_payload(tmp_path / 'pwned')
    torch.save(content, str(path))
    if refused:
        with pytest.raises(UnsafeCheckpointError):
            load_from_local_safe(str(path))
    else:
        loaded = load_from_local_safe(str(path))
        buf = loaded['message_hub']['log_scalars']['loss']
        assert type(buf) is HistoryBuffer
        assert buf.statistics('mean') == 3.0
        assert buf.statistics('max') == 5.0
    assert HistoryBuffer._statistics_methods['mean'] is HistoryBuffer.mean
    assert HistoryBuffer([1.0, 5.0], [1, 1]).statistics('mean') == 3.0


def test_atomic_backend_keeps_old_file_on_failure(tmp_path, monkeypatch):
    backend = get_file_backend(backend_args=dict(backend='atomic_local'))
    assert isinstance(backend, AtomicLocalBackend)
    path = tmp_path / 'sub' / 'ckpt.pth'
    backend.put(b'old', path)
    assert path.read_bytes() == b'old'
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~mask

    def crash(fd):
        raise OSError('disk full')

    monkeypatch.setattr(os, 'fsync', crash)
    with pytest.raises(OSError, match='disk full'):
        backend.put(b'new-but-interrupted', path)
    assert path.read_bytes() == b'old'
    assert os.listdir(path.parent) == ['ckpt.pth']  # no temp file left
    monkeypatch.undo()
    backend.put_text('new', path)
    assert path.read_text() == 'new'
    assert os.listdir(path.parent) == ['ckpt.pth']
