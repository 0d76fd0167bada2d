"""Utilities: safe checkpoint loading, atomic checkpoint writing, an
auto-resume that skips incomplete checkpoints, and distributed training
(``torchrun`` on CPU; modules with non-tensor state).

Importing this package installs the resume fallback
(:func:`install_resume_fallback`) and the tensor-only weight broadcast of
``Runner.train`` (:func:`install_init_weights_broadcast`); ``marl_mm``
imports it.
"""
from .atomic_local_backend import AtomicLocalBackend
from .checkpoint import (SAFE_GLOBALS, UnsafeCheckpointError,
                         install_safe_checkpoint_loader, load_from_http_safe,
                         load_from_local_safe, safe_torch_load)
from .cpu_distributed import setup_cpu_distributed
from .init_weights_broadcast import (init_model_weights,
                                     install_init_weights_broadcast)
from .resume import (find_latest_complete_checkpoint, install_resume_fallback,
                     is_complete_checkpoint)

__all__ = [
    'AtomicLocalBackend', 'SAFE_GLOBALS', 'UnsafeCheckpointError',
    'install_safe_checkpoint_loader', 'load_from_http_safe',
    'load_from_local_safe', 'safe_torch_load',
    'find_latest_complete_checkpoint', 'install_resume_fallback',
    'is_complete_checkpoint', 'setup_cpu_distributed', 'init_model_weights',
    'install_init_weights_broadcast'
]

install_resume_fallback()
install_init_weights_broadcast()
