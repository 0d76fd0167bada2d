"""Delayed reward of RARL (Chen et al. AAAI 2018, Eq. 5):
``r_T = |top-K(a) intersect GT| / |GT|``, ``r_t = 0`` for ``t < T``; the
return of Eq. 6 with discount 1: every step's return is ``R = r_T``.

Choices where the paper is open (defaults chosen here):

* ``K = |GT|`` per image (paper reading, docs/method.md); ``topk=int`` gives a
  fixed K.
* Ties in the scores are broken by the lower class index (a stable
  descending sort), so the reward is deterministic.
* An image with no positive label has no defined reward: it gets reward 0 and
  ``valid = False``; heads exclude it from the policy and baseline losses.
"""
from typing import Optional, Tuple

import torch


class TopKRecallReward:
    """Recall of the top-K predicted labels.

    Args:
        topk: fixed K, or ``None`` for ``K = |GT|`` per image.
    """

    def __init__(self, topk: Optional[int] = None) -> None:
        if topk is not None and topk < 1:
            raise ValueError(f'TopKRecallReward: topk must be >= 1 or None, '
                             f'got {topk}')
        self.topk = topk

    def __call__(self, scores: torch.Tensor,
                 gt: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Args:
            scores: ``(B, D)`` pooled scores (any monotone transform).
            gt: ``(B, D)`` multi-hot ground truth.

        Returns:
            ``(reward, valid)``: ``(B,)`` float rewards in ``[0, 1]`` and a
            ``(B,)`` bool mask of the images that have at least one label.
        """
        if scores.shape != gt.shape:
            raise ValueError('TopKRecallReward: scores and gt must have the '
                             f'same shape, got {tuple(scores.shape)} and '
                             f'{tuple(gt.shape)}')
        positive = gt > 0
        num_gt = positive.sum(-1)  # (B,)
        order = torch.sort(scores.detach(), dim=-1, descending=True,
                           stable=True).indices  # (B, D)
        rank = torch.empty_like(order).scatter_(
            -1, order, torch.arange(scores.shape[-1], device=scores.device)
            .expand_as(order))  # (B, D) rank of each class
        k = num_gt if self.topk is None else torch.full_like(num_gt, self.topk)
        chosen = rank < k.unsqueeze(-1)  # (B, D)
        hits = (chosen & positive).sum(-1).float()  # (B,)
        valid = num_gt > 0
        reward = hits / num_gt.clamp(min=1).float()
        return reward, valid
