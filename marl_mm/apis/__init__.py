"""Inference API: :class:`MultiLabelInferencer` (per-class probabilities and
multi-label sets for RARL, RARNN and the GAP baselines)."""
from .multi_label_inferencer import (MultiLabelInferencer, check_bgr_uint8,
                                     config_roots, find_config,
                                     load_class_thresholds, output_names,
                                     select_labels)

__all__ = [
    'MultiLabelInferencer', 'check_bgr_uint8', 'config_roots', 'find_config',
    'load_class_thresholds', 'output_names', 'select_labels'
]
