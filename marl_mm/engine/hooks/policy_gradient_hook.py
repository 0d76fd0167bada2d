"""PolicyGradientHook: the reinforcement-learning side of training.

RARL (Chen et al., AAAI 2018, Eq. 8 with a learned baseline) and RARNN (Li
et al., ACM MM 2018, Eq. 5) both train a policy with REINFORCE inside a head. What a
head cannot do alone, because it needs the training loop, lives here:

* **Exploration schedule.** RARL samples ``l ~ N(mu, sigma^2 I)`` with a
  constant ``sigma = 0.11`` (paper). By default the hook leaves the head's
  value alone; optionally it anneals it (linear or cosine, from ``start`` to
  ``end`` over ``steps`` iterations or epochs; default chosen here: off).
  The value is written with ``head.set_exploration`` before every training
  iteration, so it is a pure function of ``runner.iter`` / ``runner.epoch``
  and survives a resume without extra state.
* **Policy warm-up.** ``warmup_iters=N`` (default 0 = paper: none): the
  first N training iterations train the classifier only; before every
  training iteration the hook calls ``head.set_policy_warmup(runner.iter <
  N)`` (RARL then looks at uniform random locations without a policy loss,
  RARNN samples its emissions but its ``loss_pg`` is 0). As mmengine's
  ``EMAHook`` decides from ``runner.iter`` alone whether it has started,
  nothing is counted or saved: a resumed run is in or out of the warm-up
  exactly as the uninterrupted one.
* **Running-mean reward baseline.** The papers learn a baseline network
  (paper). As an option (default chosen here: available, used only by heads
  with ``baseline_mode == 'running_mean'``) the hook keeps a running mean of
  the batch reward, either an exponential moving average
  ``b <- m b + (1 - m) r`` (initialised with the first reward, so it is not
  biased towards 0) or the cumulative mean of all rewards seen, and pushes it
  to the heads with ``head.set_external_baseline`` before every iteration.
  The reward used is the across-rank mean, so every rank holds the same
  baseline under DDP.
* **Statistics.** After every training iteration the hook reads each head's
  ``rl_stats`` (reward, advantage_abs, entropy, loc_spread, emission_rate,
  ... whatever the head records), averages them across ranks with one
  ``mmengine.dist.all_reduce`` and pushes them to the message hub as
  ``train/rl/<name>`` (``train/rl/<head path>/<name>`` when the model has
  several policy heads), together with the exploration value
  (``train/rl/<exploration_name>``) and the running baseline
  (``train/rl/running_baseline``). The ``LoggerHook`` then prints them as
  ``rl/<name>`` and sends them to every visualisation backend (TensorBoard
  included). These are the numbers that show whether the locations spread
  and the reward rises above chance (docs/method.md, "Known pitfalls").

The hook only talks to heads through :class:`PolicyHeadMixin`; it finds
them by walking the model after unwrapping DDP and other wrappers
(``mmengine.model.is_model_wrapper``).

Checkpoint state (``checkpoint['policy_gradient_hook']``)::

    {'version': 1,
     'baselines': {head_path: {'value': float | None, 'count': int}},
     'exploration': {head_path: float | None}}

``count`` is the number of training iterations whose reward went into the
running mean. ``after_load_checkpoint`` restores the running baselines (and
the exploration values, which matter only without a schedule, since a
schedule rewrites them every iteration); it runs for ``--resume`` and for
``load_from`` alike.

Example::

    custom_hooks = [dict(type='PolicyGradientHook', warmup_iters=500,
                         exploration_schedule=dict(type='cosine', start=0.2,
                                                   end=0.05, steps=10000),
                         baseline='running_mean', baseline_momentum=0.9)]
"""
import math
from typing import Dict, List, Optional, Tuple

import torch
from mmengine.dist import all_reduce
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmpretrain.registry import HOOKS
from torch import nn

from marl_mm.models.glimpse.policy_head_mixin import PolicyHeadMixin

DATA_BATCH = Optional[dict]

SCHEDULE_TYPES = ('constant', 'linear', 'cosine')
BASELINE_CHOICES = (None, 'learned', 'running_mean', 'none')
AVERAGE_TYPES = ('ema', 'cumulative')
STATE_KEY = 'policy_gradient_hook'


