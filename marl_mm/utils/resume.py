"""``--resume`` (auto) that resumes from the newest checkpoint it can, and
never trains over one it cannot read.

mmengine 0.10.7 finds the checkpoint to resume from with
``find_latest_checkpoint(work_dir)``: it returns whatever the text file
``work_dir/last_checkpoint`` says, unchecked. ``CheckpointHook`` writes that
file with a plain ``open(..., 'w')`` after each save, and with
``max_keep_ckpts`` it deletes the oldest checkpoint *before* writing the new
one. So a job killed at the wrong moment leaves ``last_checkpoint`` empty
(``Runner.resume('')`` then fails), pointing at a checkpoint that never got
written or was deleted, or (without :class:`AtomicLocalBackend`) at a
truncated file; and a work dir moved elsewhere holds absolute paths to the
old place.

:func:`find_latest_complete_checkpoint` keeps mmengine's answer when it
names a checkpoint that may be read, and otherwise falls back, with a
warning, to the newest complete ``iter_N.pth`` / ``epoch_N.pth`` of the work
dir. What it does with each kind of file (:func:`checkpoint_state`):

* ``'zip'`` - a whole ``torch.save`` archive (its pickle record passes the
  zip CRC check; the tensors are not loaded here): used.
* ``'other'`` - a non-empty file that is not a zip archive (torch's legacy
  format, ``_use_new_zipfile_serialization=False``), or a remote path
  (``s3://...``): used as it is. Reading it either works or stops the run
  with an error naming it (:mod:`marl_mm.utils.checkpoint`); it is never
  skipped, so training never starts over it.
* ``'empty'`` / ``'truncated'`` (a zip archive cut short: what a killed
  non-atomic write leaves) / ``'missing'``: skipped for an older complete
  checkpoint, with a warning naming it. If the work dir holds checkpoint
  files but none of them can be used, :class:`ResumeError` names them and
  the run stops instead of starting from scratch.

:class:`marl_mm.engine.MarlRunner` (``runner_type='MarlRunner'``) resumes
through it; mmengine's own ``find_latest_checkpoint`` is not changed.
"""
import os
import os.path as osp
import re
import zipfile
from typing import List, Optional, Tuple

from mmengine.logging import print_log

_CKPT_NAME = re.compile(r'^(epoch|iter)_(\d+)\.pth$')
_ZIP_MAGIC = b'PK\x03\x04'


class ResumeError(RuntimeError):
    """``--resume`` found checkpoints but none it can resume from."""


def checkpoint_state(path: str) -> str:
    """What ``path`` holds, as far as resuming is concerned.

    Args:
        path (str): A checkpoint path, local or remote (``'s3://...'``).

    Returns:
        str: ``'zip'`` (a complete ``torch.save`` archive), ``'other'`` (a
        remote path, or a non-empty file in another format such as torch's
        legacy one), ``'empty'``, ``'truncated'`` (a cut or corrupted zip
        archive) or ``'missing'``.
    """
    if '://' in path:
        return 'other'
    if not osp.isfile(path):
        return 'missing'
    if osp.getsize(path) == 0:
        return 'empty'
    with open(path, 'rb') as f:
        if f.read(len(_ZIP_MAGIC)) != _ZIP_MAGIC:
            return 'other'
    try:
        with zipfile.ZipFile(path) as zf:
            pickles = [n for n in zf.namelist() if n.endswith('/data.pkl')]
            if len(pickles) != 1:
                return 'truncated'
            zf.read(pickles[0])  # checks the record's CRC
    except (zipfile.BadZipFile, OSError, EOFError):
        return 'truncated'
    return 'zip'


def is_complete_checkpoint(path: str) -> bool:
    """Whether ``path`` is a whole ``torch.save`` file (zip format).

    Args:
        path (str): File to check.

    Returns:
        bool: False for a missing, empty, truncated or corrupted file, and
        for a file in another format.
    """
    return checkpoint_state(path) == 'zip'


def _usable(path: str) -> bool:
    """Whether resuming may pick ``path`` (see the module docstring)."""
    return checkpoint_state(path) in ('zip', 'other')


def _candidates(work_dir: str) -> List[str]:
    """``iter_N.pth`` / ``epoch_N.pth`` of ``work_dir``, newest first.

    Ordered by N when all have the same prefix, else by modification time.
    """
    found: List[Tuple[str, int, str]] = []
    for name in os.listdir(work_dir):
        match = _CKPT_NAME.match(name)
        if match and osp.isfile(osp.join(work_dir, name)):
            found.append((match.group(1), int(match.group(2)), name))
    if len({kind for kind, _, _ in found}) > 1:
        found.sort(key=lambda f: osp.getmtime(osp.join(work_dir, f[2])),
                   reverse=True)
    else:
        found.sort(key=lambda f: f[1], reverse=True)
    return [osp.join(work_dir, name) for _, _, name in found]


def find_latest_complete_checkpoint(work_dir: str) -> Optional[str]:
    """The checkpoint ``--resume`` (auto) should use, or ``None``.

    Args:
        work_dir (str): The run's work dir (where ``last_checkpoint`` is).

    Returns:
        str or None: ``last_checkpoint``'s target if usable (also looked up
        by name in ``work_dir`` when the dir was moved), else the newest
        usable ``iter_N.pth`` / ``epoch_N.pth`` in ``work_dir``, else None
        when the work dir holds no checkpoint at all.

    Raises:
        ResumeError: ``last_checkpoint`` or the work dir names checkpoints,
            but none can be used; the message lists each with its state.
    """
    if not osp.isdir(work_dir):
        return None
    pointer = osp.join(work_dir, 'last_checkpoint')
    named = None
    if osp.isfile(pointer):
        with open(pointer) as f:
            named = f.read().strip() or None
    tried = []
    if named is not None:
        for path in dict.fromkeys(
                (named, osp.join(work_dir, osp.basename(named)))):
            if _usable(path):
                return path
            tried.append(path)
    for path in _candidates(work_dir):
        if _usable(path):
            if osp.isfile(pointer):
                print_log(
                    f'{pointer} names {named!r}, which is missing, empty or '
                    f'truncated; resuming from {path}, the newest usable '
                    'checkpoint in the work dir instead', logger='current',
                    level=30)
            return path
        tried.append(path)
    broken = [p for p in tried if checkpoint_state(p) != 'missing']
    if broken or named is not None:
        states = ', '.join(f'{p} ({checkpoint_state(p)})'
                           for p in dict.fromkeys(tried))
        raise ResumeError(
            f'--resume found no checkpoint to resume from in {work_dir}: '
            f'{states}. Training from scratch would overwrite them, so the '
            'run stops. Resume from a given file with --resume <file> '
            '(load_from), or move these files away to start from scratch.')
    print_log(f'No checkpoint to resume from in {work_dir}.',
              logger='current')
    return None
