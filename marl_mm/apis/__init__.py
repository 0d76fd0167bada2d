"""Inference API: :class:`MultiLabelInferencer` (per-class probabilities and
multi-label sets for RARL, RARNN and the GAP baselines)."""
from .multi_label_inferencer import (MultiLabelInferencer, find_config,
                                     load_class_thresholds, select_labels)

__all__ = [
    'MultiLabelInferencer', 'find_config', 'load_class_thresholds',
    'select_labels'
]
