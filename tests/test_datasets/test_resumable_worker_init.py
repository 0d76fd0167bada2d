"""resumable_worker_init_fn: each epoch's augmentation randomness comes
from the main generator (restored on resume), not from fixed worker seeds."""
import random
from functools import partial

import numpy as np
import torch
from mmengine.dataset import worker_init_fn as mmengine_worker_init_fn
from torch.utils.data import DataLoader, Dataset

from marl_mm.datasets import resumable_worker_init_fn


class _Draws(Dataset):
    """What an mmcv transform would draw: numpy and ``random`` numbers."""

    def __len__(self):
        return 4

    def __getitem__(self, i):
        return torch.tensor([np.random.rand(), random.random()])


def _epochs(init_fn, n=2):
    loader = DataLoader(_Draws(), batch_size=2, num_workers=2,
                        persistent_workers=False, worker_init_fn=init_fn)
    return [torch.cat(list(loader)) for _ in range(n)]


def test_epochs_differ_and_replay_from_the_main_generator():
    torch.manual_seed(0)
    first = _epochs(resumable_worker_init_fn)
    state = torch.get_rng_state()  # what RNGStateHook saves at epoch 2
    third = _epochs(resumable_worker_init_fn, 1)[0]
    assert not torch.equal(first[0], first[1])  # new draws every epoch
    torch.manual_seed(0)
    assert all(torch.equal(a, b) for a, b in zip(
        first, _epochs(resumable_worker_init_fn)))  # same seed, same draws
    torch.set_rng_state(state)  # a resumed run restores the generator
    assert torch.equal(_epochs(resumable_worker_init_fn, 1)[0], third)


def test_mmengine_default_repeats_every_epoch():
    """Why the function exists: fixed worker seeds with fresh workers give
    every epoch the first epoch's augmentation."""
    init = partial(mmengine_worker_init_fn, num_workers=2, rank=0, seed=0)
    a, b = _epochs(init)
    assert torch.equal(a, b)
