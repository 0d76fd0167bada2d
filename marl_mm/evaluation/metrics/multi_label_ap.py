"""Per-class average precision and mAP, the ranking metric of RARL (Chen et
al. AAAI 2018, VOC 2007 table) and RARNN (Li et al. ACM MM 2018, Tables
2-3), in the three definitions in use (docs/method.md "Metric definitions":
VOC2007 11-point, VOC2010+ area, non-interpolated) and
:func:`~marl_mm.evaluation.metrics.functional.average_precision`.
"""
from typing import Dict, List, Optional, Sequence, Union

import numpy as np
from mmpretrain.registry import METRICS

from .base_multi_label_metric import BaseMultiLabelMetric
from .functional import AP_MODES, EMPTY_CLASS_RULES, average_precision

#: key stem of each mode: every reported key names the AP definition
MODE_KEYS = dict(noninterp='noninterp', area='area', voc07_11point='voc07')


@METRICS.register_module()
class MultiLabelAP(BaseMultiLabelMetric):
    """Average precision per class and its mean (mAP), in one or more modes.

    Modes (see ``functional.average_precision``):

    * ``'noninterp'``: ``sum_n (R_n - R_{n-1}) P_n``, mmpretrain's
      ``AveragePrecision`` (equal without ties) and sklearn's
      ``average_precision_score`` (equal always);
    * ``'area'``: area under the precision envelope (VOC2010+ devkit);
    * ``'voc07_11point'``: VOC2007 devkit 11-point interpolated AP.

    Reported keys (percent, prefix ``'multi-label'``): ``mAP_noninterp``,
    ``mAP_area``, ``mAP_voc07`` for the modes asked, and with
    ``classwise=True`` ``AP_<mode>_classwise`` (lists of D percents).

    It reads ``pred_score``, ``gt_score`` or ``gt_label``, and
    ``gt_label_difficult`` where present, as mmpretrain's
    ``VOCAveragePrecision`` does (:class:`BaseMultiLabelMetric`), and ranks
    in float64 with ties grouped, vectorised over classes; mmpretrain's
    ``AveragePrecision`` ranks in float32 one class at a time and orders
    ties arbitrarily, hence a new class.

    Choices (default chosen here unless marked): difficult-only labels are
    removed from that class's ranking (VOC devkit); tied scores form one
    point of the precision/recall curve (sklearn), so no mode depends on
    the order of tied images; a class with no positive (after removing
    difficult labels) has AP 0 counted in the mAP (``empty_class='zero'``,
    = sklearn and mmpretrain) or is left out of the mAP
    (``'exclude'``, reported as NaN classwise); either way a warning names
    those classes. All three modes are reported by default.

    Args:
        mode: one mode or a sequence of modes from ``AP_MODES``.
        classwise: also report the per-class AP.
        empty_class: ``'zero'`` or ``'exclude'``.
        num_classes: expected number of classes (None: from the dataset).
        collect_device: see ``mmengine.evaluator.BaseMetric``.
        prefix: key prefix, default ``'multi-label'``.
    """

    def __init__(self,
                 mode: Union[str, Sequence[str]] = AP_MODES,
                 classwise: bool = False,
                 empty_class: str = 'zero',
                 num_classes: Optional[int] = None,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        modes = (mode, ) if isinstance(mode, str) else tuple(mode)
        unknown = [m for m in modes if m not in AP_MODES]
        if not modes or unknown:
            raise ValueError(f'MultiLabelAP: mode must be one or more of '
                             f'{AP_MODES}, got {mode!r}')
        if empty_class not in EMPTY_CLASS_RULES:
            raise ValueError('MultiLabelAP: empty_class must be one of '
                             f'{EMPTY_CLASS_RULES}, got {empty_class!r}')
        super().__init__(
            num_classes=num_classes,
            collect_device=collect_device,
            prefix=prefix)
        self.modes = tuple(dict.fromkeys(modes))  # unique, in order
        self.classwise = classwise
        self.empty_class = empty_class

    def compute_metrics(self, results: List[dict]) -> Dict[str, object]:
        """Compute AP per class and mAP for every mode.

        Args:
            results: the stored ``pred_score`` / ``target`` of every sample.

        Returns:
            dict of the keys listed in the class docstring.
        """
        scores, target = self._stack_results(results)  # (N, D), (N, D)
        self._warn_empty_classes((target == 1).sum(0), self.empty_class, 'AP')
        metrics = {}
        for mode in self.modes:
            ap = average_precision(
                scores, target, mode=mode,
                empty_class=self.empty_class)  # (D,)
            counted = ~np.isnan(ap)
            mean_ap = ap[counted].mean() if counted.any() else np.nan
            metrics[f'mAP_{MODE_KEYS[mode]}'] = 100.0 * float(mean_ap)
            if self.classwise:
                metrics[f'AP_{MODE_KEYS[mode]}_classwise'] = (100.0 *
                                                              ap).tolist()
        return metrics
