"""Convert torchvision's VGG16 weights to mmpretrain's VGG key layout.

torchvision numbers every layer of ``features`` (conv, ReLU and pool each
take an index: conv5_3 is ``features.28``); mmpretrain's ``VGG`` (and so
``VGGFeatureMap``) wraps conv + ReLU in one ``ConvModule`` and numbers
conv modules and pools (conv5_3 is ``features.16.conv``). The classifier
layout is the same in both. The output is an mmengine checkpoint
(``{'state_dict': ...}``) with keys under ``backbone.`` by default, like
mmpretrain's own VGG16 checkpoint, so the same ``init_cfg`` loads either::

    init_cfg=dict(type='Pretrained', checkpoint='vgg16_mmpretrain.pth',
                  prefix='backbone.')

Usage::

    python tools/model_converters/torchvision_vgg16.py \\
        vgg16-397923af.pth vgg16_mmpretrain.pth
"""
import argparse
from collections import OrderedDict
from typing import Dict, Mapping

import torch

#: torchvision's VGG16 ``features``: output channels per conv, 'M' = pool.
VGG16_LAYOUT = (64, 64, 'M', 128, 128, 'M', 256, 256, 256, 'M', 512, 512,
                512, 'M', 512, 512, 512, 'M')


def feature_index_map() -> Dict[int, int]:
    """torchvision ``features`` index of each conv -> mmpretrain index."""
    mapping, tv_index, mm_index = {}, 0, 0
    for item in VGG16_LAYOUT:
        if item == 'M':
            tv_index += 1  # pool
        else:
            mapping[tv_index] = mm_index
            tv_index += 2  # conv + ReLU
        mm_index += 1  # ConvModule or pool
    return mapping


def convert_torchvision_vgg16(state_dict: Mapping[str, torch.Tensor],
                              prefix: str = 'backbone.'
                              ) -> 'OrderedDict[str, torch.Tensor]':
    """Rename a torchvision ``vgg16`` state dict to mmpretrain's ``VGG``.

    Args:
        state_dict (Mapping[str, Tensor]): ``torchvision.models.vgg16()``
            weights (``features.<i>.weight``, ``classifier.<j>.bias``...).
        prefix (str): Prepended to every output key. Defaults to
            'backbone.' (the layout of mmpretrain's checkpoints).

    Returns:
        OrderedDict[str, Tensor]: ``<prefix>features.<k>.conv.weight`` etc.;
        the tensors themselves are not copied.

    Raises:
        KeyError: A key is not part of torchvision's VGG16 (e.g. a
            batch-norm variant).
    """
    index = feature_index_map()
    out = OrderedDict()
    for key, value in state_dict.items():
        parts = key.split('.')
        if len(parts) == 3 and parts[0] == 'features' and \
                int(parts[1]) in index:
            new = f'features.{index[int(parts[1])]}.conv.{parts[2]}'
        elif parts[0] == 'classifier':
            new = key
        else:
            raise KeyError(
                f'convert_torchvision_vgg16: unexpected key {key!r}; expected '
                'the keys of torchvision.models.vgg16 (no batch norm).')
        out[prefix + new] = value
    expected = 2 * len(index)
    found = sum(k.startswith(prefix + 'features.') for k in out)
    if found != expected:
        raise KeyError(f'convert_torchvision_vgg16: found {found} conv '
                       f'tensors, expected {expected} for VGG16.')
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('src', help='torchvision VGG16 state dict (.pth)')
    parser.add_argument('dst', help='output mmengine checkpoint (.pth)')
    parser.add_argument('--prefix', default='backbone.',
                        help="key prefix (default 'backbone.')")
    args = parser.parse_args()

    from marl_mm.utils import safe_torch_load
    state = safe_torch_load(args.src, map_location='cpu')
    if 'state_dict' in state:
        state = state['state_dict']
    torch.save(dict(state_dict=convert_torchvision_vgg16(state, args.prefix)),
               args.dst)
    print(f'Wrote {args.dst}')


if __name__ == '__main__':
    main()
