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

Weights that do not fit the model
---------------------------------
mmengine loads ``load_from`` with ``strict=False`` and prints the missing /
unexpected / size-mismatched keys to stdout (not the log); the tensors it
cannot load keep their random initialisation, so testing a checkpoint of
another model gave silently wrong metrics. :func:`load_checkpoint_checked`
compares the checkpoint's ``state_dict`` with the model (names and shapes)
before loading, in one of two modes:

* ``'exact'`` - testing, inference, ``--resume``: every weight of the model
  must come from the checkpoint with the model's shape, else
  :class:`CheckpointMismatchError` names the file and the keys. Keys only in
  the checkpoint are logged at WARNING (they change nothing), as are missing
  ``_extra_state`` entries (training counters, absent from older files).
* ``'partial'`` - ``load_from`` in training, the one documented permissive
  case: a checkpoint that covers part of the model (a backbone-only
  checkpoint, or a trained model whose head you replace) loads what it has;
  the lists of keys left initialised and keys ignored go to the log
  (``MMLogger``) at WARNING. A size mismatch, or a checkpoint with no key
  in common with the model, still raises: drop those tensors from the file
  if you mean to re-initialise them.

:func:`install_checked_runner_loading` (run when :mod:`marl_mm.utils` is
imported) makes ``Runner.load_checkpoint`` use it: ``'partial'`` for
``load_from`` in ``Runner.train``, ``'exact'`` for ``Runner.test`` /
``Runner.val`` (``tools/test.py``, ``tools/ensemble_test.py``), for
``--resume`` and for an explicit ``strict=True``. ``MultiLabelInferencer``
loads through it with ``'exact'``.

Atomic saving lives in :mod:`marl_mm.utils.atomic_local_backend`.
"""
import logging
import os
import os.path as osp
import pickle
import re
from collections import OrderedDict
from typing import (Any, Callable, List, Mapping, NamedTuple, Optional,
                    Sequence, Tuple, Union)

import numpy as np
import torch
import torch.nn as nn
from mmengine.config import ConfigDict
from mmengine.dist import barrier, get_dist_info
from mmengine.logging import HistoryBuffer, print_log
from mmengine.model import is_model_wrapper
from mmengine.runner import BaseLoop, Runner
from mmengine.runner.checkpoint import CheckpointLoader, _load_checkpoint

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


# ------------------------------------------------- weights vs the model
class CheckpointMismatchError(RuntimeError):
    """A checkpoint's weights do not fit the model (file and keys named)."""


class StateDictDiff(NamedTuple):
    """How a checkpoint's ``state_dict`` differs from a model's."""
    missing: List[str]  #: in the model, not in the checkpoint
    unexpected: List[str]  #: in the checkpoint, not in the model
    #: ``(key, shape in the checkpoint, shape in the model)``
    mismatched: List[Tuple[str, Tuple[int, ...], Tuple[int, ...]]]


#: checked-loading modes (see the module docstring)
LOAD_MODES = ('exact', 'partial')
_EXTRA_STATE = '_extra_state'  # nn.Module.get_extra_state's key suffix
_LISTED = 20  # keys listed per kind in a message


def compare_state_dict(model: nn.Module,
                       state_dict: Mapping[str, Any]) -> StateDictDiff:
    """Names and shapes of ``state_dict`` against ``model.state_dict()``.

    Args:
        model: the model to load into (unwrapped).
        state_dict: the checkpoint's weights, keys already revised.

    Returns:
        StateDictDiff: missing, unexpected and size-mismatched keys.
    """
    own = model.state_dict()
    missing = [k for k in own if k not in state_dict]
    unexpected = [k for k in state_dict if k not in own]
    mismatched = [(k, tuple(state_dict[k].shape), tuple(own[k].shape))
                  for k in own if k in state_dict and torch.is_tensor(own[k])
                  and torch.is_tensor(state_dict[k])
                  and state_dict[k].shape != own[k].shape]
    return StateDictDiff(missing, unexpected, mismatched)


def _listed(keys: Sequence[str]) -> str:
    more = len(keys) - _LISTED
    return ', '.join(keys[:_LISTED]) + (f' ... and {more} more' if more > 0
                                        else '')


