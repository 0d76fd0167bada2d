"""Emission indicator of RARNN (Li et al., ACM MM 2018, Sec. 3.3).

``p_t = sigmoid(FC(X_t))`` parameterises a Bernoulli policy per candidate
glimpse (paper). Training samples ``e_t ~ Bernoulli(p_t)``, ``K`` sequences
per image (paper: K = 4, folded into the batch here: rows ``b*K .. b*K+K-1``
belong to image ``b``, the order of ``repeat_interleave``); test emits
``e_t = [p_t > 0.5]`` and, if that emits nothing, the glimpse with the
largest ``p_t`` (docs/method.md). Log-probabilities and entropies are computed
from the logits (stable, via ``binary_cross_entropy_with_logits``). Under AMP
the FC, the probabilities, log-probabilities and entropies run in float32
with autocast off (:mod:`.float32_math`); the logits are float32.

Choices where the paper is open (constructor options, defaults chosen here):

* ``weight_std=0.01``: small Gaussian weights, so every glimpse starts with
  ``p_t`` close to ``sigmoid(bias_init)`` (no glimpse is preferred before
  learning).
* ``bias_init=0.0``: ``p_t`` starts at 0.5, i.e. about T/2 glimpses emitted
  and ``P(N_e = 0) = 2^-T``; a positive value starts nearer "emit all", a
  negative one nearer "emit nothing".
* ``detach_input=True``: the policy reads detached glimpse features, so
  REINFORCE trains only the indicator's FC and never reshapes the RHN
  features (paper: not said; ``False`` lets the policy gradient reach the
  RHN end to end).
* ``score_dims=0`` (paper: the FC reads ``X_t`` only). With ``score_dims =
  D`` the FC also reads the glimpse's own class log-probabilities ``log
  P_t`` (``D`` values, detached) and their maximum: ``p_t = sigmoid(FC([X_t,
  log P_t, max_c log P_t]))``. Why (an option, measured
  on EfficientNet-Lite0 and not shipped): whether a glimpse is worth emitting is whether its prediction
  is right, and a linear map of ``X_t`` cannot read how confident the
  softmax on top of it is (docs/rarnn.md, 'Candidates that look at the
  objects'). ``GRREHead`` passes the scores of Eq. 9 without the relation
  term (which depends on the emission).
"""
from typing import Optional, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule

from mmpretrain.registry import MODELS

from .float32_math import float32_linear, no_autocast


@MODELS.register_module()
class EmissionIndicator(BaseModule):
    """Bernoulli emission policy over candidate glimpses.

    Args:
        in_channels: size of ``X_t`` (paper: 512).
        weight_std: std of the FC's Gaussian weight init (default 0.01).
        bias_init: initial FC bias (default 0: ``p_t = 0.5``).
        detach_input: read ``X_t.detach()`` (default True).
        score_dims: also read the glimpse's ``D`` class log-probabilities
            and their maximum (module docstring); 0 (paper) for none.
        init_cfg: mmengine init config (overrides the two above if given).
    """

    def __init__(self,
                 in_channels: int = 512,
                 weight_std: float = 0.01,
                 bias_init: float = 0.,
                 detach_input: bool = True,
                 score_dims: int = 0,
                 init_cfg: Optional[Union[dict, list]] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if score_dims < 0:
            raise ValueError('EmissionIndicator: score_dims must be >= 0, '
                             f'got {score_dims}')
        self.weight_std = weight_std
        self.bias_init = bias_init
        self.detach_input = detach_input
        self.score_dims = score_dims
        self.fc = nn.Linear(
            in_channels + (score_dims + 1 if score_dims else 0), 1)
        self._reset()

    def _reset(self) -> None:
        nn.init.normal_(self.fc.weight, 0., self.weight_std)
        nn.init.constant_(self.fc.bias, self.bias_init)

    def init_weights(self) -> None:
        """Gaussian weights and ``bias_init`` unless an ``init_cfg`` is set."""
        if self.init_cfg:
            super().init_weights()
        else:
            self._reset()

    def forward(self, x: torch.Tensor,
                scores: Optional[torch.Tensor] = None) -> torch.Tensor:
        """``(..., T, Dx) -> (..., T)`` float32 logits of ``p_t``.

        ``scores``: ``(..., T, score_dims)`` the glimpses' class
        log-probabilities, required with ``score_dims`` (always detached).
        """
        if self.detach_input:
            x = x.detach()
        if self.score_dims:
            if scores is None or scores.shape[:-1] != x.shape[:-1] or \
                    scores.shape[-1] != self.score_dims:
                got = None if scores is None else tuple(scores.shape)
                raise ValueError(
                    f'EmissionIndicator: score_dims={self.score_dims} needs '
                    "the glimpses' log-probabilities of shape "
                    f'{tuple(x.shape[:-1]) + (self.score_dims, )}, got {got}')
            scores = scores.detach().to(x.dtype)
            x = torch.cat([x, scores, scores.amax(-1, keepdim=True)], -1)
        return float32_linear(self.fc, x).squeeze(-1)

    @staticmethod
    def sample(logits: torch.Tensor, num_samples: int) -> torch.Tensor:
        """``K`` Bernoulli emission sequences per image, folded into the batch.

        Args:
            logits: ``(B, T)``.
            num_samples: K.

        Returns:
            ``(B*K, T)`` bool (no gradient: the samples are discrete).
        """
        with no_autocast(logits):
            p = logits.detach().float().sigmoid()  # (B, T)
        p = p.repeat_interleave(num_samples, 0)  # (B*K, T)
        # NaN logits (from NaN features) would make torch.bernoulli raise an
        # error that names nothing; sample them at 0.5 instead: their
        # log-probabilities stay NaN, so the loss is NaN and
        # NonFiniteCheckHook stops training naming the iteration and term.
        p = p.nan_to_num(0.5)
        return torch.bernoulli(p).bool()  # (B*K, T)

    @staticmethod
    def greedy(logits: torch.Tensor) -> torch.Tensor:
        """Test-time emission ``[p_t > 0.5]``, at least the argmax.

        Args:
            logits: ``(B, T)``.

        Returns:
            ``(B, T)`` bool with at least one True per row.
        """
        emitted = logits > 0  # (B, T): p > 0.5
        best = F.one_hot(logits.argmax(-1), logits.shape[-1]).bool()  # (B, T)
        return emitted | (best & ~emitted.any(-1, keepdim=True))

    @staticmethod
    def log_prob(logits: torch.Tensor, emitted: torch.Tensor) -> torch.Tensor:
        """``sum_t log pi(e_t)``: ``(N, T), (N, T) -> (N,)``, float32."""
        with no_autocast(logits):
            return -F.binary_cross_entropy_with_logits(
                logits.float(), emitted.float(), reduction='none').sum(-1)

    @staticmethod
    def entropy(logits: torch.Tensor) -> torch.Tensor:
        """Bernoulli entropy per glimpse, ``(..., T) -> (..., T)`` (nats),
        float32."""
        with no_autocast(logits):
            logits = logits.float()
            p = logits.sigmoid()
            return F.binary_cross_entropy_with_logits(logits, p,
                                                      reduction='none')
