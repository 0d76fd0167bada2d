"""Gaussian location policy (RARL, Chen et al. AAAI 2018, Sec. "Action", in
the text, unnumbered; its log-probability enters REINFORCE, Eq. 8:
localisation network ``mu_t = tanh(W_l h_t)``, ``l_{t+1} ~ N(mu_t, sigma^2 I)``
with sigma = 0.11, clipped to ``[-1, 1]``; deterministic ``l = mu`` at test).

Options against the policy collapse of docs/method.md ("Known pitfalls");
the paper's setting is ``detach_input=False, zero_init=False``:

* ``detach_input`` (default False = paper): True makes the localisation
  network read the state with its gradient stopped, so REINFORCE only trains
  this network and cannot drag the shared LSTM state around (but then the
  state must already encode where objects are; see LSTMGlimpseHead).
* ``zero_init`` (default True, chosen here): the output layer starts at zero,
  so every image starts at the centre, ``mu = 0``, away from tanh saturation.
* ``hidden_dims`` (default None = the paper's single FC): an optional hidden
  ReLU layer.

The log-probability is taken of the *unclipped* Gaussian sample (the action
actually drawn; clipping is part of the environment), default chosen here.

Under AMP the output layer, ``tanh``, sampling and ``log_prob`` run in
float32 with autocast off (:mod:`.float32_math`): ``mu``, ``pre_tanh``, the
samples and the log-probabilities are float32 whatever autocast gives the
state; an optional hidden layer still runs in the autocast dtype.
"""
import math
from typing import Optional, Tuple

import torch
import torch.nn as nn
from mmengine.model import BaseModule
from torch.distributions import Normal

from mmpretrain.registry import MODELS

from .float32_math import float32_linear, no_autocast


@MODELS.register_module()
class GaussianLocationPolicy(BaseModule):
    """``state -> (mu, pre_tanh)``, plus sampling and log-probabilities.

    Args:
        in_dims: size of the (averaged) state.
        hidden_dims: optional hidden layer width; ``None`` = one FC (paper).
        detach_input: stop the gradient into the state (see module doc).
        zero_init: zero the output layer in :meth:`init_weights`.
        init_cfg: mmengine init config.
    """

    def __init__(self, in_dims: int, hidden_dims: Optional[int] = None,
                 detach_input: bool = False, zero_init: bool = True,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.detach_input = detach_input
        self.zero_init = zero_init
        if hidden_dims:
            self.net = nn.Sequential(nn.Linear(in_dims, hidden_dims),
                                     nn.ReLU(inplace=True),
                                     nn.Linear(hidden_dims, 2))
        else:
            self.net = nn.Sequential(nn.Linear(in_dims, 2))

    def init_weights(self) -> None:
        super().init_weights()
        if self.zero_init:
            nn.init.zeros_(self.net[-1].weight)
            nn.init.zeros_(self.net[-1].bias)

    def forward(self, state: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Return ``(mu, pre_tanh)``, both ``(B, 2)`` float32."""
        if self.detach_input:
            state = state.detach()
        *body, out = self.net
        for layer in body:  # optional hidden layer, in the autocast dtype
            state = layer(state)  # (B, H)
        pre = float32_linear(out, state)  # (B, 2) float32
        with no_autocast(pre):
            return torch.tanh(pre), pre

    @staticmethod
    def sample(mu: torch.Tensor, sigma: float) -> Tuple[torch.Tensor,
                                                        torch.Tensor]:
        """Draw ``l ~ N(mu, sigma^2 I)``; return ``(raw, clipped)``, both
        detached (no reparameterisation: the location carries no gradient),
        float32."""
        mu = mu.detach().float()
        raw = mu + sigma * torch.randn_like(mu)  # (B, 2)
        return raw, raw.clamp(-1., 1.)

    @staticmethod
    def log_prob(action: torch.Tensor, mu: torch.Tensor,
                 sigma: float) -> torch.Tensor:
        """``log N(action; mu, sigma^2 I)`` summed over x and y: ``(B,)``,
        float32 (autocast off, inputs cast up)."""
        with no_autocast(mu):
            # validate_args=False: a NaN mean (NaN features) must give a NaN
            # loss that NonFiniteCheckHook reports, not a ValueError here
            normal = Normal(mu.float(), sigma, validate_args=False)
            return normal.log_prob(action.float()).sum(-1)

    @staticmethod
    def entropy(sigma: float) -> float:
        """Entropy of the 2-D isotropic Gaussian (constant for a fixed
        sigma: an entropy bonus has no gradient; exploration is set by the
        hook's sigma schedule instead)."""
        return 2 * (0.5 * math.log(2 * math.pi * math.e * sigma ** 2))
