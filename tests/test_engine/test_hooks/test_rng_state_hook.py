"""RNGStateHook: generator states round trip, per-rank gathering (2-process
gloo), restore after mmengine's batch replay, validation isolation."""
import io
import os
import random
import socket

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp

import marl_mm  # noqa: F401
from marl_mm.engine.hooks import RNGStateHook
from marl_mm.engine.hooks.rng_state_hook import set_rng_state
from marl_mm.utils import safe_torch_load


def _draw():
    return (torch.rand(3).tolist(), np.random.rand(3).tolist(),
            [random.random() for _ in range(3)])


def test_round_trip_through_a_safe_checkpoint(tmp_path):
    torch.manual_seed(3)
    np.random.seed(3)
    random.seed(3)
    np.random.randn()  # leave a cached gaussian in numpy's state
    ckpt = {}
    RNGStateHook().before_save_checkpoint(None, ckpt)
    expected = _draw()
    torch.save(ckpt, tmp_path / 'c.pth')
    loaded = safe_torch_load(str(tmp_path / 'c.pth'))  # weights_only
    assert loaded['rng_state']['version'] == 1
    set_rng_state(loaded['rng_state']['ranks'][0])
    assert _draw() == expected


class _Loop:
    """The two attributes of IterBasedTrainLoop the hook uses."""

    def __init__(self, it, iterator):
        self.iter = it
        self.dataloader_iterator = iterator


class _Runner:

    def __init__(self, loop):
        self.train_loop = loop


def test_restored_after_the_replayed_batches():
    """Uninterrupted: save after batch k, load batch k+1 (draws), step."""
    torch.manual_seed(0)
    ckpt = {}
    RNGStateHook().before_save_checkpoint(None, ckpt)
    torch.rand(1)  # loading batch 3
    expected = torch.rand(2)  # the training step of batch 3

    torch.manual_seed(99)  # the resumed run: re-seeded by mmengine
    fresh = RNGStateHook()
    fresh.after_load_checkpoint(None, ckpt)

    def batches():
        for i in range(10):
            torch.rand(1)  # loading a batch draws from the generator
            yield i

    loop = _Loop(3, batches())
    inner = loop.dataloader_iterator
    fresh.before_train(_Runner(loop))
    # mmengine replays batches 0-2, then fetches batch 3
    assert [next(loop.dataloader_iterator) for _ in range(3)] == [0, 1, 2]
    assert next(loop.dataloader_iterator) == 3
    assert loop.dataloader_iterator is inner  # the proxy removed itself
    assert torch.equal(torch.rand(2), expected)


def test_validation_does_not_move_training_generators():
    hook = RNGStateHook()
    torch.manual_seed(0)
    expected = torch.rand(2)
    torch.manual_seed(0)
    hook.before_val(None)
    torch.rand(100)
    hook.after_val(None)
    assert torch.equal(torch.rand(2), expected)


def test_bad_state_is_refused():
    with pytest.raises(ValueError, match="misses"):
        set_rng_state({'torch': torch.get_rng_state()})
    with pytest.raises(ValueError, match='ranks'):
        RNGStateHook().after_load_checkpoint(None, {'rng_state': {}})
    with pytest.raises(TypeError, match='isolate_val'):
        RNGStateHook(isolate_val='yes')


def _worker(rank, port, queue):
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    torch.distributed.init_process_group('gloo', rank=rank, world_size=2)
    try:
        torch.manual_seed(10 + rank)  # different generators per rank
        hook = RNGStateHook()
        hook.after_train_iter(None, 0)  # gathers every rank's states
        mine = torch.rand(2)  # what this rank draws next
        ckpt = {}
        hook.before_save_checkpoint(None, ckpt)  # (rank 0 saves in mmengine)
        torch.manual_seed(0)
        fresh = RNGStateHook()
        fresh.after_load_checkpoint(None, ckpt)
        fresh.before_train(_Runner(_Loop(0, None)))
        buffer = io.BytesIO()
        torch.save((len(ckpt['rng_state']['ranks']),
                    torch.equal(torch.rand(2), mine)), buffer)
        queue.put((rank, buffer.getvalue()))
    finally:
        torch.distributed.destroy_process_group()


def test_every_rank_gets_its_own_states_back():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    queue = mp.get_context('fork').Queue()
    context = mp.start_processes(_worker, args=(port, queue), nprocs=2,
                                 start_method='fork', join=False)
    results = dict(queue.get(timeout=120) for _ in range(2))
    while not context.join():
        pass
    for rank in (0, 1):
        count, same = torch.load(io.BytesIO(results[rank]))
        assert count == 2 and same, rank
