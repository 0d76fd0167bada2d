"""Test-time combination of predictions (multi-model averaging).

Ten-view testing itself is :class:`marl_mm.models.TenViewClassifier`.
"""
from .ensemble import average_predictions

__all__ = ['average_predictions']
