"""Safe loading of prediction pickles (``tools/test.py --out``).

mmengine's ``DumpResults`` writes the test predictions with plain
``pickle``: a list of one dict per image holding tensors, numpy arrays and
basic values. ``mmengine.load`` reads them back with ``pickle.load``, which
runs whatever a tampered or downloaded file asks for. :func:`load_pickle_safe`
unpickles with :class:`RestrictedUnpickler` instead: containers and basic
values are pickle opcodes and need nothing; of the globals a pickle can name,
only those in :data:`PICKLE_SAFE_GLOBALS` are found, and anything else stops
the load with :class:`UnsafePickleError` before it is called.

Two of the globals plain pickle writes for a tensor are replaced by stricter
stand-ins: ``torch.storage._load_from_bytes`` (torch's own unpickles the
embedded ``torch.save`` blob with ``weights_only=False``) reads the blob with
``weights_only=True``, and ``_codecs.encode`` (protocol-2 ``bytes``) only
encodes to latin-1. The numpy entries are those of
:data:`marl_mm.utils.checkpoint.SAFE_GLOBALS`.
"""
import io
import pickle
from collections import OrderedDict
from typing import Any, Dict

import numpy as np
import torch

from .checkpoint import SAFE_GLOBALS


class UnsafePickleError(pickle.UnpicklingError):
    """A pickle names a global outside :data:`PICKLE_SAFE_GLOBALS`."""


def _latin1_encode(text: str, encoding: str = 'latin1') -> bytes:
    """``_codecs.encode`` as protocol-2 pickles use it for ``bytes``."""
    if encoding not in ('latin1', 'latin-1'):
        raise UnsafePickleError(
            f'_codecs.encode(..., {encoding!r}) is not allowed; only latin1 '
            '(how pickle protocol 2 stores bytes) is.')
    return text.encode('latin1')


def _storage_from_bytes(data: bytes) -> Any:
    """``torch.storage._load_from_bytes`` with ``weights_only=True``."""
    return torch.load(io.BytesIO(data), weights_only=True)


def _numpy_frombuffer() -> Any:
    """numpy's ``_frombuffer`` (protocol-5 pickles of arrays)."""
    core = getattr(np, '_core', None) or np.core
    return core.numeric._frombuffer


#: ``'module.name'`` -> the object the unpickler returns for it.
PICKLE_SAFE_GLOBALS: Dict[str, Any] = {
    'collections.OrderedDict': OrderedDict,  # a tensor's backward hooks
    '_codecs.encode': _latin1_encode,
    'torch._utils._rebuild_tensor_v2': torch._utils._rebuild_tensor_v2,
    'torch.storage._load_from_bytes': _storage_from_bytes,
    # numpy arrays, scalars and dtypes (numpy 2 and numpy 1 spellings)
    **{name: obj for obj, name in SAFE_GLOBALS if name.startswith('numpy.')},
    'numpy._core.numeric._frombuffer': _numpy_frombuffer(),
    'numpy.core.numeric._frombuffer': _numpy_frombuffer(),
}
# builtins without an opcode; protocols < 3 name the module __builtin__
for _type in (set, frozenset, complex):
    for _module in ('builtins', '__builtin__'):
        PICKLE_SAFE_GLOBALS[f'{_module}.{_type.__name__}'] = _type


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that finds only the globals of :data:`PICKLE_SAFE_GLOBALS`.

    Args:
        file: binary file object to read from.
        filename (str): named in the error of a refused global.
    """

    def __init__(self, file: Any, filename: str = '<pickle>') -> None:
        super().__init__(file)
        self.filename = filename

    def find_class(self, module: str, name: str) -> Any:
        key = f'{module}.{name}'
        if key in PICKLE_SAFE_GLOBALS:
            return PICKLE_SAFE_GLOBALS[key]
        raise UnsafePickleError(
            f'Refused to load {self.filename!r}: it names {key}, which is not '
            'a type that mmengine\'s DumpResults writes (allowed: dicts, '
            'lists, tuples, basic values, tensors, numpy arrays; see '
            'marl_mm.utils.restricted_unpickler.PICKLE_SAFE_GLOBALS). Nothing '
            'in it was executed. If you trust the file, load it with '
            'pickle.load and re-save the predictions.')


def load_pickle_safe(filename: str) -> Any:
    """Load a pickle of predictions without running code from it.

    Args:
        filename (str): path of the pickle (e.g. ``tools/test.py --out``).

    Returns:
        Any: the unpickled object.

    Raises:
        UnsafePickleError: the file names a global outside the allowlist
            (or an embedded tensor blob that ``weights_only`` refuses).
    """
    with open(filename, 'rb') as f:
        try:
            return RestrictedUnpickler(f, filename).load()
        except UnsafePickleError:
            raise
        except pickle.UnpicklingError as e:
            # e.g. torch's weights_only refusal inside an embedded tensor blob
            raise UnsafePickleError(
                f'Refused to load {filename!r}: {e}') from e
