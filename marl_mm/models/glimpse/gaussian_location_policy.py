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
* ``map_channels`` (default None = the paper's ``tanh(W_l h_t)``): the
  location network reads the feature map as well as the state. The state
  gives a query ``q_t = W_q h_t`` (C values); each map cell ``j`` gets the
  weight ``w_j = softmax_j(q_t . F_j / sqrt(C))`` and the mean location is
  their centre of mass, ``mu_t = sum_j w_j g_j``, with ``g_j`` the cell's
  centre in normalised coordinates (chosen here: the paper's ``mu_t`` sees
  one vector per image, so where it looks cannot depend on where the objects
  are; docs/rarl.md, 'A location network that reads the map'). ``mu`` stays
  inside the outermost cell centres, so it never saturates; with
  ``zero_init`` every weight starts equal and ``mu = 0``. The map is read
  detached: REINFORCE trains the query, not the backbone.

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
        map_channels: C of the feature map the location network attends
            over (``None``: the paper's FC + tanh on the state alone).
        init_cfg: mmengine init config.
    """

    def __init__(self, in_dims: int, hidden_dims: Optional[int] = None,
                 detach_input: bool = False, zero_init: bool = True,
                 map_channels: Optional[int] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.detach_input = detach_input
        self.zero_init = zero_init
        self.map_channels = map_channels
        out_dims = map_channels or 2  # the query, or (x, y)
        if hidden_dims:
            self.net = nn.Sequential(nn.Linear(in_dims, hidden_dims),
                                     nn.ReLU(inplace=True),
                                     nn.Linear(hidden_dims, out_dims))
        else:
            self.net = nn.Sequential(nn.Linear(in_dims, out_dims))

    def init_weights(self) -> None:
        super().init_weights()
        if self.zero_init:
            nn.init.zeros_(self.net[-1].weight)
            nn.init.zeros_(self.net[-1].bias)

    @property
    def reads_map(self) -> bool:
        """Whether :meth:`forward` needs the feature map."""
        return self.map_channels is not None

    def forward(self, state: torch.Tensor,
                feat_map: Optional[torch.Tensor] = None
                ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Return ``(mu, pre_tanh)``, both ``(B, 2)`` float32.

        With ``map_channels`` the location is the attention-weighted centre
        of ``feat_map`` ``(B, C, H, W)`` and there is no tanh: ``pre_tanh``
        is ``mu`` itself.
        """
        if self.detach_input:
            state = state.detach()
        *body, out = self.net
        for layer in body:  # optional hidden layer, in the autocast dtype
            state = layer(state)  # (B, H)
        pre = float32_linear(out, state)  # (B, 2) or query (B, C); float32
        if not self.reads_map:
            with no_autocast(pre):
                return torch.tanh(pre), pre
        if feat_map is None or feat_map.dim() != 4 or \
                feat_map.shape[1] != self.map_channels:
            raise ValueError(
                'GaussianLocationPolicy: map_channels='
                f'{self.map_channels} needs a (B, {self.map_channels}, H, W) '
                'feature map, got '
                f'{None if feat_map is None else tuple(feat_map.shape)}')
        with no_autocast(pre):
            keys = feat_map.detach().float().flatten(2)  # (B, C, HW)
            logits = torch.einsum('bc,bcn->bn', pre, keys) / math.sqrt(
                self.map_channels)  # (B, HW)
            mu = torch.einsum('bn,nd->bd', logits.softmax(-1),
                              self.cell_centres(*feat_map.shape[-2:],
                                                device=pre.device))
            return mu, mu  # (B, 2)

    @staticmethod
    def cell_centres(h: int, w: int, device=None) -> torch.Tensor:
        """``(h * w, 2)`` centres ``(x, y)`` of the map cells in normalised
        coordinates (-1 and 1 are the outer edges of the first and last
        cell), row-major as ``flatten(2)`` orders them."""
        ys = (torch.arange(h, device=device) + 0.5) / h * 2 - 1
        xs = (torch.arange(w, device=device) + 0.5) / w * 2 - 1
        gy, gx = torch.meshgrid(ys, xs, indexing='ij')
        return torch.stack([gx, gy], -1).reshape(-1, 2)

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
