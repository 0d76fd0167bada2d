"""Classifiers (registered in mmpretrain's MODELS)."""
from .ten_view_classifier import TenViewClassifier

__all__ = ['TenViewClassifier']
