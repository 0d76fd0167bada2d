"""RNGStateHook: random generators in checkpoints, for an exact resume.

Why
---
REINFORCE heads draw their exploration noise from the global torch generator
(RARL's Gaussian locations, RARNN's Bernoulli emissions), and mmcv/mmpretrain
transforms draw from the global numpy / python generators when the data is
loaded in the main process. mmengine 0.10.7 ``Runner.resume`` restores the
model, optimizer, schedulers, message hub and iteration counters, but only
re-seeds the generators from the checkpoint's ``meta['seed']``: after a
resume at iteration ``k`` the noise of iteration ``k + 1`` is the noise of
iteration 1, and the resumed run drifts away from the uninterrupted one.

What it does
------------
* ``before_save_checkpoint``: stores ``checkpoint['rng_state']`` = the torch
  CPU generator, every CUDA generator (when CUDA is initialised), numpy's
  global ``RandomState`` and python's ``random`` state, one entry per rank
  (gathered with ``mmengine.dist.all_gather_object`` after each training
  iteration / epoch when ``world_size > 1``; one process: no communication).
  Only tensors, ints, floats and tuples: the file loads with marl_mm's
  ``weights_only`` loader.
* ``after_load_checkpoint``: keeps the states of this rank (rank 0's, with a
  warning, when the world size changed) and restores them at the point
  where the uninterrupted run stood when the checkpoint was written:
  ``IterBasedTrainLoop`` first replays the ``k`` batches it skips (mmengine
  fetches them again, so data-side generators advance as they did), so the
  states are put back right after that replay, before batch ``k + 1`` is
  fetched; ``EpochBasedTrainLoop`` resumes at an epoch start, so they are put
  back in ``before_train``.
* Validation during training does not move the training generators
  (default chosen here): the states are saved in ``before_val`` and put back
  in ``after_val``. Otherwise a resumed run, which does not repeat the
  validation of iteration ``k``, would differ from the uninterrupted one (a
  val dataloader iterator draws its base seed from the torch generator).

Data-loader workers (``num_workers > 0``) hold their own generators; they
are not saved. The training loaders of the shipped data configs use
``worker_init_fn=dict(type='resumable_worker_init_fn')`` with
``persistent_workers=False``: each epoch starts fresh workers whose numpy /
``random`` / torch seeds derive from a base seed that the DataLoader draws
from this process's torch generator when the epoch's iterator is created.
That generator is what this hook restores, so a run resumed from an epoch
checkpoint gets the same augmentation as the uninterrupted one
(``tests/test_reliability/test_resume.py``, 2 workers, random crop and
flip). In an ``IterBasedTrainLoop`` mmengine's replay of the skipped batches
re-creates the workers' states within the current epoch.

Limits: mmengine's default ``worker_init_fn`` (fixed seeds per worker) with
``persistent_workers=True`` carries the workers' streams across epochs and
does not resume exactly. If an ``IterBasedTrainLoop``'s replay crosses an
epoch boundary, that epoch's workers are seeded before the generators are
restored. mmengine's ``EpochBasedTrainLoop`` restarts an interrupted epoch
from its first batch, so by-iteration checkpoints in an epoch-based loop do
not resume exactly (use ``IterBasedTrainLoop`` or by-epoch checkpoints).

Every marl_mm config has it: ``configs/_base_/default_runtime.py`` registers
it as ``default_hooks.rng_state`` (so configs may set ``custom_hooks``
freely). In a plain mmengine config::

    default_hooks = dict(rng_state=dict(type='RNGStateHook'))
"""
import random
from typing import Any, Dict, List, Optional

import numpy as np
import torch
from mmengine.dist import all_gather_object, get_dist_info
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmpretrain.registry import HOOKS

STATE_KEY = 'rng_state'


def get_rng_state() -> Dict[str, Any]:
    """This process's torch / CUDA / numpy / python generator states.

    Returns:
        dict: ``torch`` (uint8 tensor), ``cuda`` (list of uint8 tensors, empty
        without initialised CUDA), ``numpy`` (dict with the MT19937 ``keys``
        as an int64 tensor and ``pos``, ``has_gauss``, ``cached_gaussian``)
        and ``python`` (the tuple of ``random.getstate()``).
    """
    cuda = (torch.cuda.get_rng_state_all()
            if torch.cuda.is_available() and torch.cuda.is_initialized()
            else [])
    name, keys, pos, has_gauss, cached = np.random.get_state()
    assert name == 'MT19937', name  # numpy's legacy global generator
    return {
        'torch': torch.get_rng_state(),
        'cuda': cuda,
        'numpy': {'keys': torch.from_numpy(keys.astype(np.int64)),
                  'pos': int(pos), 'has_gauss': int(has_gauss),
                  'cached_gaussian': float(cached)},
        'python': random.getstate(),
    }


