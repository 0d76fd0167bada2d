"""Reward of RARNN's emission indicator (Li et al., ACM MM 2018, Eq. 6),
returned at the last candidate glimpse::

    R_T = -R_e                    if N_e = 0
        = N_+ R_+ - N_- R_-       otherwise

(paper: ``R_+ = 1``, ``R_- = 0.1``, ``R_e = 10``). Default chosen here for
what a "classification" is (docs/method.md): every emitted glimpse predicts the
argmax of its ``P_i``; ``N_+`` / ``N_-`` count the DISTINCT predicted labels
that are / are not in the ground truth (two glimpses predicting the same
label count once). Ties in the argmax go to the lower class index.

Option chosen here (``emit_cost``, default 0 = paper): a cost per emitted
glimpse, ``R_T = N_+ R_+ - N_- R_- - emit_cost * N_e`` when ``N_e > 0``.
With distinct-label counting, a glimpse that repeats a label already
predicted changes nothing in Eq. 6, and one that predicts a wrong label
costs ``R_-`` once, so with ``R_- = 0.1`` emitting every glimpse is close
to optimal and the indicator drifts to "emit all" (docs/rarnn.md,
'Why `emit_cost`'). A small cost per glimpse makes
a glimpse worth emitting only when it adds a label, which is what the
indicator is for; ``0 < emit_cost < R_+`` keeps one glimpse per right label
worth its cost.

:meth:`EmissionReward.marginal` gives each emission decision's own share of
the reward, ``R(e with e_t = 1) - R(e with e_t = 0)`` with the other
decisions and every glimpse's prediction held fixed (``GRREHead``'s
``credit='per_glimpse'``).
"""
import torch
import torch.nn.functional as F


class EmissionReward:
    """Eq. 6 for a batch of emission sequences.

    Args:
        pos_reward: R_+ (paper: 1).
        neg_penalty: R_- (paper: 0.1).
        empty_penalty: R_e (paper: 10).
        emit_cost: cost per emitted glimpse (paper: 0; see the module
            docstring).
    """

    def __init__(self, pos_reward: float = 1., neg_penalty: float = 0.1,
                 empty_penalty: float = 10., emit_cost: float = 0.) -> None:
        if emit_cost < 0:
            raise ValueError(f'EmissionReward: emit_cost must be >= 0, got '
                             f'{emit_cost}')
        self.pos_reward = float(pos_reward)
        self.neg_penalty = float(neg_penalty)
        self.empty_penalty = float(empty_penalty)
        self.emit_cost = float(emit_cost)

    def _check_shapes(self, glimpse_scores: torch.Tensor,
                      emitted: torch.Tensor, gt: torch.Tensor) -> None:
        """``(N, T, D)``, ``(N, T)`` and ``(N, D)`` or a ValueError naming
        the reward class and the three shapes."""
        if glimpse_scores.dim() != 3 or emitted.shape != glimpse_scores.shape[
                :2] or gt.shape != (glimpse_scores.shape[0],
                                    glimpse_scores.shape[2]):
            raise ValueError(
                f'{type(self).__name__}: expected glimpse_scores (N, T, D), '
                f'emitted (N, T) and gt (N, D), got '
                f'{tuple(glimpse_scores.shape)}, {tuple(emitted.shape)} and '
                f'{tuple(gt.shape)}')

    def __call__(self, glimpse_scores: torch.Tensor, emitted: torch.Tensor,
                 gt: torch.Tensor) -> torch.Tensor:
        """Args:
            glimpse_scores: ``(N, T, D)`` per-glimpse scores (any monotone
                transform of ``P_i``).
            emitted: ``(N, T)`` bool emission mask.
            gt: ``(N, D)`` multi-hot ground truth.

        Returns:
            ``(N,)`` float rewards (no gradient).
        """
        self._check_shapes(glimpse_scores, emitted, gt)
        emitted = emitted.bool()
        label = glimpse_scores.detach().argmax(-1)  # (N, T)
        votes = F.one_hot(label, glimpse_scores.shape[-1]).bool()  # (N, T, D)
        predicted = (votes & emitted[..., None]).any(1)  # (N, D): distinct
        positive = gt > 0
        n_pos = (predicted & positive).sum(-1).float()  # (N,)
        n_neg = (predicted & ~positive).sum(-1).float()  # (N,)
        reward = n_pos * self.pos_reward - n_neg * self.neg_penalty \
            - emitted.sum(-1).float() * self.emit_cost
        nothing = ~emitted.any(-1)  # (N,)
        return torch.where(nothing, torch.full_like(reward,
                                                    -self.empty_penalty),
                           reward)

    def marginal(self, glimpse_scores: torch.Tensor, emitted: torch.Tensor,
                 gt: torch.Tensor) -> torch.Tensor:
        """What each decision adds to the reward: ``(N, T)`` with entry
        ``t`` = ``R(e | e_t = 1) - R(e | e_t = 0)``, the other ``e_s`` and
        every glimpse's prediction unchanged (no gradient).

        All ``2 T`` flipped sequences are scored in one call of Eq. 6.
        """
        n, t = emitted.shape
        eye = torch.eye(t, dtype=torch.bool, device=emitted.device)
        emitted = emitted.bool()[:, None]  # (N, 1, T)
        flipped = torch.cat([emitted | eye, emitted & ~eye], 1)  # (N, 2T, T)
        scores = glimpse_scores.detach()[:, None].expand(
            -1, 2 * t, -1, -1).flatten(0, 1)  # (N*2T, T, D)
        reward = self(scores, flipped.flatten(0, 1),
                      gt.repeat_interleave(2 * t, 0)).view(n, 2, t)
        return reward[:, 0] - reward[:, 1]  # (N, T)
