"""Label-set metrics of RARL (Chen et al. AAAI 2018, COCO table) and RARNN
(Li et al. ACM MM 2018, Tables 2-4): CP, CR, CF1, OP, OR, OF1 (= P_L, R_L,
F_L, P_I, R_I, F_I) on the top-k labels kept above a probability threshold,
and N+. Definitions: docs/method.md "Metric definitions" and
:func:`~marl_mm.evaluation.metrics.functional.multilabel_prf`.
"""
from typing import Dict, List, Optional

from mmpretrain.registry import METRICS

from .base_multi_label_metric import BaseMultiLabelMetric
from .functional import (EMPTY_CLASS_RULES, NORMALIZATIONS, check_topk_thr,
                         multilabel_prf, to_probabilities, topk_thr_binarize)

NAMINGS = ('rarl', 'rarnn', 'both')
RARNN_NAMES = dict(
    CP='P_L', CR='R_L', CF1='F_L', OP='P_I', OR='R_I', OF1='F_I')


@METRICS.register_module()
class MultiLabelTopKMetric(BaseMultiLabelMetric):
    """Precision / recall / F1 of the top-k labels above a threshold.

    Each image predicts its ``topk`` highest-probability labels, minus those
    whose probability is below ``thr`` (both at once: the RARL COCO protocol
    is ``topk=3, thr=0.1``; RARNN uses ``topk=3`` on COCO and NUS-WIDE and
    ``topk=5`` on ESP Game, no threshold). mmpretrain's ``MultiLabelMetric``
    uses top-k OR a threshold and averages per-class F1s, so this metric is
    separate; it reads the same fields (``pred_score``, ``gt_score`` or
    ``gt_label``, and ``gt_label_difficult`` where present, see
    :class:`BaseMultiLabelMetric`), and with ``thr=None`` its CP/CR/OP/OR
    equal mmpretrain's macro/micro precision and recall (up to ties and
    float32).

    Reported keys (percent, under the prefix ``'multi-label'``):

    * ``naming='rarl'``: ``CP, CR, CF1, OP, OR, OF1``;
    * ``naming='rarnn'``: ``P_L, R_L, F_L, P_I, R_I, F_I`` (the same values);
    * ``naming='both'`` (default chosen here): all twelve;
    * always ``N+``: number of classes with non-zero recall (an int);
    * ``classwise=True`` adds ``precision_classwise``, ``recall_classwise``,
      ``f1_classwise`` (lists of D percents).

    Two protocols in one evaluator need different ``prefix`` values (the
    keys do not name topk/thr).

    Choices (default chosen here unless marked): ties at the k-th place go
    to the lower class index; a label is kept when its probability is
    ``>= thr``; VOC difficult-only labels are ignored (a predicted one is
    neither a true nor a false positive, an unpredicted one no miss), as the
    devkit does; CF1 is the harmonic mean of CP and CR (docs/method.md); a
    class never predicted has precision 0 (docs/method.md); ``empty_class``
    says how a class without ground truth counts (see ``functional``).

    Args:
        topk: labels kept per image (``>= 1``) or None (no top-k cut).
        thr: probability threshold in ``[0, 1]`` or None. At least one of
            ``topk``, ``thr`` must be set.
        normalization: how ``pred_score`` becomes a probability: None (it
            already is one; the default: the heads of this project store
            probabilities), ``'softmax'`` or ``'sigmoid'`` (for logits).
        naming: ``'rarl'``, ``'rarnn'`` or ``'both'``.
        classwise: also report per-class precision, recall and F1.
        empty_class: ``'zero'`` (recall 0, counted in CP/CR) or
            ``'exclude'`` (left out of CP/CR).
        num_classes: expected number of classes (None: from the dataset).
        collect_device: see ``mmengine.evaluator.BaseMetric``.
        prefix: key prefix, default ``'multi-label'``.
    """

    def __init__(self,
                 topk: Optional[int] = 3,
                 thr: Optional[float] = None,
                 normalization: Optional[str] = None,
                 naming: str = 'both',
                 classwise: bool = False,
                 empty_class: str = 'zero',
                 num_classes: Optional[int] = None,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        check_topk_thr(topk, thr)
        if normalization not in NORMALIZATIONS:
            raise ValueError('MultiLabelTopKMetric: normalization must be one'
                             f' of {NORMALIZATIONS}, got {normalization!r}')
        if naming not in NAMINGS:
            raise ValueError(f'MultiLabelTopKMetric: naming must be one of '
                             f'{NAMINGS}, got {naming!r}')
        if empty_class not in EMPTY_CLASS_RULES:
            raise ValueError('MultiLabelTopKMetric: empty_class must be one '
                             f'of {EMPTY_CLASS_RULES}, got {empty_class!r}')
        super().__init__(
            num_classes=num_classes,
            collect_device=collect_device,
            prefix=prefix)
        self.topk = topk
        self.thr = thr
        self.normalization = normalization
        self.naming = naming
        self.classwise = classwise
        self.empty_class = empty_class

    def compute_metrics(self, results: List[dict]) -> Dict[str, object]:
        """Compute the figures from the collected samples.

        Args:
            results: the stored ``pred_score`` / ``target`` of every sample.

        Returns:
            dict of the keys listed in the class docstring.
        """
        scores, target = self._stack_results(results)  # (N, D), (N, D)
        probs = to_probabilities(scores, self.normalization)  # (N, D)
        pred = topk_thr_binarize(probs, self.topk, self.thr)  # (N, D)
        prf = multilabel_prf(pred, target, empty_class=self.empty_class)
        self._warn_empty_classes(prf['n_gt'], self.empty_class, 'recall')

        metrics = {}
        if self.naming in ('rarl', 'both'):
            metrics.update({key: 100.0 * prf[key] for key in RARNN_NAMES})
        if self.naming in ('rarnn', 'both'):
            metrics.update({
                name: 100.0 * prf[key]
                for key, name in RARNN_NAMES.items()
            })
        metrics['N+'] = prf['N+']
        if self.classwise:
            for key in ('precision', 'recall', 'f1'):
                metrics[f'{key}_classwise'] = (100.0 * prf[key]).tolist()
        return metrics