def set_rng_state(state: Dict[str, Any]) -> None:
    """Restore what :func:`get_rng_state` returned.

    Args:
        state: The dict of :func:`get_rng_state`.

    Raises:
        ValueError: ``state`` misses one of the four entries.
    """
    missing = {'torch', 'cuda', 'numpy', 'python'} - set(state)
    if missing:
        raise ValueError(f'RNGStateHook: checkpoint[{STATE_KEY!r}] misses '
                         f'{sorted(missing)}')
    torch.set_rng_state(state['torch'])
    if state['cuda'] and torch.cuda.is_available():
        if len(state['cuda']) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(state['cuda'])
        else:
            print_log(f'RNGStateHook: the checkpoint has {len(state["cuda"])} '
                      f'CUDA generator states, this process sees '
                      f'{torch.cuda.device_count()} devices; CUDA generators '
                      'not restored', logger='current', level=30)
    np_state = state['numpy']
    np.random.set_state(('MT19937',
                         np_state['keys'].numpy().astype(np.uint32),
                         np_state['pos'], np_state['has_gauss'],
                         np_state['cached_gaussian']))
    version, internal, gauss = state['python']
    random.setstate((version, tuple(internal), gauss))


class _RestoreAfterReplay:
    """Iterator proxy: after ``skip`` batches, restore the states once.

    Installed as ``IterBasedTrainLoop.dataloader_iterator`` while mmengine
    replays the batches of the iterations already trained; on the first
    fetch after the replay it restores the generators and puts the original
    iterator back.
    """

    def __init__(self, loop, state: Dict[str, Any], skip: int) -> None:
        self.loop = loop
        self.inner = loop.dataloader_iterator
        self.state = state
        self.remaining = skip

    def __iter__(self):
        return self

    def __next__(self):
        if self.remaining > 0:
            self.remaining -= 1
            return next(self.inner)
        set_rng_state(self.state)
        self.loop.dataloader_iterator = self.inner
        return next(self.inner)


@HOOKS.register_module()
class RNGStateHook(Hook):
    """Save and restore random generator states (see the module docstring).

    Args:
        isolate_val: keep validation during training from moving the training
            generators (default True, chosen here).
    """

    priority = 'LOW'  # after the model hooks, before CheckpointHook

    def __init__(self, isolate_val: bool = True) -> None:
        if not isinstance(isolate_val, bool):
            raise TypeError('RNGStateHook: isolate_val must be a bool, got '
                            f'{isolate_val!r}')
        self.isolate_val = isolate_val
        self._gathered: Optional[List[Dict[str, Any]]] = None
        self._pending: Optional[Dict[str, Any]] = None
        self._before_val: Optional[Dict[str, Any]] = None

    # ------------------------------------------------------------ saving
    def _gather(self) -> None:
        """States of every rank, kept for the next checkpoint (DDP only)."""
        if get_dist_info()[1] > 1:
            self._gathered = all_gather_object(get_rng_state())

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs=None) -> None:
        self._gather()

    def after_train_epoch(self, runner) -> None:
        self._gather()

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        states = self._gathered if get_dist_info()[1] > 1 and \
            self._gathered is not None else [get_rng_state()]
        checkpoint[STATE_KEY] = {'version': 1, 'ranks': states}

    # ----------------------------------------------------------- loading
    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        saved = checkpoint.get(STATE_KEY)
        if saved is None:
            return
        if not isinstance(saved, dict) or not saved.get('ranks'):
            raise ValueError(f'RNGStateHook: checkpoint[{STATE_KEY!r}] must '
                             "be a dict with a non-empty 'ranks' list, got "
                             f'{type(saved).__name__}')
        rank, world_size = get_dist_info()
        ranks = saved['ranks']
        if len(ranks) != world_size:
            print_log(f'RNGStateHook: the checkpoint holds generator states '
                      f'of {len(ranks)} processes, this run has {world_size}'
                      '; every rank restores rank 0\'s states',
                      logger='current', level=30)
            rank = 0
        self._pending = ranks[rank]

    def before_train(self, runner) -> None:
        """Restore loaded states: after the batch replay, or now."""
        if self._pending is None:
            return
        loop = runner.train_loop
        if getattr(loop, 'dataloader_iterator', None) is not None \
                and loop.iter > 0:
            loop.dataloader_iterator = _RestoreAfterReplay(
                loop, self._pending, loop.iter)
        else:
            set_rng_state(self._pending)
        self._pending = None

    # -------------------------------------------------------- validation
    def before_val(self, runner) -> None:
        if self.isolate_val:
            self._before_val = get_rng_state()

    def after_val(self, runner) -> None:
        if self.isolate_val and self._before_val is not None:
            set_rng_state(self._before_val)
            self._before_val = None
