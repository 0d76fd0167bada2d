"""Runner hooks (registered in mmpretrain's HOOKS)."""
from .hooks import *  # noqa: F401,F403
