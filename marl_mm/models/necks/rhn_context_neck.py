"""RARNN's neck: the recurrent highlight network followed by the context
extractor on every candidate glimpse (Li et al., ACM MM 2018, Sec. 3.2).

mmpretrain's ``ImageClassifier`` takes one neck, so this composes
:class:`RHN` and :class:`ContextExtractor` from one config.

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
        init_cfg: mmengine init config.
    """

    def __init__(self,
                 rhn: Union[dict, nn.Module] = dict(type='RHN'),  # noqa: B006
                 context: Optional[Union[dict, nn.Module]] = dict(  # noqa: B006
                     type='ContextExtractor'),
                 init_cfg: Optional[Union[dict, list]] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.rhn = _build(rhn, 'rhn')
        self.context = None if context is None else _build(context, 'context')

    def forward(self, inputs: Union[torch.Tensor, Sequence[torch.Tensor]]
                ) -> GlimpseFeatures:
        """Backbone tuple -> :class:`GlimpseFeatures` with ``c`` filled
        ``(B, T, Dc)`` (``None`` without a context extractor)."""
        feats = self.rhn(inputs)
        if self.context is None:
            return feats
        return feats._replace(c=self.context.extract(feats.v))
