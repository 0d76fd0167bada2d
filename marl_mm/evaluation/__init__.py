"""Metrics of both papers (registered in mmpretrain's METRICS)."""
from .metrics import *  # noqa: F401,F403
