"""Safe checkpoint loading: the one place where marl_mm unpickles files.

Why
---
torch >= 2.6 loads with ``weights_only=True`` by default, and mmengine 0.10.7
calls plain ``torch.load``: its own checkpoints (message hub with
``HistoryBuffer`` and numpy values, ``ConfigDict`` in the dataset meta...) then
fail to load, which breaks ``load_from`` and ``--resume``. Loading with
``weights_only=False`` instead would run any code a downloaded or tampered
file carries. This module keeps ``weights_only=True`` and allows, besides
what torch allows (tensors, containers, ``OrderedDict``, ``Counter``...),
exactly the extra types mmengine writes, listed in :data:`SAFE_GLOBALS`.

How it is hooked in
-------------------
:func:`install_safe_checkpoint_loader` (run once when ``marl_mm`` is
imported; idempotent) registers :func:`load_from_local_safe` for local paths
(prefix ``''``) and :func:`load_from_http_safe` for ``http://`` and
``https://`` with mmengine's ``CheckpointLoader.register_scheme(...,
force=True)``. Every mmengine path goes through ``CheckpointLoader``:
``Runner.load_checkpoint`` (``load_from``), ``Runner.resume``,
``mmengine.runner.load_checkpoint`` and ``init_cfg=dict(type='Pretrained')``.
mmengine's ``torchvision://``, ``open-mmlab://`` and ``mmcls://`` schemes are
left alone (marl_mm configs use plain URLs); they call mmengine's own HTTP
loader.

A file that needs any other global is refused with
:class:`UnsafeCheckpointError`, naming the file and the offending globals;
its pickle payload is never executed. If you trust such a file, load it
yourself with ``torch.load(path, weights_only=False)`` and re-save the
``state_dict``. Known mmengine states outside the list, refused on purpose:
``OneCycleParamScheduler`` (its state holds a bound method, i.e. the whole
scheduler object) and statistics registered with
``HistoryBuffer.register_statistics`` (arbitrary functions).

Atomic saving lives in :mod:`marl_mm.utils.atomic_local_backend`.
"""
import os
import os.path as osp
import pickle
from typing import Any, Callable, List, Optional, Tuple, Union

import numpy as np
import torch
from mmengine.config import ConfigDict
from mmengine.dist import barrier, get_dist_info
from mmengine.logging import HistoryBuffer
from mmengine.runner.checkpoint import CheckpointLoader

#: The statistics ``HistoryBuffer`` registers on itself; ``__getstate__``
#: stores them and pickle writes each as ``getattr(HistoryBuffer, name)``.
_HISTORY_BUFFER_METHODS = ('min', 'max', 'current', 'mean')


class UnsafeCheckpointError(pickle.UnpicklingError):
    """A checkpoint needs a global that is not in :data:`SAFE_GLOBALS`."""


def _history_buffer_getattr(obj: Any, name: str) -> Callable:
    """Stand-in for ``builtins.getattr`` while unpickling.

    Pickle stores the methods ``HistoryBuffer`` keeps in its state as
    ``getattr(HistoryBuffer, 'mean')``. Allowing the real ``getattr`` would
    let a file reach any attribute of any allowed object; this one only
    returns those four methods.
    """
    if obj is HistoryBuffer and name in _HISTORY_BUFFER_METHODS:
        return getattr(HistoryBuffer, name)
    allowed = ', '.join(f'HistoryBuffer.{m}' for m in _HISTORY_BUFFER_METHODS)
    raise UnsafeCheckpointError(
        f'getattr({obj!r}, {name!r}) is not allowed while loading a '
        f'checkpoint; only {allowed} are.')


def _numpy_global(name: str) -> Any:
    """``numpy._core.multiarray.<name>`` (numpy 2) or ``numpy.core...`` (1)."""
    core = getattr(np, '_core', None) or np.core
    return getattr(core.multiarray, name)


#: The globals (besides torch's own defaults) that mmengine checkpoints
#: contain, each as ``(object, name in the pickle)``. Found by saving
#: checkpoints from a Runner (epoch and best checkpoints, EMA, validation
#: metrics, dataset meta) and listing what ``weights_only=True`` refuses.
SAFE_GLOBALS: List[Tuple[Any, str]] = [
    # message_hub.log_scalars: one HistoryBuffer per logged scalar.
    (HistoryBuffer, 'mmengine.logging.history_buffer.HistoryBuffer'),
    # HistoryBuffer.__getstate__ stores its statistics methods.
    (_history_buffer_getattr, 'builtins.getattr'),
    # HistoryBuffer's history arrays and numpy values in runtime_info
    # ('eta', 'best_score', metric results): arrays, scalars, dtypes.
    # Both spellings: numpy 2 writes numpy._core, numpy 1 numpy.core.
    (np.ndarray, 'numpy.ndarray'),
    (np.dtype, 'numpy.dtype'),
    (_numpy_global('_reconstruct'), 'numpy._core.multiarray._reconstruct'),
    (_numpy_global('_reconstruct'), 'numpy.core.multiarray._reconstruct'),
    (_numpy_global('scalar'), 'numpy._core.multiarray.scalar'),
    (_numpy_global('scalar'), 'numpy.core.multiarray.scalar'),
    # dataset_meta (meta and runtime_info) holds ConfigDicts when the
    # dataset's metainfo came from a config.
    (ConfigDict, 'mmengine.config.config.ConfigDict'),
]
# Unpickling a dtype calls __setstate__ on it, which torch allows only for
# allowlisted types; since numpy 1.25 np.dtype('f8') is an instance of
# numpy.dtypes.Float64DType, so the dtype classes are needed too.
_DTYPES = getattr(np, 'dtypes', None)
if _DTYPES is not None:
    SAFE_GLOBALS += [(getattr(_DTYPES, n), f'numpy.dtypes.{n}')
                     for n in dir(_DTYPES) if n.endswith('DType')]
