"""RARNN's neck: the recurrent highlight network followed by the context
extractor on every candidate glimpse (Li et al., ACM MM 2018, Sec. 3.2).

mmpretrain's ``ImageClassifier`` takes one neck, so this composes
:class:`RHN` and :class:`ContextExtractor` from one config.

``reduce_channels`` (default None: the paper, which reads VGG16's 512
channels directly): a 1 x 1 convolution + ReLU first maps a wider backbone
map to that many channels (chosen here for EfficientNet-Lite's 1280-channel
head map: the RHN's FC reads ``C x S x S`` values and the context
extractor's dilated 3 x 3 convolution runs on every candidate, so both cost
in proportion to C; configs/efficientnet_lite/README.md has the
measurements). The RHN and the context extractor then take
``in_channels=reduce_channels``.

The paper computes ``C_t`` only for emitted glimpses (Algorithm 1); here it
is computed for all ``T`` candidates in one batched call and the head masks
the ones it does not emit (same result, no per-image indexing).
"""
from typing import Optional, Sequence, Union

import torch
import torch.nn as nn
from mmengine.model import BaseModule

from mmpretrain.registry import MODELS

from .glimpse_features import GlimpseFeatures


def _build(cfg: Union[dict, nn.Module], name: str) -> nn.Module:
    if isinstance(cfg, nn.Module):
        return cfg
    if isinstance(cfg, dict):
        return MODELS.build(cfg)
    raise TypeError(f'RHNContextNeck: {name} must be a config dict or a '
                    f'built module, got {type(cfg).__name__}')


@MODELS.register_module()
class RHNContextNeck(BaseModule):
    """``RHN`` + ``ContextExtractor``.

    Args:
        rhn: config or module of the :class:`RHN`.
        context: config or module of the :class:`ContextExtractor`;
            ``None`` skips it (the "w/o CE" ablation), then ``c`` is None.
        reduce_channels: output channels of an optional 1 x 1 convolution +
            ReLU on the backbone map before the RHN (``in_channels`` of the
            backbone map is then needed too).
        in_channels: channels of the backbone map (with
            ``reduce_channels`` only).
        init_cfg: mmengine init config.
    """

    def __init__(self,
                 rhn: Union[dict, nn.Module] = dict(type='RHN'),  # noqa: B006
                 context: Optional[Union[dict, nn.Module]] = dict(  # noqa: B006
                     type='ContextExtractor'),
                 reduce_channels: Optional[int] = None,
                 in_channels: Optional[int] = None,
                 init_cfg: Optional[Union[dict, list]] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.reduce = None
        if reduce_channels is not None:
            if not in_channels:
                raise ValueError('RHNContextNeck: reduce_channels needs the '
                                 "backbone map's in_channels")
            self.reduce = nn.Sequential(
                nn.Conv2d(in_channels, reduce_channels, 1),
                nn.ReLU(inplace=True))
        self.rhn = _build(rhn, 'rhn')
        self.context = None if context is None else _build(context, 'context')

    def forward(self, inputs: Union[torch.Tensor, Sequence[torch.Tensor]]
                ) -> GlimpseFeatures:
        """Backbone tuple -> :class:`GlimpseFeatures` with ``c`` filled
        ``(B, T, Dc)`` (``None`` without a context extractor)."""
        if self.reduce is not None:
            x = inputs[-1] if isinstance(inputs, (tuple, list)) else inputs
            inputs = (self.reduce(x), )  # (B, reduce_channels, H, W)
        feats = self.rhn(inputs)
        if self.context is None:
            return feats
        return feats._replace(c=self.context.extract(feats.v))
