"""Make an image checkpoint from a head trained on cached feature maps.

    python tools/misc/attach_backbone.py IMAGE_CONFIG CACHED_CKPT OUT.pth

A model trained on ``CachedFeatureMaps`` (``PrecomputedFeatureMap`` as its
backbone) has a checkpoint with the head (and neck) only. IMAGE_CONFIG is
the same model with the real, frozen backbone in front (e.g.
``configs/efficientnet_lite/rarl_effnet-lite0_voc07.py``); this tool builds
it, runs its initialisation (the backbone's pretrained ``init_cfg``), loads
every weight of the cached checkpoint into it - each must exist in the
image model with its shape, and every non-backbone weight of the image
model must come from the checkpoint - and writes the whole state dict
(temporary file, then renamed). The result loads with every tool that
loads a checkpoint exactly (``tools/test.py``, the inferencer, the demo).
"""
import argparse
import os

import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope


def attach(config: str, checkpoint: str, out: str) -> dict:
    """Write ``out``; return the counts of weights taken from each side."""
    import marl_mm  # noqa: F401
    from marl_mm.utils import runner_model_cfg
    from marl_mm.utils.checkpoint import load_checkpoint_safe
    from mmpretrain.registry import MODELS
    cfg = Config.fromfile(config)
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    model = MODELS.build(runner_model_cfg(cfg))
    model.init_weights()
    ckpt = load_checkpoint_safe(checkpoint, 'cpu')
    head = ckpt.get('state_dict', ckpt)
    own = model.state_dict()
    foreign = sorted(k for k in head if k not in own)
    shapes = sorted(k for k in head if k in own and
                    tuple(head[k].shape) != tuple(own[k].shape))
    missing = sorted(k for k in own if not k.startswith('backbone.')
                     and not k.startswith('data_preprocessor.')
                     and k not in head)
    if foreign or shapes or missing:
        raise ValueError(
            f'{checkpoint} does not fit the head of {config}: not in the '
            f'model {foreign[:10]}, other shapes {shapes[:10]}, model '
            f'weights missing from the checkpoint {missing[:10]}')
    own.update(head)
    model.load_state_dict(own)
    tmp = out + '.tmp'
    torch.save({'state_dict': model.state_dict(),
                'meta': {'head_from': os.path.abspath(checkpoint),
                         'config': config}}, tmp)
    os.replace(tmp, out)
    return {'from_checkpoint': len(head),
            'from_init': len(own) - len(head)}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='image config (real backbone)')
    parser.add_argument('checkpoint', help='checkpoint trained on a cache')
    parser.add_argument('out', help='output .pth')
    args = parser.parse_args(argv)
    counts = attach(args.config, args.checkpoint, args.out)
    print(f'{args.out}: {counts["from_checkpoint"]} tensors from '
          f'{args.checkpoint}, {counts["from_init"]} from the backbone init')
    return counts


if __name__ == '__main__':
    main()
