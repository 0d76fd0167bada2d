"""Distributed ``Runner.train`` with modules that keep non-tensor state.

Why
---
mmengine 0.10.7 ``Runner._init_model_weights`` calls ``init_weights()`` and
then, under torch.distributed, ``mmengine.dist.broadcast`` on *every* entry
of ``model.state_dict()``. ``LSTMGlimpseHead`` stores its warm-up counter as
module extra state (``get_extra_state`` returns ``{'train_iters': 0}``, so
that checkpoints carry it), which is a dict of ints, not a tensor:
``broadcast`` raised ``TypeError: data should be a Tensor, sequence of tensor
or dict, but got 0`` on every rank, so ``tools/dist_train.sh`` (GPU or CPU)
stopped before the first iteration for every RARL config. Found by
``tests/test_distributed/test_dist_train_sh.py``.

What it does
------------
:class:`marl_mm.engine.MarlRunner` (``runner_type='MarlRunner'``) overrides
``Runner._init_model_weights`` with :func:`init_model_weights`: the same,
but only tensors are broadcast (mmengine's ``Runner`` is not changed).
Non-tensor extra state is left as each rank built it: right after
construction it is the same on every rank (the counters start at 0), and a
``load_from`` / ``--resume`` checkpoint, loaded afterwards, sets it on every
rank alike.
"""
import torch
from mmengine.dist import broadcast
from mmengine.model import is_model_wrapper
from mmengine.runner import Runner


def init_model_weights(runner: Runner) -> None:
    """``Runner._init_model_weights`` broadcasting only tensor entries.

    Args:
        runner (Runner): The runner whose model to initialise.
    """
    model = runner.model.module if is_model_wrapper(
        runner.model) else runner.model
    if hasattr(model, 'init_weights'):
        model.init_weights()
        # sync params and buffers (no-op on one process)
        for value in model.state_dict().values():
            if torch.is_tensor(value):
                broadcast(value)

