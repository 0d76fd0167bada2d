"""The backbone of a model trained on cached feature maps.

:class:`~marl_mm.datasets.CachedFeatureMaps` serves the maps of a frozen
backbone as the inputs; this module passes them on as the one map the
glimpse heads and necks read, and states what the original backbone would
have: ``out_channels`` and ``stride`` (input pixels per map cell, which the
RARL head needs to place its anchors in input pixels).
"""
from typing import Tuple

import torch
from mmengine.model import BaseModule
from mmpretrain.registry import MODELS


@MODELS.register_module()
class PrecomputedFeatureMap(BaseModule):
    """Identity backbone over precomputed ``(B, C, H, W)`` maps.

    Args:
        out_channels (int): C of the cached maps (checked every forward).
        stride (int): Input pixels per map cell of the backbone that made
            them.
    """

    def __init__(self, out_channels: int, stride: int) -> None:
        super().__init__()
        self.out_channels = out_channels
        self.stride = stride

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor]:
        if x.dim() != 4 or x.shape[1] != self.out_channels:
            raise ValueError(
                f'PrecomputedFeatureMap: expected (B, {self.out_channels}, H, '
                f'W) maps, got {tuple(x.shape)}; do out_channels and the '
                'cache (tools/misc/extract_feature_maps.py) agree?')
        return (x, )