def annealed_value(schedule: dict, step: int) -> float:
    """Exploration value of a schedule at a (0-based) iteration or epoch.

    With ``p = clip((step - begin) / steps, 0, 1)``:
    ``linear``: ``start + (end - start) p``;
    ``cosine``: ``end + (start - end) (1 + cos(pi p)) / 2``;
    ``constant``: ``start``.

    Args:
        schedule: A checked schedule dict (see :class:`PolicyGradientHook`).
        step: ``runner.iter`` or ``runner.epoch``.

    Returns:
        float: The exploration value.
    """
    start, end = schedule['start'], schedule['end']
    if schedule['type'] == 'constant':
        return start
    p = min(max((step - schedule['begin']) / schedule['steps'], 0.), 1.)
    if schedule['type'] == 'linear':
        return start + (end - start) * p
    return end + (start - end) * (1. + math.cos(math.pi * p)) / 2.


def _check_schedule(schedule: Optional[dict]) -> Optional[dict]:
    """Fill defaults of ``exploration_schedule`` and check every field."""
    if schedule is None:
        return None
    if not isinstance(schedule, dict):
        raise TypeError('PolicyGradientHook: exploration_schedule must be a '
                        f'dict or None, got {type(schedule).__name__}')
    allowed = {'type', 'start', 'end', 'steps', 'begin', 'by_epoch'}
    unknown = set(schedule) - allowed
    if unknown:
        raise ValueError('PolicyGradientHook: exploration_schedule has '
                         f'unknown keys {sorted(unknown)}; allowed: '
                         f'{sorted(allowed)}')
    out = dict(type='linear', begin=0, by_epoch=False)
    out.update(schedule)
    if out['type'] not in SCHEDULE_TYPES:
        raise ValueError('PolicyGradientHook: exploration_schedule.type must '
                         f'be one of {SCHEDULE_TYPES}, got {out["type"]!r}')
    if 'start' not in out:
        raise ValueError('PolicyGradientHook: exploration_schedule needs '
                         "'start' (the exploration value at step `begin`)")
    if out['type'] == 'constant':
        out.setdefault('end', out['start'])
        out.setdefault('steps', 1)
    for key in ('end', 'steps'):
        if key not in out:
            raise ValueError(f'PolicyGradientHook: a {out["type"]!r} '
                             f"exploration_schedule needs {key!r}")
    for key in ('start', 'end'):
        value = out[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)) \
                or not value > 0:
            raise ValueError(f'PolicyGradientHook: exploration_schedule.{key} '
                             f'must be a number > 0, got {value!r}')
        out[key] = float(value)
    for key, low in (('steps', 1), ('begin', 0)):
        value = out[key]
        if isinstance(value, bool) or not isinstance(value, int) \
                or value < low:
            raise ValueError(f'PolicyGradientHook: exploration_schedule.{key} '
                             f'must be an int >= {low}, got {value!r}')
    if not isinstance(out['by_epoch'], bool):
        raise TypeError('PolicyGradientHook: exploration_schedule.by_epoch '
                        f'must be a bool, got {out["by_epoch"]!r}')
    return out


