"""Utilities: safe checkpoint and prediction-pickle loading, atomic
checkpoint writing, an auto-resume that skips incomplete checkpoints, and
distributed training (``torchrun`` on CPU; modules with non-tensor state).

Importing this package installs the resume fallback
(:func:`install_resume_fallback`), the checked weight loading of
``Runner.load_checkpoint`` (:func:`install_checked_runner_loading`) and the
tensor-only weight broadcast of ``Runner.train``
(:func:`install_init_weights_broadcast`); ``marl_mm`` imports it.
"""
from .atomic_local_backend import AtomicLocalBackend
from .checkpoint import (LOAD_MODES, SAFE_GLOBALS, CheckpointMismatchError,
                         StateDictDiff, UnsafeCheckpointError,
                         compare_state_dict, install_checked_runner_loading,
                         install_safe_checkpoint_loader,
                         load_checkpoint_checked, load_from_http_safe,
                         load_from_local_safe, load_state_dict_checked,
                         safe_torch_load)
from .cpu_distributed import setup_cpu_distributed
from .init_weights_broadcast import (init_model_weights,
                                     install_init_weights_broadcast)
from .restricted_unpickler import (RestrictedUnpickler, UnsafePickleError,
                                   load_pickle_safe)
from .resume import (find_latest_complete_checkpoint, install_resume_fallback,
                     is_complete_checkpoint)

__all__ = [
    'AtomicLocalBackend', 'SAFE_GLOBALS', 'UnsafeCheckpointError',
    'install_safe_checkpoint_loader', 'load_from_http_safe',
    'load_from_local_safe', 'safe_torch_load', 'LOAD_MODES',
    'CheckpointMismatchError', 'StateDictDiff', 'compare_state_dict',
    'install_checked_runner_loading', 'load_checkpoint_checked',
    'load_state_dict_checked',
    'find_latest_complete_checkpoint', 'install_resume_fallback',
    'is_complete_checkpoint', 'setup_cpu_distributed', 'init_model_weights',
    'install_init_weights_broadcast', 'RestrictedUnpickler',
    'UnsafePickleError', 'load_pickle_safe'
]

install_resume_fallback()
install_checked_runner_loading()
install_init_weights_broadcast()
