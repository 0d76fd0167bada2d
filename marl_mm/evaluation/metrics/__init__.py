"""Multi-label metrics of RARL and RARNN, registered in mmpretrain's METRICS.

``MultiLabelTopKMetric``: CP, CR, CF1, OP, OR, OF1 (P_L ... F_I) and N+ on
the top-k labels above a probability threshold. ``MultiLabelAP``: per-class
AP and mAP, non-interpolated, area (VOC2010+) or 11-point (VOC2007). The
plain functions in :mod:`.functional` compute the same without a runner.
"""
from .base_multi_label_metric import BaseMultiLabelMetric
from .functional import (average_precision, multilabel_prf, to_probabilities,
                         topk_thr_binarize)
from .multi_label_ap import MultiLabelAP
from .multi_label_top_k_metric import MultiLabelTopKMetric

__all__ = [
    'BaseMultiLabelMetric', 'MultiLabelTopKMetric', 'MultiLabelAP',
    'average_precision', 'multilabel_prf', 'to_probabilities',
    'topk_thr_binarize'
]
