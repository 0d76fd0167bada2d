"""``--resume`` (auto) that only resumes from a complete checkpoint.

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
names a complete checkpoint, and otherwise falls back, with a warning, to
the newest complete ``iter_N.pth`` / ``epoch_N.pth`` of the work dir.
"Complete" means a readable zip archive (the format of ``torch.save``) whose
pickle record passes its CRC check; a truncated file has no zip central
directory. The file's tensors are not loaded here.

:func:`install_resume_fallback` (run when :mod:`marl_mm.utils` is imported;
idempotent) makes ``Runner.load_or_resume`` use it.
"""
import os
import os.path as osp
import re
import zipfile
from typing import List, Optional, Tuple

import mmengine.runner
import mmengine.runner.runner as mmengine_runner
from mmengine.logging import print_log

_CKPT_NAME = re.compile(r'^(epoch|iter)_(\d+)\.pth$')


def is_complete_checkpoint(path: str) -> bool:
    """Whether ``path`` is a whole ``torch.save`` file (zip format).

    Args:
        path (str): File to check.

    Returns:
        bool: False for a missing, empty, truncated or corrupted file.
    """
    if not osp.isfile(path) or osp.getsize(path) == 0:
        return False
    try:
        with zipfile.ZipFile(path) as zf:
            pickles = [n for n in zf.namelist() if n.endswith('/data.pkl')]
            if len(pickles) != 1:
                return False
            zf.read(pickles[0])  # checks the record's CRC
    except (zipfile.BadZipFile, OSError, EOFError):
        return False
    return True


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
        str or None: ``last_checkpoint``'s target if complete (also looked
        up by name in ``work_dir`` when the dir was moved), else the newest
        complete ``iter_N.pth`` / ``epoch_N.pth`` in ``work_dir``, else None.
    """
    if not osp.isdir(work_dir):
        return None
    pointer = osp.join(work_dir, 'last_checkpoint')
    named = None
    if osp.isfile(pointer):
        with open(pointer) as f:
            named = f.read().strip() or None
    if named is not None:
        for path in (named, osp.join(work_dir, osp.basename(named))):
            if is_complete_checkpoint(path):
                return path
    for path in _candidates(work_dir):
        if is_complete_checkpoint(path):
            if named is not None or osp.isfile(pointer):
                print_log(
                    f'{pointer} names {named!r}, which is missing or '
                    f'incomplete; resuming from {path}, the newest complete '
                    'checkpoint in the work dir instead', logger='current',
                    level=30)
            return path
    if named is not None:
        print_log(f'{pointer} names {named!r}, which is missing or '
                  'incomplete, and the work dir holds no other complete '
                  'checkpoint; training starts from scratch',
                  logger='current', level=30)
    else:
        print_log(f'No checkpoint to resume from in {work_dir}.',
                  logger='current')
    return None


def install_resume_fallback() -> None:
    """Make mmengine's auto-resume use the checked lookup.

    ``Runner.load_or_resume`` then calls
    :func:`find_latest_complete_checkpoint`.

    Replaces ``find_latest_checkpoint`` in ``mmengine.runner.runner`` (the
    name ``Runner.load_or_resume`` calls) and in ``mmengine.runner``.
    Idempotent.
    """
    mmengine_runner.find_latest_checkpoint = find_latest_complete_checkpoint
    mmengine.runner.find_latest_checkpoint = find_latest_complete_checkpoint
