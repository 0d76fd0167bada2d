"""The small interface between a glimpse head and :class:`PolicyGradientHook`.

A head that learns a policy with REINFORCE (RARL's location policy, RARNN's
emission indicator) inherits :class:`PolicyHeadMixin`. The hook never reaches
further into the model than these members:

``exploration`` (read/write)
    The exploration parameter of the policy, or ``None`` if it has none to
    schedule: the Gaussian standard deviation ``sigma`` for RARL. The hook
    writes it before every training iteration when a schedule is set.
``external_baseline`` (write)
    A reward baseline computed outside the model (the hook's running mean of
    the reward). A head whose ``baseline_mode == 'running_mean'`` subtracts it
    instead of its learned value network's output; ``None`` until the hook
    has seen a reward.
``rl_stats`` (read)
    A dict ``name -> 0-dim float tensor`` (detached) filled by the head's last
    ``loss`` call: at least ``reward`` (mean reward of the batch), and where
    they apply ``advantage_abs``, ``entropy``, ``loc_spread``, ``loc_mean_x``,
    ``loc_mean_y``, ``emission_rate``, ``num_emitted``. The hook averages
    them across ranks and pushes them to the message hub as ``rl/<name>``.
"""
from typing import Dict, Optional

import torch
from mmengine.dist import all_reduce, get_world_size

ADVANTAGE_NORMS = ('none', 'std', 'meanstd')


class PolicyHeadMixin:
    """Mixin holding the policy-gradient state shared with the hook."""

    #: name of the exploration parameter (for logs), e.g. ``'sigma'``.
    exploration_name: Optional[str] = None

    def _init_policy_state(self, exploration: Optional[float] = None,
                           baseline_mode: str = 'learned') -> None:
        if baseline_mode not in ('learned', 'running_mean', 'none'):
            raise ValueError(
                "baseline_mode must be 'learned', 'running_mean' or 'none', "
                f'got {baseline_mode!r}')
        self.exploration = exploration
        self.baseline_mode = baseline_mode
        self.external_baseline: Optional[float] = None
        self.rl_stats: Dict[str, torch.Tensor] = {}

    def set_exploration(self, value: float) -> None:
        """Set the policy's exploration parameter (hook API)."""
        if self.exploration is None:
            raise RuntimeError(
                f'{type(self).__name__} has no exploration parameter to set')
        if not value > 0:
            raise ValueError(f'exploration must be > 0, got {value}')
        self.exploration = float(value)

    def set_external_baseline(self, value: Optional[float]) -> None:
        """Set the reward baseline used when ``baseline_mode='running_mean'``."""
        self.external_baseline = None if value is None else float(value)

    @staticmethod
    def normalise_advantage(adv: torch.Tensor, mode: str,
                            weight: Optional[torch.Tensor] = None
                            ) -> torch.Tensor:
        """Normalise advantages with statistics of the whole global batch.

        ``mode``: 'none' (paper: raw ``R - b``), 'std' (divide by the
        standard deviation), 'meanstd' (subtract the mean, then divide).
        The mean and the (biased) standard deviation are taken over the
        entries with ``weight > 0`` (all entries when ``weight`` is None),
        summed over every rank with one ``all_reduce`` under
        torch.distributed, so that DDP on N ranks computes exactly what one
        process computes on the concatenated batch. Both heads use this.

        Args:
            adv: advantages, any shape (detached).
            mode: one of :data:`ADVANTAGE_NORMS`.
            weight: 0/1 weights broadcastable to ``adv`` (valid entries).

        Returns:
            torch.Tensor: the normalised advantages, same shape.
        """
        if mode not in ADVANTAGE_NORMS:
            raise ValueError(f'advantage_norm must be one of '
                             f'{ADVANTAGE_NORMS}, got {mode!r}')
        if mode == 'none':
            return adv
        a = adv.detach().float()
        w = (torch.ones_like(a) if weight is None else
             weight.float().expand_as(a))
        sums = torch.stack([w.sum(), (a * w).sum(), (a * a * w).sum()])
        if get_world_size() > 1:
            all_reduce(sums, op='sum')
        n = sums[0].clamp(min=1)
        mean = sums[1] / n
        std = (sums[2] / n - mean * mean).clamp(min=0).sqrt()
        out = (a - mean if mode == 'meanstd' else a) / (std + 1e-6)
        # a single entry has no spread: left as it is (no host sync)
        return torch.where(sums[0] > 1, out, a).to(adv.dtype)

    def _record_rl_stats(self, **stats: torch.Tensor) -> None:
        self.rl_stats = {
            k: (v.detach().float().mean() if torch.is_tensor(v) else
                torch.tensor(float(v)))
            for k, v in stats.items()
        }
