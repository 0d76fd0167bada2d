"""A smooth emission reward for RARNN: how well the emitted set covers the
labels (an option of :class:`~marl_mm.models.heads.GRREHead`,
``reward_type='coverage'``; the paper's reward is Eq. 6,
:class:`EmissionReward`)::

    R(e) = -(1/D) sum_c BCE(s_c, y_c) - emit_cost * N_e,
    s_c = max_{t : e_t = 1} P_t^c

the binary cross-entropy of the image score the test uses (the category-wise
max over the emitted glimpses, the same score as ``GRREHead``'s
``loss_cover``). An empty set scores 0 for every class, read with the floor
``log(floor)`` (default 1e-4: a missed label costs ``-log 1e-4 / D``).

Why (an option, measured on EfficientNet-Lite0 and not shipped:
docs/rarnn.md, 'Candidates that look at the objects'): Eq. 6 counts each image's distinct argmax
labels, so two glimpses that predict the same right label are worth the
same, and a per-glimpse credit (:meth:`EmissionReward.marginal`) gives them
the same value. Independent Bernoulli decisions can then only learn how
often to emit such copies, never which of them, and the indicator could not
beat a random choice of the same size. With this reward the glimpse whose
probabilities set the image score earns the improvement over the next best
one, a glimpse that adds probability to a wrong label loses, and a glimpse
that changes no maximum earns nothing: the credit follows the test-time
score, glimpse by glimpse.

:meth:`marginal` (inherited) flips each decision in turn, as for Eq. 6.
"""
import math

import torch

from .emission_reward import EmissionReward


class CoverageReward(EmissionReward):
    """``-BCE`` of the category-wise max over the emitted glimpses.

    Args:
        emit_cost: cost per emitted glimpse (default 0).
        floor: probability that an empty set gives every class (1e-4).
    """

    def __init__(self, emit_cost: float = 0., floor: float = 1e-4) -> None:
        if not 0 < floor < 1:
            raise ValueError(f'CoverageReward: floor must be in (0, 1), got '
                             f'{floor}')
        super().__init__(emit_cost=emit_cost)
        self.floor = float(floor)

    def __call__(self, glimpse_scores: torch.Tensor, emitted: torch.Tensor,
                 gt: torch.Tensor) -> torch.Tensor:
        """Args:
            glimpse_scores: ``(N, T, D)`` log-probabilities ``log P_t``.
            emitted: ``(N, T)`` bool emission mask.
            gt: ``(N, D)`` multi-hot ground truth.

        Returns:
            ``(N,)`` float rewards (no gradient).
        """
        self._check_shapes(glimpse_scores, emitted, gt)
        log_p = glimpse_scores.detach().float()
        emitted = emitted.bool()
        log_s = log_p.masked_fill(~emitted[..., None], -math.inf).amax(1)
        log_s = log_s.clamp(min=math.log(self.floor))  # (N, D); empty: floor
        log_not = torch.log1p(-log_s.exp().clamp(max=1 - 1e-6))  # (N, D)
        y = gt.float()
        bce = -(y * log_s + (1 - y) * log_not).mean(-1)  # (N,)
        return -bce - emitted.sum(-1).float() * self.emit_cost
