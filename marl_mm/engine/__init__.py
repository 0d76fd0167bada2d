"""Runner hooks (registered in mmpretrain's HOOKS) and ``MarlRunner``
(registered in mmengine's RUNNERS)."""
from .hooks import *  # noqa: F401,F403
from .runner import MarlRunner, build_runner  # noqa: F401
