"""Atomic writes for local files, as an mmengine file backend.

mmengine writes checkpoints with ``LocalBackend.put``, which opens the target
and writes into it: a job killed mid-write leaves a truncated ``epoch_N.pth``
(and ``last_checkpoint`` pointing at it), and ``--resume`` then fails.
:class:`AtomicLocalBackend` subclasses ``LocalBackend`` and only changes how
bytes reach the disk: write to a hidden temporary file in the same folder,
flush and ``fsync`` it, then ``os.replace`` it onto the target (atomic on
POSIX and Windows). Readers see the old file or the new one, never a part.

Use it for checkpoints through the ``backend_args`` that mmengine's
``CheckpointHook`` passes on to ``Runner.save_checkpoint``::

    default_hooks = dict(checkpoint=dict(
        type='CheckpointHook', backend_args=dict(backend='atomic_local')))
"""
import os
import os.path as osp
import tempfile
from pathlib import Path
from typing import Union

from mmengine.fileio import LocalBackend, register_backend
from mmengine.utils import mkdir_or_exist


def _umask() -> int:
    """The process umask (read by setting and restoring it)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


@register_backend('atomic_local')
class AtomicLocalBackend(LocalBackend):
    """``LocalBackend`` whose ``put``/``put_text`` replace files atomically.

    New files get the permissions a plain ``open(path, 'w')`` would give
    (``0o666`` minus the umask).
    """

    def put(self, obj: bytes, filepath: Union[str, Path]) -> None:
        """Write ``obj`` to ``filepath`` atomically, creating its folder.

        Args:
            obj (bytes): Data to write.
            filepath (str or Path): Target path.
        """
        filepath = osp.abspath(str(filepath))
        folder = osp.dirname(filepath)
        mkdir_or_exist(folder)
        fd, tmp = tempfile.mkstemp(
            dir=folder, prefix=f'.{osp.basename(filepath)}.', suffix='.tmp')
        try:
            with os.fdopen(fd, 'wb') as f:
                f.write(obj)
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, 0o666 & ~_umask())
            os.replace(tmp, filepath)
        except BaseException:
            if osp.exists(tmp):
                os.remove(tmp)
            raise
        if hasattr(os, 'O_DIRECTORY'):  # persist the rename itself (POSIX)
            dir_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)

    def put_text(self,
                 obj: str,
                 filepath: Union[str, Path],
                 encoding: str = 'utf-8') -> None:
        """Write text to ``filepath`` atomically (see :meth:`put`).

        Args:
            obj (str): Text to write.
            filepath (str or Path): Target path.
            encoding (str): Text encoding. Defaults to 'utf-8'.
        """
        self.put(obj.encode(encoding), filepath)
