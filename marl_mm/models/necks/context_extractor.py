"""Context extractor of RARNN (Li et al., ACM MM 2018, Sec. 3.2, Fig. 3).

``V_t -> [conv 1x1 -> B ; dilated conv 3x3 -> B] -> concat -> average pool
-> C_t`` in ``R^{2B}`` (paper: ``B = 256``, so ``C_t`` in ``R^512``).

Choices where the paper is open (constructor options):

* ``dilation=2`` with padding 2, so both branches keep the ``S x S`` size
  (default chosen here; the paper cites Yu & Koltun without a rate).
* ``act_cfg=dict(type='ReLU')`` after each convolution, before the
  concatenation (default chosen here: the text names no non-linearity; the
  ReLU makes ``C_t`` non-negative like ``X_t``). ``act_cfg=None``: linear.
* global average pooling over the whole map (the text: "average pooling ...
  to get C_t in R^512", which fixes the output to one vector).

Usable alone as an mmpretrain neck (a backbone tuple in, a tuple of one
``(B, 2B)`` vector out), on a ``(B, C, H, W)`` map or on the candidate
glimpses ``(B, T, C, H, W)`` (glimpses folded into the batch), or inside
:class:`RHNContextNeck`.
"""
from typing import Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmcv.cnn import build_activation_layer
from mmengine.model import BaseModule

from mmpretrain.registry import MODELS


@MODELS.register_module()
class ContextExtractor(BaseModule):
    """Two-branch (plain and dilated) context features, averaged.

    Args:
        in_channels: C of the highlighted map ``V_t`` (paper: 512).
        branch_channels: output channels of each branch (paper: 256).
        dilation: dilation (and padding) of the 3x3 branch (default 2).
        act_cfg: activation after each branch, ``None`` for none
            (default ReLU, chosen here).
        init_cfg: mmengine init config.
    """

    def __init__(self,
                 in_channels: int = 512,
                 branch_channels: int = 256,
                 dilation: int = 2,
                 act_cfg: Optional[dict] = dict(type='ReLU'),  # noqa: B006
                 init_cfg: Optional[Union[dict, list]] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if dilation < 1:
            raise ValueError(f'ContextExtractor: dilation must be >= 1, got '
                             f'{dilation}')
        self.in_channels = in_channels
        self.out_channels = 2 * branch_channels
        self.conv1x1 = nn.Conv2d(in_channels, branch_channels, 1)
        self.conv_dilated = nn.Conv2d(in_channels, branch_channels, 3,
                                      padding=dilation, dilation=dilation)
        self.act = (build_activation_layer(dict(act_cfg)) if act_cfg
                    is not None else nn.Identity())

    def extract(self, v: torch.Tensor) -> torch.Tensor:
        """``(..., C, H, W) -> (..., 2B)``; leading dims are folded."""
        if v.dim() < 4 or v.shape[-3] != self.in_channels:
            raise ValueError(
                f'ContextExtractor: expected a (B, C={self.in_channels}, H, W)'
                f' or (B, T, C, H, W) map, got {tuple(v.shape)}')
        lead = v.shape[:-3]
        flat = v.flatten(0, -4)  # (N, C, H, W)
        # average pooling of each branch, then the concatenation: the same
        # numbers as pooling the concatenated maps, without copying them
        c = torch.cat([self.act(self.conv1x1(flat)).mean((-2, -1)),
                       self.act(self.conv_dilated(flat)).mean((-2, -1))],
                      1)  # (N, 2B)
        return c.view(*lead, self.out_channels)

    def forward(self, inputs: Union[torch.Tensor, Sequence[torch.Tensor]]
                ) -> Union[torch.Tensor, Tuple[torch.Tensor]]:
        """Context features.

        Args:
            inputs: a map ``(B, C, H, W)`` / ``(B, T, C, H, W)``, or a
                backbone tuple whose last item is such a map.

        Returns:
            ``(B, 2B)`` / ``(B, T, 2B)``; a one-item tuple if a tuple came in.
        """
        if isinstance(inputs, (tuple, list)):
            return (self.extract(inputs[-1]), )
        return self.extract(inputs)
