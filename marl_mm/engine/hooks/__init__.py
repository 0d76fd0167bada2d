"""Runner hooks (registered in mmpretrain's HOOKS)."""
from .backbone_freeze_hook import BackboneFreezeHook
from .data_check_hook import DataCheckHook
from .non_finite_check_hook import NonFiniteCheckHook
from .policy_gradient_hook import PolicyGradientHook
from .rng_state_hook import RNGStateHook

__all__ = ['BackboneFreezeHook', 'DataCheckHook', 'NonFiniteCheckHook',
           'PolicyGradientHook', 'RNGStateHook']
