"""Plain-RNN replacement of the GRRE, for RARNN's ablation "Ours w/o GRRE w.
RNN" (Li et al., ACM MM 2018, Sec. 4.2, Table 1).

A vanilla tanh RNN (``torch.nn.RNNCell``) runs over the emitted glimpses in
order, ``r_i = tanh(W_x X_i + W_r r_{i-1})`` with ``r_0 = 0``, and its output
``r_i`` takes the place of ``O_i`` in Eq. 9 (default chosen here: the
paper only says "normal RNN"). Same masked batching as :class:`GRRE`: steps
of non-emitted candidates leave the state unchanged and output 0. Init: the
GRRE's N(0, ``init_std``) weights and zero biases, so the two ablation arms
start alike (default chosen here).
"""
from typing import Optional, Union

import torch
import torch.nn as nn
from mmengine.model import BaseModule

from mmpretrain.registry import MODELS


@MODELS.register_module()
class GRREPlainRNN(BaseModule):
    """Masked tanh RNN over the emitted glimpses.

    Args:
        in_channels: size of ``X_i``.
        hidden_channels: size of the state / output.
        init_std: std of the Gaussian weight init (default 0.1).
        init_cfg: mmengine init config (overrides ``init_std`` if given).
    """

    def __init__(self,
                 in_channels: int = 512,
                 hidden_channels: int = 512,
                 init_std: float = 0.1,
                 init_cfg: Optional[Union[dict, list]] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.hidden_channels = hidden_channels
        self.init_std = init_std
        self.cell = nn.RNNCell(in_channels, hidden_channels,
                               nonlinearity='tanh')
        self._reset()

    def _reset(self) -> None:
        for name, p in self.cell.named_parameters():
            if name.startswith('weight'):
                nn.init.normal_(p, 0., self.init_std)
            else:
                nn.init.zeros_(p)

    def init_weights(self) -> None:
        """N(0, init_std) weights and zero biases unless ``init_cfg``."""
        if self.init_cfg:
            super().init_weights()
        else:
            self._reset()

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Args:
            x: ``(N, T, in_channels)``; mask: ``(N, T)`` bool (emitted).

        Returns:
            ``(N, T, hidden_channels)``: ``r_i`` at emitted positions, else 0.
        """
        if x.dim() != 3 or mask.shape != x.shape[:2]:
            raise ValueError(f'GRREPlainRNN: expected x (N, T, D) and mask '
                             f'(N, T), got {tuple(x.shape)} and '
                             f'{tuple(mask.shape)}')
        mask = mask.bool()
        state = x.new_zeros(x.shape[0], self.hidden_channels)  # (N, H)
        outs = []
        for i in range(x.shape[1]):
            new = self.cell(x[:, i], state)  # (N, H)
            step = mask[:, i, None]  # (N, 1)
            state = torch.where(step, new, state)
            outs.append(new * step)
        return torch.stack(outs, 1)  # (N, T, H)
