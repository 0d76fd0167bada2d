"""Data-loader worker seeding that a resumed run reproduces exactly.

mmengine's default ``worker_init_fn`` seeds numpy / ``random`` / torch in
each worker with ``seed + worker_id + rank * num_workers``: the same numbers
every time workers start. With ``persistent_workers=True`` the workers'
random streams then run on across epochs, and a run resumed at epoch k
starts fresh workers whose augmentation (flips, crops) differs from the
uninterrupted run's: resume is not exact. With non-persistent workers and
the default seeding, every epoch repeats the first epoch's augmentation.

``resumable_worker_init_fn`` instead seeds numpy and ``random`` from
``torch.initial_seed()`` inside the worker, which PyTorch's DataLoader sets
to ``base_seed + worker_id`` with a ``base_seed`` drawn from the main
process's generator each time an iterator is created (each epoch with
``persistent_workers=False``). The main generator is seeded per rank by the
runner (``randomness.seed``, ``diff_rank_seed``) and restored on resume by
:class:`~marl_mm.engine.hooks.RNGStateHook`, so every epoch gets its own
augmentation and a resumed run gets the same as an uninterrupted one. The
data configs use it for training with ``persistent_workers=False``::

    train_dataloader = dict(
        num_workers=2, persistent_workers=False,
        worker_init_fn=dict(type='resumable_worker_init_fn'), ...)
"""
import random

import numpy as np
import torch
from mmengine.registry import FUNCTIONS


@FUNCTIONS.register_module()
def resumable_worker_init_fn(worker_id: int) -> None:
    """Seed numpy and ``random`` from the worker's torch seed.

    Args:
        worker_id: the worker's index (part of its torch seed already).
    """
    seed = torch.initial_seed() % 2**32  # base_seed + worker_id
    np.random.seed(seed)
    random.seed(seed)