@HOOKS.register_module()
class PolicyGradientHook(Hook):
    """Exploration schedule, running reward baseline and RL statistics.

    See the module docstring for what each part does and the checkpoint
    format.

    Args:
        exploration_schedule: ``None`` (default chosen here: leave each
            head's configured value, e.g. RARL's ``sigma = 0.11``, paper) or
            a dict with ``type`` ('linear' (default) | 'cosine' |
            'constant'), ``start`` and ``end`` (> 0), ``steps`` (duration of
            the annealing, >= 1), ``begin`` (first step, default 0) and
            ``by_epoch`` (count epochs instead of iterations, default False).
            Applied to every head whose ``exploration`` is not ``None``.
        baseline: Which baseline the heads use. ``None`` (default): leave
            each head's ``baseline_mode`` as configured. ``'running_mean'``:
            switch the heads to the hook's running mean. ``'none'``: switch
            them to no baseline. ``'learned'``: the paper's value network;
            only checked (a head builds that network at construction, so it
            must be configured with ``baseline_mode='learned'``).
        baseline_average: ``'ema'`` (default chosen here) or
            ``'cumulative'`` (mean of every batch reward seen).
        baseline_momentum: ``m`` of the EMA, in [0, 1) (default 0.9, chosen
            here). Ignored for ``'cumulative'``.
        log_stats: Push the heads' ``rl_stats`` to the message hub.
        warmup_iters: Training iterations ``0..warmup_iters-1`` (by
            ``runner.iter``) are the policy warm-up of every head (default
            0: none, paper). An int >= 0.
    """

    priority = 'NORMAL'

    def __init__(self,
                 exploration_schedule: Optional[dict] = None,
                 baseline: Optional[str] = None,
                 baseline_average: str = 'ema',
                 baseline_momentum: float = 0.9,
                 log_stats: bool = True,
                 warmup_iters: int = 0) -> None:
        self.schedule = _check_schedule(exploration_schedule)
        if baseline not in BASELINE_CHOICES:
            raise ValueError('PolicyGradientHook: baseline must be one of '
                             f'{BASELINE_CHOICES}, got {baseline!r}')
        if baseline_average not in AVERAGE_TYPES:
            raise ValueError('PolicyGradientHook: baseline_average must be '
                             f'one of {AVERAGE_TYPES}, got '
                             f'{baseline_average!r}')
        if isinstance(baseline_momentum, bool) or not isinstance(
                baseline_momentum, (int, float)) or not \
                0. <= baseline_momentum < 1.:
            raise ValueError('PolicyGradientHook: baseline_momentum must be a '
                             f'number in [0, 1), got {baseline_momentum!r}')
        if not isinstance(log_stats, bool):
            raise TypeError('PolicyGradientHook: log_stats must be a bool, '
                            f'got {log_stats!r}')
        if isinstance(warmup_iters, bool) or not isinstance(
                warmup_iters, int) or warmup_iters < 0:
            raise ValueError('PolicyGradientHook: warmup_iters must be an '
                             f'int >= 0, got {warmup_iters!r}')
        self.warmup_iters = warmup_iters
        self.baseline = baseline
        self.baseline_average = baseline_average
        self.baseline_momentum = float(baseline_momentum)
        self.log_stats = log_stats
        #: head path -> {'value': running baseline or None, 'count': int}
        self.baselines: Dict[str, dict] = {}
        #: exploration values read from a checkpoint, applied in before_train
        self._loaded_exploration: Dict[str, Optional[float]] = {}
        self._heads: Optional[List[Tuple[str, PolicyHeadMixin]]] = None

    # ------------------------------------------------------------ heads
    @staticmethod
    def find_policy_heads(model: nn.Module
                          ) -> List[Tuple[str, PolicyHeadMixin]]:
        """``(path, module)`` of every :class:`PolicyHeadMixin` in ``model``.

        Wrappers (DDP, DataParallel, anything registered in mmengine's
        ``MODEL_WRAPPERS``) are unwrapped first.

        Raises:
            RuntimeError: The model holds no policy head.
        """
        while is_model_wrapper(model):
            model = model.module
        heads = [(name or type(module).__name__, module)
                 for name, module in model.named_modules()
                 if isinstance(module, PolicyHeadMixin)]
        if not heads:
            raise RuntimeError(
                'PolicyGradientHook: the model '
                f'({type(model).__name__}) holds no module that inherits '
                'marl_mm PolicyHeadMixin (e.g. LSTMGlimpseHead, GRREHead); '
                'remove the hook from custom_hooks or use a policy head')
        return heads

    def _get_heads(self, runner) -> List[Tuple[str, PolicyHeadMixin]]:
        if self._heads is None:
            self._heads = self.find_policy_heads(runner.model)
        return self._heads

    def _prefix(self, name: str) -> str:
        return 'train/rl/' if len(self._heads) == 1 else f'train/rl/{name}/'

    # ------------------------------------------------------------ hooks
    def before_train(self, runner) -> None:
        """Find the heads, switch baseline modes, restore loaded state."""
        heads = self._get_heads(runner)
        for name, head in heads:
            if self.baseline == 'learned' and head.baseline_mode != 'learned':
                raise ValueError(
                    f'PolicyGradientHook: baseline=\'learned\' but head '
                    f'{name!r} ({type(head).__name__}) was built with '
                    f'baseline_mode={head.baseline_mode!r}; the value network '
                    'is built at construction, so set baseline_mode='
                    "'learned' in the head config")
            if self.baseline in ('running_mean', 'none'):
                head.baseline_mode = self.baseline
            if self.schedule is not None and head.exploration is None:
                raise ValueError(
                    'PolicyGradientHook: exploration_schedule is set but '
                    f'head {name!r} ({type(head).__name__}) has no '
                    'exploration parameter (its exploration is None)')
            loaded = self._loaded_exploration.get(name)
            if loaded is not None and head.exploration is not None:
                head.set_exploration(loaded)
            self.baselines.setdefault(name, {'value': None, 'count': 0})

    def before_train_iter(self, runner, batch_idx: int,
                          data_batch: DATA_BATCH = None) -> None:
        """Write the warm-up flag, the scheduled exploration and the running
        baseline."""
        warmup = runner.iter < self.warmup_iters
        for name, head in self._get_heads(runner):
            head.set_policy_warmup(warmup)
            if self.schedule is not None:
                step = runner.epoch if self.schedule['by_epoch'] \
                    else runner.iter
                head.set_exploration(annealed_value(self.schedule, step))
            state = self.baselines.setdefault(name, {'value': None,
                                                     'count': 0})
            head.set_external_baseline(state['value'])

    def after_train_iter(self, runner, batch_idx: int,
                         data_batch: DATA_BATCH = None,
                         outputs: Optional[dict] = None) -> None:
        """Average the heads' statistics over ranks, update the baseline."""
        for name, head in self._get_heads(runner):
            stats = self._reduced_stats(name, head)
            state = self.baselines.setdefault(name, {'value': None,
                                                     'count': 0})
            if 'reward' in stats:
                self._update_baseline(state, stats['reward'])
            if not self.log_stats:
                continue
            prefix = self._prefix(name)
            for key, value in stats.items():
                runner.message_hub.update_scalar(prefix + key, value)
            if head.exploration is not None:
                exp_name = head.exploration_name or 'exploration'
                runner.message_hub.update_scalar(prefix + exp_name,
                                                 float(head.exploration))
            if state['value'] is not None:
                runner.message_hub.update_scalar(prefix + 'running_baseline',
                                                 state['value'])

    def after_train(self, runner) -> None:
        """Leave no head in the warm-up (a run shorter than it)."""
        for _, head in self._get_heads(runner):
            head.set_policy_warmup(False)

    @staticmethod
    def _reduced_stats(name: str, head: PolicyHeadMixin) -> Dict[str, float]:
        """The head's ``rl_stats`` averaged over ranks (one all_reduce)."""
        stats = getattr(head, 'rl_stats', None) or {}
        if not isinstance(stats, dict):
            raise TypeError(f'PolicyGradientHook: head {name!r} rl_stats must '
                            f'be a dict, got {type(stats).__name__}')
        if not stats:
            return {}
        keys = sorted(stats)  # same order on every rank
        device = next((v.device for v in stats.values() if torch.is_tensor(v)),
                      torch.device('cpu'))
        values = torch.stack([
            torch.as_tensor(stats[k], device=device).detach().float().mean()
            for k in keys
        ])  # (S,)
        all_reduce(values, op='mean')  # no-op on one process
        return dict(zip(keys, values.tolist()))  # one host sync, for logging

    def _update_baseline(self, state: dict, reward: float) -> None:
        if state['value'] is None:
            state['value'] = reward
        elif self.baseline_average == 'ema':
            m = self.baseline_momentum
            state['value'] = m * state['value'] + (1. - m) * reward
        else:
            n = state['count']
            state['value'] = (n * state['value'] + reward) / (n + 1)
        state['count'] += 1

    # ------------------------------------------------------- checkpoint
    def state_dict(self) -> dict:
        """The hook's state (see the module docstring for the format)."""
        exploration = {}
        for name, head in self._heads or []:
            exploration[name] = (None if head.exploration is None else
                                 float(head.exploration))
        return {
            'version': 1,
            'baselines': {k: dict(v) for k, v in self.baselines.items()},
            'exploration': exploration,
        }

    def load_state_dict(self, state: dict) -> None:
        """Restore what :meth:`state_dict` returned."""
        if not isinstance(state, dict) or 'baselines' not in state:
            raise ValueError(f'PolicyGradientHook: checkpoint[{STATE_KEY!r}] '
                             "must be a dict with 'baselines', got "
                             f'{state!r}')
        self.baselines = {
            k: {'value': None if v['value'] is None else float(v['value']),
                'count': int(v['count'])}
            for k, v in state['baselines'].items()
        }
        self._loaded_exploration = dict(state.get('exploration', {}))
        for name, head in self._heads or []:  # already running: apply now
            loaded = self._loaded_exploration.get(name)
            if loaded is not None and head.exploration is not None:
                head.set_exploration(loaded)

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint[STATE_KEY] = self.state_dict()

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        if STATE_KEY in checkpoint:
            self.load_state_dict(checkpoint[STATE_KEY])
