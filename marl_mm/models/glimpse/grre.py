"""Gated recurrent relation extractor (GRRE) of RARNN (Li et al., ACM MM
2018, Sec. 3.4, Eqs. 7-8).

Over the ``N_e`` emitted glimpses ``X_1..X_{N_e}``, for step ``i = 1..N_e``
and every other emitted glimpse ``k != i``::

    h_k   = tanh(W_hx X_k + W_hf f_k^{i-1})                       (Eq. 7)
    z     = softmax_{k != i}(w_zx . X_k + w_zf . f_k^{i-1})       (Eq. 8)
    f_k^i = z_k h_k,       O_i = sum_{k != i} f_k^i

with ``f_k^0 = 0``. Choices where the paper is open (defaults chosen here):

* ``f_i^i = f_i^{i-1}``: the current glimpse's own weighted feature is kept
  unchanged at its own step (the equations only define ``k != i``).
* ``N_e = 1`` gives ``O = 0`` (no other glimpse).
* one scalar logit per glimpse in Eq. 8 with weights shared over ``k`` (the
  paper's subscript ``W_zfk`` cannot be per-glimpse when ``N_e`` varies).
* biases in ``W_hx`` and ``w_zx`` (``bias=True``; the paper sets "the
  biases" to 0, so it has some); ``W_hf`` / ``w_zf`` have none, which would
  be redundant.
* init: all weights N(0, ``init_std`` = 0.1), biases 0 (paper).

Batched with a mask: the input is the ``T`` candidate glimpses padded to
``(N, T, D)`` with a ``(N, T)`` emission mask. The recurrence runs over the
candidate positions ``s = 1..T``; a step whose candidate is not emitted is a
no-op, so for every image the sequence of updates is exactly the one over its
emitted glimpses in order. Non-emitted glimpses never enter a softmax and
their ``f`` stays 0; their output ``O`` is 0 (to be masked by the caller).
"""
from typing import Optional, Union

import torch
import torch.nn as nn
from mmengine.model import BaseModule

from mmpretrain.registry import MODELS


def masked_softmax(logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Softmax over the last dim restricted to ``mask``; all-False rows give
    all zeros (not NaN).

    Args:
        logits: ``(..., T)``.
        mask: ``(..., T)`` bool.

    Returns:
        ``(..., T)``, zero where ``mask`` is False.
    """
    low = torch.finfo(logits.dtype).min
    peak = logits.masked_fill(~mask, low).amax(-1, keepdim=True)  # (..., 1)
    e = (logits - peak).clamp(max=0).exp() * mask  # (..., T)
    return e / e.sum(-1, keepdim=True).clamp(min=torch.finfo(e.dtype).tiny)


@MODELS.register_module()
class GRRE(BaseModule):
    """Gated recurrent relation extractor (see the module docstring).

    Args:
        in_channels: size of ``X_k`` (paper: 512).
        hidden_channels: size of ``h_k``, ``f_k`` and ``O_i`` (paper: 512).
        bias: biases in ``W_hx`` and ``w_zx`` (default True).
        init_std: std of the Gaussian weight init (paper: 0.1).
        init_cfg: mmengine init config (overrides ``init_std`` if given).
    """

    def __init__(self,
                 in_channels: int = 512,
                 hidden_channels: int = 512,
                 bias: bool = True,
                 init_std: float = 0.1,
                 init_cfg: Optional[Union[dict, list]] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.in_channels = in_channels
        self.hidden_channels = hidden_channels
        self.init_std = init_std
        self.w_hx = nn.Linear(in_channels, hidden_channels, bias=bias)
        self.w_hf = nn.Linear(hidden_channels, hidden_channels, bias=False)
        self.w_zx = nn.Linear(in_channels, 1, bias=bias)
        self.w_zf = nn.Linear(hidden_channels, 1, bias=False)
        self._reset()

    def _reset(self) -> None:
        for layer in (self.w_hx, self.w_hf, self.w_zx, self.w_zf):
            nn.init.normal_(layer.weight, 0., self.init_std)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)

    def init_weights(self) -> None:
        """N(0, init_std) weights and zero biases (paper), unless an
        ``init_cfg`` is given."""
        if self.init_cfg:
            super().init_weights()
        else:
            self._reset()

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Relation features of every emitted glimpse.

        Args:
            x: ``(N, T, in_channels)`` candidate glimpse features.
            mask: ``(N, T)`` bool, True where the glimpse is emitted.

        Returns:
            ``(N, T, hidden_channels)``: ``O_i`` at emitted positions, 0
            elsewhere.
        """
        if x.dim() != 3 or mask.shape != x.shape[:2]:
            raise ValueError(f'GRRE: expected x (N, T, D) and mask (N, T), '
                             f'got {tuple(x.shape)} and {tuple(mask.shape)}')
        mask = mask.bool()
        n, t, _ = x.shape
        hx = self.w_hx(x)  # (N, T, H): W_hx X_k
        zx = self.w_zx(x).squeeze(-1)  # (N, T): w_zx . X_k
        f = x.new_zeros(n, t, self.hidden_channels)  # (N, T, H): f^0 = 0
        not_self = ~torch.eye(t, dtype=torch.bool, device=x.device)  # (T, T)
        outs = []
        for i in range(t):
            others = mask & not_self[i]  # (N, T): emitted k != i
            h = torch.tanh(hx + self.w_hf(f))  # (N, T, H): Eq. 7
            z = masked_softmax(zx + self.w_zf(f).squeeze(-1), others)  # Eq. 8
            f_new = torch.where(others[..., None], z[..., None] * h, f)
            o = f_new.mul(others[..., None]).sum(1)  # (N, H): O_i
            step = mask[:, i]  # (N,): glimpse i emitted -> step taken
            f = torch.where(step[:, None, None], f_new, f)
            outs.append(o * step[:, None])
        return torch.stack(outs, 1)  # (N, T, H)
