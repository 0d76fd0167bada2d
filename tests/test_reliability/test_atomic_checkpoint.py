"""Atomic checkpoints: an interrupted save never leaves a partial file under
the final name, and auto-resume picks the newest complete checkpoint.

* A Runner whose third checkpoint save fails (the disk fills up: ``fsync``
  raises after the bytes were written) keeps iter_1/iter_2, has no
  ``iter_3.pth`` and no temporary file, and ``last_checkpoint`` still names
  iter_2. Resumed automatically (what ``tools/train.py --resume`` does)
  after a truncated ``iter_3.pth`` was planted and named in
  ``last_checkpoint``, it continues from iter_2 and ends with exactly the
  weights of an uninterrupted run.
* A process killed with SIGKILL half-way through writing a 4 MB checkpoint:
  with ``AtomicLocalBackend`` the old file is intact and the half is in a
  hidden temporary file; with mmengine's ``LocalBackend`` the final name
  holds the truncated half (the failure this backend prevents).
* ``find_latest_complete_checkpoint`` for every broken ``last_checkpoint``
  (empty, missing target, truncated target, moved work dir, nothing left),
  where mmengine's ``find_latest_checkpoint`` returns the bad name.
* Nothing a user has is lost: a newest checkpoint in torch's legacy
  (non-zip) format is resumed from, not skipped; a ``last_checkpoint`` naming
  a remote path is kept; a work dir whose checkpoints are all unusable stops
  the run naming them instead of training from scratch over them.
"""
import multiprocessing as mp
import os
import signal
import time

import mmengine.fileio.backends.local_backend as local_backend_module
import pytest
import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.dataset import BaseDataset
from mmengine.fileio import LocalBackend, get_file_backend
from mmengine.model import BaseModel
from mmengine.runner import Runner
from mmengine.runner import checkpoint as mmengine_checkpoint
from mmpretrain.registry import DATASETS, MODELS

import marl_mm  # noqa: F401
import marl_mm.utils.atomic_local_backend as atomic_module
from marl_mm.engine import MarlRunner
from marl_mm.utils import (AtomicLocalBackend, ResumeError,
                           UnreadableCheckpointError, UnsafeCheckpointError,
                           checkpoint_state,
                           find_latest_complete_checkpoint,
                           is_complete_checkpoint)


@MODELS.register_module(force=True)
class _AtomicToyModel(BaseModel):

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 4)
        self.out = nn.Linear(4, 1)

    def forward(self, inputs, target=None, mode='tensor', **kwargs):
        pred = self.out(torch.relu(self.fc(inputs)))
        if mode == 'loss':
            return dict(loss=((pred - target)**2).mean())
        return pred


@DATASETS.register_module(force=True)
class _AtomicToyDataset(BaseDataset):

    def load_data_list(self):
        g = torch.Generator().manual_seed(0)
        x = torch.randn(16, 3, generator=g)
        return [dict(inputs=x[i], target=x[i, :1] * 2 - 1) for i in range(16)]


def _cfg(work_dir, name, resume=False):
    return Config(dict(
        default_scope='mmpretrain',
        model=dict(type='_AtomicToyModel'),
        work_dir=str(work_dir),
        experiment_name=name,
        train_dataloader=dict(
            dataset=dict(type='_AtomicToyDataset'), batch_size=2,
            sampler=dict(type='DefaultSampler', shuffle=True),
            collate_fn=dict(type='default_collate')),
        train_cfg=dict(type='IterBasedTrainLoop', max_iters=5),
        optim_wrapper=dict(optimizer=dict(type='Adam', lr=0.01)),
        default_hooks=dict(checkpoint=dict(
            type='CheckpointHook', by_epoch=False, interval=1,
            max_keep_ckpts=3, backend_args=dict(backend='atomic_local'))),
        custom_hooks=[dict(type='RNGStateHook')],
        randomness=dict(seed=0),
        resume=resume,
        log_level='WARNING'))


def _weights(runner):
    return {k: v.detach().clone()
            for k, v in runner.model.state_dict().items()}


