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
``policy_warmup`` (write, with :meth:`PolicyHeadMixin.set_policy_warmup`)
    A plain bool: while it is True the head does not train its policy (the
    classifier learns to read glimpses first). RARL's head looks at uniform
    random locations and has no policy loss; RARNN's samples emissions from
    its current policy but its ``loss_pg`` is 0. The hook sets it before
    every training iteration from ``runner.iter`` alone
    (``PolicyGradientHook(warmup_iters=N)``: iterations ``0..N-1``), as
    mmengine's ``EMAHook`` decides from ``runner.iter`` whether it has
    started, so it is not saved anywhere and a resumed run is in or out of
    the warm-up exactly as the uninterrupted one. False (no warm-up) unless
    the hook sets it.
``rl_stats`` (read)
    A dict ``name -> 0-dim float tensor`` (detached) filled by the head's last
    ``loss`` call: at least ``reward`` (mean reward of the batch), and where
    they apply ``advantage_abs``, ``entropy``, ``loc_spread``, ``loc_mean_x``,
    ``loc_mean_y``, ``emission_rate``, ``num_emitted``. The hook averages
    them across ranks and pushes them to the message hub as ``rl/<name>``.
"""
import functools
from typing import Dict, Optional, Sequence

import torch
from mmengine.dist import all_reduce, get_world_size

ADVANTAGE_NORMS = ('none', 'std', 'meanstd')


def _drop_legacy_keys(names: Sequence[str], module, state_dict: dict,
                      prefix: str, *args) -> None:
    """``load_state_dict`` pre-hook: forget ``prefix + name`` for each name
    (entries that older checkpoints hold and the module no longer has)."""
    for name in names:
        state_dict.pop(prefix + name, None)


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
        self.policy_warmup = False
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

    def _ignore_legacy_state(self, *names: str) -> None:
        """Let checkpoints written by older versions load: their entries
        ``names`` (relative to this module) are dropped before loading.

        Used for the warm-up counters the heads kept before the warm-up
        moved to :class:`PolicyGradientHook` (RARL: ``_extra_state``, RARNN:
        the ``train_iters`` buffer); they carry nothing the model needs now.

        Args:
            names: state-dict keys relative to this module.
        """
        self.register_load_state_dict_pre_hook(
            functools.partial(_drop_legacy_keys, tuple(names)))

    def set_policy_warmup(self, warmup: bool) -> None:
        """Switch the policy warm-up on or off (hook API, see the module
        docstring).

        Args:
            warmup: True while the policy must not be trained.
        """
        if not isinstance(warmup, bool):
            raise TypeError('set_policy_warmup expects a bool, got '
                            f'{type(warmup).__name__}')
        self.policy_warmup = warmup

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
