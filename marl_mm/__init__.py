"""marl_mm: recurrent-attention, reinforcement-learned multi-label recognition.

Registration
------------
Every component registers directly into **mmpretrain's registries**
(``mmpretrain.registry.MODELS``, ``DATASETS``, ``METRICS``, ``HOOKS``,
``TRANSFORMS``, ``VISUALIZERS``), not into child registries of our own. So a
plain mmpretrain / mmengine pipeline uses the plugin with one line::

    custom_imports = dict(imports=['marl_mm'], allow_failed_imports=False)

and ``type='LSTMGlimpseHead'`` etc. resolve with ``default_scope='mmpretrain'``.

Importing this package also installs the safe checkpoint loader
(:mod:`marl_mm.utils.checkpoint`) so that ``load_from`` and ``--resume`` work
under torch >= 2.6 without unpickling arbitrary objects.
"""
import mmengine
from mmengine.utils import digit_version

from .version import __version__, version_info

MMENGINE_RANGE = ('0.10.0', '0.11.0')
MMCV_RANGE = ('2.0.0', '2.3.0')
MMPRETRAIN_RANGE = ('1.2.0', '1.3.0')


def _check_range(name: str, found: str, lo: str, hi: str, hint: str) -> None:
    if not (digit_version(lo) <= digit_version(found) < digit_version(hi)):
        raise ImportError(
            f'marl_mm {__version__} needs {name}>={lo},<{hi} but found '
            f'{name}=={found}. Install a matching version: {hint}')


_check_range('mmengine', mmengine.__version__, *MMENGINE_RANGE,
             f'pip install "mmengine>={MMENGINE_RANGE[0]},<{MMENGINE_RANGE[1]}"')

try:
    import mmcv
except ImportError as e:  # pragma: no cover - depends on the environment
    raise ImportError(
        'marl_mm needs mmcv (mmcv-lite is enough: no compiled ops are used). '
        f'Install it with: pip install "mmcv-lite>={MMCV_RANGE[0]},'
        f'<{MMCV_RANGE[1]}"') from e
_check_range('mmcv', mmcv.__version__, *MMCV_RANGE,
             f'pip install "mmcv-lite>={MMCV_RANGE[0]},<{MMCV_RANGE[1]}"')

import mmpretrain  # noqa: E402

_check_range('mmpretrain', mmpretrain.__version__, *MMPRETRAIN_RANGE,
             f'pip install "mmpretrain>={MMPRETRAIN_RANGE[0]},'
             f'<{MMPRETRAIN_RANGE[1]}"')

from .utils import install_safe_checkpoint_loader  # noqa: E402

install_safe_checkpoint_loader()

from . import (apis, datasets, engine, evaluation, models,  # noqa: E402,F401
               visualization)

__all__ = ['__version__', 'version_info']
