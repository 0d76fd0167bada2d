"""Runner hooks (registered in mmpretrain's HOOKS)."""
from .policy_gradient_hook import PolicyGradientHook

__all__ = ['PolicyGradientHook']
