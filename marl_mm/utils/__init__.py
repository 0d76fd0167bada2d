"""Utilities: safe checkpoint and prediction-pickle loading, atomic
checkpoint writing, an auto-resume that skips incomplete checkpoints, and
distributed training (``torchrun`` on CPU).

Importing this package changes nothing in mmengine: it adds one checkpoint
scheme, ``'safe:'`` (:data:`SAFE_PREFIX`), and one file backend,
``'atomic_local'``. The checked loading and the resume lookup
are used by :class:`marl_mm.engine.MarlRunner`
(``runner_type='MarlRunner'``).
"""
from .atomic_local_backend import AtomicLocalBackend
from .checkpoint import (LOAD_MODES, SAFE_GLOBALS, SAFE_PREFIX,
                         CheckpointMismatchError, StateDictDiff,
                         UnreadableCheckpointError, UnsafeCheckpointError,
                         compare_state_dict, load_checkpoint_checked,
                         load_checkpoint_safe, load_from_http_safe,
                         load_from_local_safe, load_state_dict_checked,
                         register_safe_scheme, safe_torch_load)
from .config import apply_num_classes, runner_model_cfg
from .cpu_distributed import close_distributed, setup_cpu_distributed
from .restricted_unpickler import (RestrictedUnpickler, UnsafePickleError,
                                   load_pickle_safe)
from .resume import (ResumeError, checkpoint_state,
                     find_latest_complete_checkpoint, is_complete_checkpoint)

__all__ = [
    'AtomicLocalBackend', 'SAFE_GLOBALS', 'SAFE_PREFIX',
    'UnsafeCheckpointError', 'UnreadableCheckpointError',
    'register_safe_scheme', 'load_checkpoint_safe', 'load_from_http_safe',
    'load_from_local_safe', 'safe_torch_load', 'LOAD_MODES',
    'CheckpointMismatchError', 'StateDictDiff', 'compare_state_dict',
    'load_checkpoint_checked', 'load_state_dict_checked', 'ResumeError',
    'checkpoint_state', 'find_latest_complete_checkpoint',
    'is_complete_checkpoint', 'setup_cpu_distributed', 'close_distributed',
    'RestrictedUnpickler', 'UnsafePickleError', 'load_pickle_safe',
    'apply_num_classes', 'runner_model_cfg'
]
