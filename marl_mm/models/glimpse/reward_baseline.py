"""Learned reward baseline for REINFORCE (RARL, Chen et al. AAAI 2018, the
variance reduction of the REINFORCE gradient, Eq. 8, after Mnih et al. 2014): ``b_t = f(s_t)``, a
small MLP on the DETACHED state, trained by MSE to the return ``R``.
Two layers of 256 hidden units are a default chosen here. The MLP runs in
float32 with autocast off (:mod:`.float32_math`): in bf16 ``b`` would be
rounded to steps of 2^-8 to 2^-6 over rewards of 0.5 to 4, noise added to
every advantage ``R - b``.
"""
from typing import Optional

import torch
import torch.nn as nn
from mmengine.model import BaseModule

from mmpretrain.registry import MODELS

from .float32_math import float32_linear


@MODELS.register_module()
class RewardBaseline(BaseModule):
    """``b = MLP(state.detach())``.

    Args:
        in_dims: size of the state.
        hidden_dims: hidden width (default 256, chosen here).
        init_cfg: mmengine init config.
    """

    def __init__(self, in_dims: int, hidden_dims: int = 256,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.net = nn.Sequential(nn.Linear(in_dims, hidden_dims),
                                 nn.ReLU(inplace=True),
                                 nn.Linear(hidden_dims, 1))

    def forward(self, state: torch.Tensor) -> torch.Tensor:
        """``(..., in_dims) -> (...)`` float32; never sends gradient to the
        state."""
        fc1, relu, fc2 = self.net
        h = relu(float32_linear(fc1, state.detach()))  # (..., hidden)
        return float32_linear(fc2, h).squeeze(-1)  # (...)