def test_failed_save_leaves_previous_checkpoint_and_resume_uses_it(
        tmp_path, monkeypatch):
    reference = Runner.from_cfg(_cfg(tmp_path / 'ref', 'atomic_ref'))
    reference.train()
    expected = _weights(reference)

    work = tmp_path / 'run'
    real_fsync = os.fsync

    def fsync_disk_full(fd):
        if 'iter_3.pth' in os.readlink(f'/proc/self/fd/{fd}'):
            raise OSError(28, 'No space left on device')
        return real_fsync(fd)

    monkeypatch.setattr(os, 'fsync', fsync_disk_full)
    with pytest.raises(OSError, match='No space left'):
        Runner.from_cfg(_cfg(work, 'atomic_fail')).train()
    monkeypatch.undo()
    files = sorted(os.listdir(work))
    assert 'iter_3.pth' not in files
    assert not [f for f in files if f.endswith('.tmp')], files
    assert {'iter_1.pth', 'iter_2.pth'} <= set(files)
    assert (work / 'last_checkpoint').read_text().endswith('iter_2.pth')

    # as if an older, non-atomic writer had been killed while saving iter_3
    whole = (work / 'iter_2.pth').read_bytes()
    (work / 'iter_3.pth').write_bytes(whole[:len(whole) // 2])
    (work / 'last_checkpoint').write_text(str(work / 'iter_3.pth'))
    assert mmengine_checkpoint.find_latest_checkpoint(str(work)).endswith(
        'iter_3.pth')  # mmengine alone would resume from the broken file

    assert find_latest_complete_checkpoint(str(work)) == str(
        work / 'iter_2.pth')
    resumed = MarlRunner.from_cfg(_cfg(work, 'atomic_resume', resume=True))
    resumed.train()
    assert resumed.iter == 5
    got = _weights(resumed)
    assert all(torch.equal(expected[k], got[k]) for k in expected)


def _half_write_then_wait(module, make_backend, path, payload, marker):
    """Child: write half of ``payload``, tell the parent, wait to be killed."""

    class HalfFile:

        def __init__(self, f):
            self.f = f

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

        def write(self, data):
            self.f.write(data[:len(data) // 2])
            self.f.flush()
            open(marker, 'w').close()
            time.sleep(300)

        def __getattr__(self, name):
            return getattr(self.f, name)

    if module is atomic_module:
        real = os.fdopen
        os.fdopen = lambda fd, mode='r': HalfFile(real(fd, mode))
    else:
        module.open = lambda p, mode='r': HalfFile(open(p, mode))
    try:
        make_backend().put(payload, path)
    finally:
        os._exit(3)  # only reached if the kill did not happen


def _kill_half_way(tmp_path, module, make_backend):
    folder = tmp_path / module.__name__.rsplit('.', 1)[-1]
    folder.mkdir()
    path = folder / 'epoch_7.pth'
    old = b'old complete checkpoint'
    path.write_bytes(old)
    payload = bytes(range(256)) * (4 * 4096)  # 4 MiB
    marker = tmp_path / f'{folder.name}.half'
    child = mp.get_context('fork').Process(
        target=_half_write_then_wait,
        args=(module, make_backend, str(path), payload, str(marker)))
    child.start()
    deadline = time.time() + 60
    while not marker.exists():
        assert child.is_alive() and time.time() < deadline
        time.sleep(0.02)
    os.kill(child.pid, signal.SIGKILL)
    child.join(30)
    assert child.exitcode == -signal.SIGKILL
    return folder, path, old, payload


def test_sigkill_mid_write_atomic_vs_plain_backend(tmp_path):
    folder, path, old, payload = _kill_half_way(
        tmp_path, atomic_module,
        lambda: get_file_backend(backend_args=dict(backend='atomic_local')))
    assert isinstance(get_file_backend(
        backend_args=dict(backend='atomic_local')), AtomicLocalBackend)
    assert path.read_bytes() == old  # the final name is untouched
    tmp = [f for f in os.listdir(folder) if f.endswith('.tmp')]
    assert len(tmp) == 1 and tmp[0].startswith('.epoch_7.pth.')
    assert (folder / tmp[0]).stat().st_size == len(payload) // 2

    folder, path, old, payload = _kill_half_way(
        tmp_path, local_backend_module, LocalBackend)
    assert path.stat().st_size == len(payload) // 2  # truncated in place
    assert os.listdir(folder) == ['epoch_7.pth']


def test_find_latest_complete_checkpoint(tmp_path):
    good = tmp_path / 'iter_4.pth'
    torch.save({'meta': {'iter': 4}}, good)
    torch.save({'meta': {'iter': 2}}, tmp_path / 'iter_2.pth')
    whole = good.read_bytes()
    (tmp_path / 'iter_6.pth').write_bytes(whole[:len(whole) - 30])
    pointer = tmp_path / 'last_checkpoint'
    assert is_complete_checkpoint(str(good))
    assert not is_complete_checkpoint(str(tmp_path / 'iter_6.pth'))
    assert not is_complete_checkpoint(str(tmp_path / 'nothing.pth'))

    pointer.write_text(str(tmp_path / 'iter_2.pth'))  # intact: kept as is
    assert find_latest_complete_checkpoint(str(tmp_path)) == \
        str(tmp_path / 'iter_2.pth')
    for text in ('', str(tmp_path / 'iter_6.pth'),  # empty, truncated
                 str(tmp_path / 'iter_8.pth')):  # never written
        pointer.write_text(text)
        assert find_latest_complete_checkpoint(str(tmp_path)) == str(good)
    assert mmengine_checkpoint.find_latest_checkpoint(str(tmp_path)) == \
        str(tmp_path / 'iter_8.pth')
    # the work dir moved: the named file is found by its name
    pointer.write_text('/elsewhere/old_work_dir/iter_2.pth')
    assert find_latest_complete_checkpoint(str(tmp_path)) == \
        str(tmp_path / 'iter_2.pth')
    # no pointer at all (killed before the first last_checkpoint): newest
    pointer.unlink()
    assert find_latest_complete_checkpoint(str(tmp_path)) == str(good)
    # nothing usable left: stop naming the file, never train over it
    good.unlink()
    (tmp_path / 'iter_2.pth').unlink()
    with pytest.raises(ResumeError, match=r'iter_6\.pth \(truncated\)'):
        find_latest_complete_checkpoint(str(tmp_path))
    # no checkpoint at all: nothing to lose, start from scratch
    (tmp_path / 'iter_6.pth').unlink()
    assert find_latest_complete_checkpoint(str(tmp_path)) is None
    assert find_latest_complete_checkpoint(str(tmp_path / 'absent')) is None


def test_files_resume_never_skips(tmp_path):
    """Legacy-format and remote checkpoints are used, not skipped."""
    legacy = tmp_path / 'iter_4.pth'
    torch.save({'meta': {'iter': 4}}, legacy,
               _use_new_zipfile_serialization=False)
    torch.save({'meta': {'iter': 2}}, tmp_path / 'iter_2.pth')
    assert checkpoint_state(str(legacy)) == 'other'
    assert not is_complete_checkpoint(str(legacy))
    pointer = tmp_path / 'last_checkpoint'
    pointer.write_text(str(legacy))
    assert find_latest_complete_checkpoint(str(tmp_path)) == str(legacy)
    pointer.unlink()  # also as the newest file without a pointer
    assert find_latest_complete_checkpoint(str(tmp_path)) == str(legacy)
    pointer.write_text('s3://bucket/run/iter_9.pth')  # as mmengine
    assert find_latest_complete_checkpoint(str(tmp_path)) == \
        's3://bucket/run/iter_9.pth'
    assert mmengine_checkpoint.find_latest_checkpoint(str(tmp_path)) == \
        's3://bucket/run/iter_9.pth'


def test_legacy_format_resume_keeps_the_users_file(tmp_path):
    """--resume on a work dir whose newest checkpoint is in torch's legacy
    format resumes from it (same weights as the uninterrupted run), and the
    file is still there, byte for byte, until training saves past it."""
    reference = Runner.from_cfg(_cfg(tmp_path / 'ref', 'legacy_ref'))
    reference.train()
    expected = _weights(reference)

    work = tmp_path / 'run'
    first = Runner.from_cfg(_cfg(work, 'legacy_first'))
    first.train()
    # re-save iter_3 in the legacy format, as an older tool would have
    ckpt = torch.load(str(work / 'iter_3.pth'), weights_only=False)
    for name in ('iter_4.pth', 'iter_5.pth'):
        (work / name).unlink()
    torch.save(ckpt, str(work / 'iter_3.pth'),
               _use_new_zipfile_serialization=False)
    (work / 'last_checkpoint').write_text(str(work / 'iter_3.pth'))
    legacy_bytes = (work / 'iter_3.pth').read_bytes()
    assert not is_complete_checkpoint(str(work / 'iter_3.pth'))

    resumed = MarlRunner.from_cfg(_cfg(work, 'legacy_resume', resume=True))
    resumed.train()
    assert resumed.iter == 5
    got = _weights(resumed)
    assert all(torch.equal(expected[k], got[k]) for k in expected)
    assert (work / 'iter_3.pth').read_bytes() == legacy_bytes


def test_unreadable_newest_checkpoint_stops_the_run(tmp_path):
    """A legacy-format file that cannot be read stops --resume with its
    name; it is not skipped, and nothing overwrites it."""
    work = tmp_path / 'run'
    Runner.from_cfg(_cfg(work, 'unreadable_first')).train()
    for name in ('iter_4.pth', 'iter_5.pth'):
        (work / name).unlink()
    bad = work / 'iter_3.pth'
    bad.write_bytes(b'\x80\x02not really a legacy torch file')
    (work / 'last_checkpoint').write_text(str(bad))
    def files():
        return {p.name: p.read_bytes() for p in work.iterdir()
                if p.suffix == '.pth' or p.name == 'last_checkpoint'}

    before = files()
    runner = MarlRunner.from_cfg(_cfg(work, 'unreadable_resume', resume=True))
    with pytest.raises((UnreadableCheckpointError, UnsafeCheckpointError),
                       match=r'iter_3\.pth'):
        runner.train()
    assert files() == before
