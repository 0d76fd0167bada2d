"""Utilities: safe checkpoint loading and atomic checkpoint writing."""
from .atomic_local_backend import AtomicLocalBackend
from .checkpoint import (SAFE_GLOBALS, UnsafeCheckpointError,
                         install_safe_checkpoint_loader, load_from_http_safe,
                         load_from_local_safe, safe_torch_load)

__all__ = [
    'AtomicLocalBackend', 'SAFE_GLOBALS', 'UnsafeCheckpointError',
    'install_safe_checkpoint_loader', 'load_from_http_safe',
    'load_from_local_safe', 'safe_torch_load'
]
