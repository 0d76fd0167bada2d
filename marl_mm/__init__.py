"""marl_mm: recurrent-attention, reinforcement-learned multi-label recognition.

Registration
------------
Every component registers directly into **mmpretrain's registries**
(``mmpretrain.registry.MODELS``, ``DATASETS``, ``METRICS``, ``HOOKS``,
``TRANSFORMS``, ``VISUALIZERS``), not into child registries of our own. So a
plain mmpretrain / mmengine pipeline uses the plugin with one line::

    custom_imports = dict(imports=['marl_mm'], allow_failed_imports=False)

and ``type='LSTMGlimpseHead'`` etc. resolve with ``default_scope='mmpretrain'``.
One exception: :class:`GlimpseVisualizer` is also registered in mmengine's
root ``VISUALIZERS`` (issue 5 asks for it there), where any scope finds it.

Importing this package changes nothing in mmengine or mmpretrain: it only
registers. The safe, checked checkpoint loading and the resume lookup are
used by :class:`marl_mm.engine.MarlRunner`, which marl_mm configs choose with
``runner_type='MarlRunner'``; a plain pipeline opts in to the safe loader
per checkpoint with the ``'safe:'`` scheme (``load_from='safe:<path or
URL>'``). See ``docs/host.md``.
"""
import importlib
from types import ModuleType

from .version import __version__, version_info

# The ranges of requirements/mminstall.txt (a test keeps them equal).
MMENGINE_RANGE = ('0.10.0', '0.11.0')
MMCV_RANGE = ('2.0.0', '2.3.0')
MMPRETRAIN_RANGE = ('1.2.0', '1.3.0')


def _install_hint(name: str, lo: str, hi: str) -> str:
    """The pip command that installs ``name`` in ``[lo, hi)``."""
    if name == 'mmcv':
        return (f'pip install "mmcv-lite>={lo},<{hi}" (mmcv-lite is enough: '
                'no compiled mmcv op is used; a full mmcv in the same range '
                'works too)')
    return f'pip install "{name}>={lo},<{hi}"'


def _check_range(name: str, found: str, lo: str, hi: str, hint: str) -> None:
    """Raise an ImportError naming the range and ``hint`` unless
    ``lo <= found < hi``."""
    from mmengine.utils import digit_version
    if not (digit_version(lo) <= digit_version(found) < digit_version(hi)):
        raise ImportError(
            f'marl_mm {__version__} needs {name}>={lo},<{hi} but found '
            f'{name}=={found}. Install a matching version: {hint}')


def _require(name: str, lo: str, hi: str) -> ModuleType:
    """Import ``name`` and check its version; say what to install if it is
    missing, broken or out of ``[lo, hi)``."""
    hint = _install_hint(name, lo, hi)
    try:
        module = importlib.import_module(name)
    except ImportError as e:
        if (isinstance(e, ModuleNotFoundError)
                and (e.name or '').split('.')[0] == name):
            raise ImportError(
                f'marl_mm {__version__} needs {name}>={lo},<{hi}, which is '
                f'not installed. Install it with: {hint}') from e
        raise ImportError(
            f'marl_mm {__version__} needs {name}>={lo},<{hi}; it is '
            f'installed but does not import ({e}). Reinstall it with: '
            f'{hint}') from e
    _check_range(name, getattr(module, '__version__', '0'), lo, hi, hint)
    return module


mmengine = _require('mmengine', *MMENGINE_RANGE)
mmcv = _require('mmcv', *MMCV_RANGE)
mmpretrain = _require('mmpretrain', *MMPRETRAIN_RANGE)

from . import (apis, datasets, engine, evaluation, models,  # noqa: E402,F401
               visualization)

__all__ = ['__version__', 'version_info']