def load_state_dict_checked(model: nn.Module,
                            state_dict: Mapping[str, Any], filename: str,
                            mode: str = 'exact') -> StateDictDiff:
    """Check ``state_dict`` against ``model``, then load it.

    Args:
        model: the (unwrapped) model.
        state_dict: the checkpoint's weights (keys already revised).
        filename: the checkpoint, named in messages.
        mode: ``'exact'`` (test, inference, resume) or ``'partial'``
            (``load_from`` in training); see the module docstring.

    Returns:
        StateDictDiff: what differed (only logged differences remain).

    Raises:
        CheckpointMismatchError: missing model weights (``'exact'``), size
            mismatches, or no weight in common (``'partial'``).
    """
    if mode not in LOAD_MODES:
        raise ValueError(f'mode must be one of {LOAD_MODES}, got {mode!r}')
    diff = compare_state_dict(model, state_dict)
    missing = [k for k in diff.missing if not k.endswith(_EXTRA_STATE)]
    shapes = [f'{k} (checkpoint {list(c)}, model {list(m)})'
              for k, c, m in diff.mismatched]
    common = len(model.state_dict()) - len(diff.missing)
    problems = []
    if shapes:
        problems.append(f'{len(shapes)} size mismatch(es): {_listed(shapes)}')
    if mode == 'exact' and missing:
        problems.append(f'{len(missing)} weight(s) of the model missing from '
                        f'the checkpoint: {_listed(missing)}')
    if mode == 'partial' and common == 0:
        problems.append('no weight in common with the model (first keys of '
                        f'the checkpoint: {_listed(list(state_dict)[:5])})')
    if problems:
        why = ('every weight of the model must come from the checkpoint '
               'for testing, inference and resuming' if mode == 'exact' else
               'load_from may leave weights out (e.g. a backbone-only '
               'checkpoint), but the weights it has must fit')
        raise CheckpointMismatchError(
            f'checkpoint {filename!r} does not fit the model '
            f'({type(model).__name__}): ' + '; '.join(problems) +
            f'. ({why}; is it a checkpoint of this config\'s model?)')
    notes = []
    left = diff.missing if mode == 'partial' else \
        [k for k in diff.missing if k.endswith(_EXTRA_STATE)]
    if left:
        notes.append(f'{len(left)} model weight(s) not in the checkpoint, '
                     f'left as initialised: {_listed(left)}')
    if diff.unexpected:
        notes.append(f'{len(diff.unexpected)} checkpoint key(s) the model '
                     f'does not have, ignored: {_listed(diff.unexpected)}')
    if notes:
        print_log(f'checkpoint {filename!r} loaded into '
                  f'{type(model).__name__} ({mode}): ' + '; '.join(notes),
                  logger='current', level=logging.WARNING)
    keep = OrderedDict((k, v) for k, v in state_dict.items()
                       if k not in diff.unexpected)
    keep._metadata = getattr(state_dict, '_metadata', OrderedDict())
    model.load_state_dict(keep, strict=False)
    return diff


def load_checkpoint_checked(
        model: nn.Module, filename: str, mode: str = 'exact',
        map_location: Union[str, Callable, None] = 'cpu',
        revise_keys: Sequence[Tuple[str, str]] = ((r'^module\.', ''), )
) -> dict:
    """Load a checkpoint file into ``model`` after checking that it fits.

    The file is read through mmengine's ``CheckpointLoader`` (this module's
    safe loader for local paths and URLs).

    Args:
        model: the model (a DDP wrapper is unwrapped).
        filename: path or URL of the checkpoint.
        mode: ``'exact'`` or ``'partial'`` (see the module docstring).
        map_location: as for :func:`torch.load`.
        revise_keys: ``(pattern, replacement)`` applied to every key (default:
            strip a DDP ``module.`` prefix, as mmengine).

    Returns:
        dict: the loaded checkpoint.

    Raises:
        CheckpointMismatchError: see :func:`load_state_dict_checked`.
    """
    if is_model_wrapper(model):
        model = model.module
    checkpoint = _load_checkpoint(filename, map_location=map_location)
    load_state_dict_checked(
        model, _revised_state_dict(checkpoint, filename, revise_keys),
        filename, mode)
    return checkpoint


def _revised_state_dict(checkpoint: Any, filename: str,
                        revise_keys: Sequence[Tuple[str, str]]
                        ) -> OrderedDict:
    """The checkpoint's ``state_dict`` with ``revise_keys`` applied (and
    its ``_metadata`` kept), as mmengine's ``_load_checkpoint_to_model``."""
    state_dict = checkpoint.get('state_dict', checkpoint) if isinstance(
        checkpoint, dict) else checkpoint
    if not isinstance(state_dict, Mapping):
        raise CheckpointMismatchError(
            f'checkpoint {filename!r} holds a {type(state_dict).__name__}, '
            'not a state_dict (a dict of tensors, or a dict with one under '
            "'state_dict')")
    metadata = getattr(state_dict, '_metadata', OrderedDict())
    for pattern, replacement in revise_keys:
        state_dict = OrderedDict((re.sub(pattern, replacement, k), v)
                                 for k, v in state_dict.items())
    state_dict._metadata = metadata
    return state_dict


def runner_load_checkpoint(self: Runner, filename: str,
                           map_location: Union[str, Callable] = 'cpu',
                           strict: bool = False,
                           revise_keys: list = [(r'^module.', '')]) -> dict:
    """``Runner.load_checkpoint`` with the checked loading.

    As mmengine's (``after_load_checkpoint`` hooks first, then the weights),
    but ``'partial'`` only for ``load_from`` while training (the train loop
    is built, not resuming, ``strict`` not asked for) and ``'exact'``
    otherwise (``Runner.test`` / ``Runner.val``, ``--resume``).
    """
    checkpoint = _load_checkpoint(filename, map_location=map_location)
    self.call_hook('after_load_checkpoint', checkpoint=checkpoint)
    training = isinstance(self._train_loop, BaseLoop)
    mode = 'partial' if training and not self._resume and not strict \
        else 'exact'
    model = self.model.module if is_model_wrapper(self.model) else self.model
    load_state_dict_checked(
        model, _revised_state_dict(checkpoint, filename, revise_keys),
        filename, mode)
    self._has_loaded = True
    self.logger.info(f'Load checkpoint from {filename} ({mode})')
    return checkpoint


def install_checked_runner_loading() -> None:
    """Make ``Runner.load_checkpoint`` check the weights (idempotent)."""
    Runner.load_checkpoint = runner_load_checkpoint
