"""Utilities: safe checkpoint loading, atomic checkpoint writing and an
auto-resume that skips incomplete checkpoints.

Importing this package installs the resume fallback
(:func:`install_resume_fallback`); ``marl_mm`` imports it.
"""
from .atomic_local_backend import AtomicLocalBackend
from .checkpoint import (SAFE_GLOBALS, UnsafeCheckpointError,
                         install_safe_checkpoint_loader, load_from_http_safe,
                         load_from_local_safe, safe_torch_load)
from .resume import (find_latest_complete_checkpoint, install_resume_fallback,
                     is_complete_checkpoint)

__all__ = [
    'AtomicLocalBackend', 'SAFE_GLOBALS', 'UnsafeCheckpointError',
    'install_safe_checkpoint_loader', 'load_from_http_safe',
    'load_from_local_safe', 'safe_torch_load',
    'find_latest_complete_checkpoint', 'install_resume_fallback',
    'is_complete_checkpoint'
]

install_resume_fallback()
