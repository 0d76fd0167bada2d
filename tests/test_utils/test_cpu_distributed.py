"""setup_cpu_distributed: only for torchrun without CUDA; NCCL refused with
the flag to pass (the end-to-end run is tests/test_distributed/
test_dist_train_sh.py)."""
import pytest
import torch
from mmengine.config import Config

from marl_mm.utils import close_distributed, setup_cpu_distributed


def test_not_for_other_launchers():
    cfg = Config(dict(env_cfg=dict(dist_cfg=dict(backend='nccl'))))
    assert setup_cpu_distributed(cfg, 'none') is False
    assert 'model_wrapper_cfg' not in cfg


@pytest.mark.skipif(torch.cuda.is_available(), reason='CPU-only behaviour')
def test_nccl_without_cuda_names_the_flag(monkeypatch):
    monkeypatch.setenv('RANK', '0')
    monkeypatch.setenv('WORLD_SIZE', '1')
    cfg = Config(dict(env_cfg=dict(dist_cfg=dict(backend='nccl'))))
    with pytest.raises(ValueError, match='env_cfg.dist_cfg.backend=gloo'):
        setup_cpu_distributed(cfg, 'pytorch')
    assert not torch.distributed.is_initialized()


def test_close_distributed_destroys_the_group(tmp_path):
    """A one-process gloo group is destroyed (then is_initialized() is
    False) and a second call, with no group, does nothing."""
    import torch.distributed as dist
    assert not dist.is_initialized()
    dist.init_process_group('gloo', init_method=f'file://{tmp_path}/store',
                            rank=0, world_size=1)
    try:
        assert dist.is_initialized()
        assert close_distributed() is True
        assert not dist.is_initialized()
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
    assert close_distributed() is False