_SAFE_NAMES = frozenset(name for _, name in SAFE_GLOBALS)


def _refused_globals(filename: str) -> List[str]:
    """Globals in ``filename`` that neither torch nor this module allows.

    Reads the pickle's opcodes without executing them.
    """
    try:
        found = torch.serialization.get_unsafe_globals_in_checkpoint(filename)
    except Exception:  # legacy (non-zip) format: no static listing
        return []
    return sorted(set(found) - _SAFE_NAMES)


def safe_torch_load(filename: str,
                    map_location: Optional[Union[str, torch.device,
                                                 Callable]] = None) -> Any:
    """``torch.load(weights_only=True)`` with :data:`SAFE_GLOBALS` allowed.

    Args:
        filename (str): Path of a checkpoint file.
        map_location: As for :func:`torch.load`.

    Returns:
        Any: The loaded object (usually a dict).

    Raises:
        UnsafeCheckpointError: The file needs a global outside the allowlist.
    """
    try:
        with torch.serialization.safe_globals(SAFE_GLOBALS):
            return torch.load(
                filename, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        refused = _refused_globals(filename)
        what = (f'the globals {refused}' if refused else
                'an object outside the allowlist')
        raise UnsafeCheckpointError(
            f'Refused to load checkpoint {filename!r}: it needs {what}, which '
            'marl_mm does not unpickle (allowed: torch defaults plus '
            'marl_mm.utils.checkpoint.SAFE_GLOBALS). Nothing in it was '
            'executed. If you trust the file, load it with torch.load(..., '
            f'weights_only=False) and re-save its state_dict. Torch said: {e}'
        ) from e


def load_from_local_safe(filename: str,
                         map_location: Optional[Union[str, torch.device,
                                                      Callable]] = None
                         ) -> Any:
    """mmengine checkpoint-loader scheme for local paths (prefix ``''``).

    Args:
        filename (str): Local path; ``~`` is expanded.
        map_location: As for :func:`torch.load`.

    Returns:
        Any: The loaded checkpoint.
    """
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'Checkpoint {filename!r} can not be found.')
    return safe_torch_load(filename, map_location)


def load_from_http_safe(filename: str,
                        map_location: Optional[Union[str, torch.device,
                                                     Callable]] = None,
                        model_dir: Optional[str] = None,
                        progress: bool = False) -> Any:
    """mmengine checkpoint-loader scheme for ``http://`` and ``https://``.

    Downloads into torch's hub cache (``$TORCH_HOME/hub/checkpoints``) on
    local rank 0 first, as mmengine's loader does, then loads the file safely.

    Args:
        filename (str): URL.
        map_location: As for :func:`torch.load`.
        model_dir (str, optional): Cache folder. Defaults to torch's.
        progress (bool): Show a download progress bar.

    Returns:
        Any: The loaded checkpoint.
    """
    from torch.hub import download_url_to_file, get_dir
    from urllib.parse import urlparse

    model_dir = model_dir or osp.join(get_dir(), 'checkpoints')
    cached = osp.join(model_dir, osp.basename(urlparse(filename).path))
    rank, world_size = get_dist_info()
    if rank == 0 and not osp.isfile(cached):
        os.makedirs(model_dir, exist_ok=True)
        download_url_to_file(filename, cached, progress=progress)
    if world_size > 1:
        barrier()
    return safe_torch_load(cached, map_location)


def install_safe_checkpoint_loader() -> None:
    """Route mmengine's local and HTTP(S) checkpoint loading through here.

    Idempotent: calling it again registers the same functions again.

    Raises:
        ImportError: torch is older than 2.5 (no ``safe_globals``).
    """
    if not hasattr(torch.serialization, 'safe_globals'):
        raise ImportError(
            f'marl_mm needs torch>=2.5 for safe checkpoint loading '
            f'(torch.serialization.safe_globals); found {torch.__version__}.')
    CheckpointLoader.register_scheme('', load_from_local_safe, force=True)
    CheckpointLoader.register_scheme(('http://', 'https://'),
                                     load_from_http_safe, force=True)
