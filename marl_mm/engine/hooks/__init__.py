"""Runner hooks (registered in mmpretrain's HOOKS)."""
from .backbone_freeze_hook import BackboneFreezeHook
from .policy_gradient_hook import PolicyGradientHook

__all__ = ['BackboneFreezeHook', 'PolicyGradientHook']
