"""``torchrun`` on machines without a GPU (gloo on CPU).

Why
---
mmengine 0.10.7 cannot start CPU-only distributed training from its
``pytorch`` launcher: ``init_dist`` calls ``torch.cuda.set_device(LOCAL_RANK)``
before ``init_process_group`` (no NVIDIA driver: ``RuntimeError``), and
``Runner.wrap_model`` passes ``device_ids=[LOCAL_RANK]`` to
``MMDistributedDataParallel``, which DDP refuses for a CPU module. So
``bash tools/dist_train.sh CONFIG 2 --cfg-options
env_cfg.dist_cfg.backend=gloo`` failed on a CPU machine.

What it does
------------
:func:`setup_cpu_distributed` (called by ``tools/train.py`` and
``tools/test.py`` before the Runner is built) does nothing unless the
launcher is ``pytorch`` and CUDA is unavailable. Then it initialises the
process group itself from the ``torchrun`` environment (``RANK``,
``WORLD_SIZE``, ``MASTER_ADDR``, ``MASTER_PORT``) with the config's
``env_cfg.dist_cfg`` (the Runner skips ``init_dist`` when a group exists),
and sets ``model_wrapper_cfg.device_ids = None`` for DDP wrappers (a
``model_wrapper_cfg`` is added with mmengine's defaults when the config has
none). The NCCL backend (the configs' default) needs GPUs: it is refused
with a message saying to pass ``env_cfg.dist_cfg.backend=gloo``.

:func:`close_distributed` (called by the tools after a run that ended
normally) destroys the default process group. Without it Gloo's worker
threads outlive the group and can abort the interpreter at exit (SIGABRT,
"terminate called without an active exception"; pytorch/pytorch#190489):
seen once in ``tests/test_distributed/test_dist_train_sh.py`` on a loaded
machine. A run that raised leaves the group alone, since destroying it
while other ranks are in a collective can hang.
"""
import datetime
import os

import torch
import torch.distributed as torch_dist
from mmengine.config import Config
from mmengine.logging import print_log

#: wrapper types that are DDP subclasses (``device_ids`` applies)
_DDP_WRAPPERS = ('MMDistributedDataParallel', 'DistributedDataParallel')


def setup_cpu_distributed(cfg: Config, launcher: str) -> bool:
    """Start the process group on CPU for the ``pytorch`` launcher.

    Args:
        cfg: the training / testing config; ``model_wrapper_cfg`` is set in
            place when the group is started here.
        launcher: ``--launcher`` of the tool.

    Returns:
        bool: whether this function started the process group.

    Raises:
        ValueError: no CUDA device and ``env_cfg.dist_cfg.backend`` is
            ``'nccl'`` (or unset, mmengine's default).
    """
    if launcher != 'pytorch' or torch.cuda.is_available() or \
            torch_dist.is_initialized():
        return False
    dist_cfg = dict(cfg.get('env_cfg', {}).get('dist_cfg', {}) or {})
    backend = dist_cfg.pop('backend', 'nccl')
    if backend == 'nccl':
        raise ValueError(
            'distributed launch on a machine without CUDA: the NCCL backend '
            "(env_cfg.dist_cfg.backend='nccl') needs GPUs; pass "
            '--cfg-options env_cfg.dist_cfg.backend=gloo')
    if dist_cfg.get('timeout') is not None:  # seconds, as mmengine's
        dist_cfg['timeout'] = datetime.timedelta(seconds=dist_cfg['timeout'])
    torch_dist.init_process_group(
        backend=backend, rank=int(os.environ['RANK']),
        world_size=int(os.environ['WORLD_SIZE']), **dist_cfg)
    wrapper = cfg.get('model_wrapper_cfg', None)
    if wrapper is None:  # what Runner.wrap_model builds without one
        wrapper = dict(type='MMDistributedDataParallel',
                       broadcast_buffers=False,
                       find_unused_parameters=cfg.get(
                           'find_unused_parameters', False))
    if wrapper.get('type', 'MMDistributedDataParallel') in _DDP_WRAPPERS:
        wrapper['device_ids'] = None  # a CPU module: no device ids
    cfg.model_wrapper_cfg = wrapper
    print_log(f'CPU distributed training: {backend} process group of '
              f'{torch_dist.get_world_size()} processes started by marl_mm '
              '(mmengine would call torch.cuda.set_device)',
              logger='current')
    return True


def close_distributed() -> bool:
    """Destroy the default process group if one is up (module docstring).

    Returns:
        bool: whether a group was destroyed.
    """
    if not (torch_dist.is_available() and torch_dist.is_initialized()):
        return False
    torch_dist.destroy_process_group()
    return True
