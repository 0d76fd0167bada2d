"""Plain multi-label metric functions, usable without a runner.

The metric classes :class:`MultiLabelTopKMetric` and :class:`MultiLabelAP`
call these; a stand-alone evaluation tool can call them on a saved
``(N, D)`` score matrix. Definitions follow docs/method.md "Metric definitions"
(RARL, Chen et al. AAAI 2018; RARNN, Li et al. ACM MM 2018).

Conventions shared by every function (defaults chosen here unless marked):

* Inputs are ``(N, D)`` arrays (numpy or torch, any device); the
  computation runs in numpy float64, vectorised over images and classes.
  Results are fractions in ``[0, 1]`` (the metric classes report percent).
* ``target`` is multi-hot: 1 positive, 0 negative, and -1 ignored
  (mmpretrain's encoding of VOC "difficult-only" labels, see
  ``mmpretrain.evaluation.metrics.voc_multi_label.VOCMetricMixin``).
  ``ignore_mask`` (bool, ``True`` = ignored) is the other way to say the
  same thing; both may be given.
* An ignored entry is left out of the evaluation as the VOC devkit does:
  for P/R it is neither a true nor a false positive, nor a missed label;
  for AP it is removed from that class's ranking.
* A class with no (non-ignored) positive in the evaluated set ("empty
  class") has no defined recall or AP. ``empty_class='zero'`` (default
  chosen here, = sklearn's ``zero_division=0`` / ``average_precision_score``
  and mmpretrain's ``MultiLabelMetric`` / ``AveragePrecision``): its recall
  and AP are 0 and count in the class means. ``empty_class='exclude'``: its
  recall and AP are NaN and it is left out of CP, CR and mAP (as COCO's
  detection evaluation leaves out categories without ground truth).
"""
import numbers
from typing import Dict, Optional, Sequence, Tuple, Union

import numpy as np
import torch

ArrayLike = Union[np.ndarray, torch.Tensor, Sequence]

NORMALIZATIONS = (None, 'softmax', 'sigmoid')
AP_MODES = ('noninterp', 'area', 'voc07_11point')
EMPTY_CLASS_RULES = ('zero', 'exclude')

#: recall levels of the VOC2007 11-point AP, as exact tenths (k / 10 is the
#: double nearest to the rational k/10, so a recall tp / npos equal to it is
#: found; ``np.arange(0, 1.1, 0.1)`` would give 0.30000000000000004 and miss
#: a recall of exactly 0.3)
VOC07_RECALL_LEVELS = np.arange(11) / 10


def _as_2d_array(x: ArrayLike,
                 name: str,
                 dtype: type = np.float64) -> np.ndarray:
    """Convert ``x`` to a 2-D numpy array, with a clear error otherwise."""
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    x = np.asarray(x, dtype=dtype)
    if x.ndim != 2:
        raise ValueError(f'{name} must be a 2-D (N images, D classes) array, '
                         f'got shape {x.shape}')
    return x


def check_topk_thr(topk: Optional[int], thr: Optional[float]) -> None:
    """Check the binarisation arguments; raise ``ValueError``/``TypeError``.

    Args:
        topk: number of top-scored labels kept per image, ``>= 1``, or None.
        thr: probability threshold in ``[0, 1]``, or None.
    """
    if topk is None and thr is None:
        raise ValueError('topk and thr are both None: give at least one '
                         '(e.g. topk=3, thr=0.1 for the RARL COCO protocol)')
    if topk is not None:
        if isinstance(topk, bool) or not isinstance(topk, numbers.Integral):
            raise TypeError(f'topk must be an int >= 1 or None, got '
                            f'{topk!r} ({type(topk).__name__})')
        if topk < 1:
            raise ValueError(f'topk must be >= 1 or None, got {topk}')
    if thr is not None:
        if isinstance(thr, bool) or not isinstance(thr, numbers.Real):
            raise TypeError(f'thr must be a float in [0, 1] or None, got '
                            f'{thr!r} ({type(thr).__name__})')
        if not 0.0 <= thr <= 1.0:
            raise ValueError(f'thr must be in [0, 1] (a probability) or '
                             f'None, got {thr}')


def to_probabilities(scores: ArrayLike,
                     normalization: Optional[str] = None) -> np.ndarray:
    """Turn stored scores into probabilities.

    Args:
        scores: ``(N, D)`` scores.
        normalization: ``None`` (the scores already are probabilities; the
            heads of this project store probabilities in ``pred_score``),
            ``'softmax'`` (over the D classes of each image) or ``'sigmoid'``
            (per entry).

    Returns:
        ``(N, D)`` float64 array.
    """
    if normalization not in NORMALIZATIONS:
        raise ValueError(f'normalization must be one of {NORMALIZATIONS}, '
                         f'got {normalization!r}')
    scores = _as_2d_array(scores, 'scores')
    if not np.isfinite(scores).all():
        raise ValueError('scores contain NaN or inf')
    if normalization == 'softmax':
        e = np.exp(scores - scores.max(axis=1, keepdims=True))  # (N, D)
        return e / e.sum(axis=1, keepdims=True)
    if normalization == 'sigmoid':
        return 0.5 * (1.0 + np.tanh(0.5 * scores))  # overflow-free sigmoid
    return scores


def topk_thr_binarize(scores: ArrayLike,
                      topk: Optional[int] = None,
                      thr: Optional[float] = None) -> np.ndarray:
    """Predicted label set of each image: the top-k labels, AND of those only
    the ones with probability ``>= thr``.

    This is the RARL COCO protocol (top 3, labels below 0.1 dropped) and,
    with ``thr=None``, the RARNN top-k protocol. mmpretrain's
    ``MultiLabelMetric`` takes top-k OR a threshold, hence this function.

    Args:
        scores: ``(N, D)`` probabilities (in ``[0, 1]`` when ``thr`` is set).
        topk: labels kept per image (all if None or ``>= D``). Ties at the
            k-th place go to the lower class index (stable sort; default
            chosen here, as in ``TopKRecallReward``).
        thr: labels with probability below ``thr`` are dropped (None: none).

    Returns:
        ``(N, D)`` bool array, ``True`` = predicted. An image may have no
        predicted label.
    """
    check_topk_thr(topk, thr)
    scores = _as_2d_array(scores, 'scores')
    if not np.isfinite(scores).all():
        raise ValueError('scores contain NaN or inf')
    num_images, num_classes = scores.shape
    keep = np.ones((num_images, num_classes), dtype=bool)  # (N, D)
    if topk is not None and topk < num_classes:
        order = np.argsort(-scores, axis=1, kind='stable')[:, :topk]  # (N, k)
        keep = np.zeros_like(keep)
        np.put_along_axis(keep, order, True, axis=1)
    if thr is not None:
        # 1e-6 absorbs float32 rounding of averaged probabilities
        if scores.size and (scores.min() < -1e-6 or scores.max() > 1 + 1e-6):
            raise ValueError(
                f'thr={thr} needs probabilities but the scores lie in '
                f'[{scores.min():.4g}, {scores.max():.4g}]: convert logits '
                "first (to_probabilities(scores, 'sigmoid' or 'softmax'), "
                "or normalization='sigmoid'/'softmax' in the metric)")
        keep &= scores >= thr
    return keep


def _positive_and_valid(
        target: ArrayLike, ignore_mask: Optional[ArrayLike],
        shape: Tuple[int, int]) -> Tuple[np.ndarray, np.ndarray]:
    """``(positive, valid)`` bool arrays from a {1, 0, -1} target and mask."""
    target = _as_2d_array(target, 'target')
    if target.shape != shape:
        raise ValueError(f'target has shape {target.shape} but the '
                         f'predictions have shape {shape}')
    if not np.isin(target, (-1.0, 0.0, 1.0)).all():
        bad = np.unique(target[~np.isin(target, (-1.0, 0.0, 1.0))])[:5]
        raise ValueError('target must be multi-hot with values 1 (positive),'
                         f' 0 (negative) or -1 (ignored), found {bad}')
    valid = target >= 0
    if ignore_mask is not None:
        ignore_mask = _as_2d_array(ignore_mask, 'ignore_mask', dtype=bool)
        if ignore_mask.shape != shape:
            raise ValueError(f'ignore_mask has shape {ignore_mask.shape} but '
                             f'the predictions have shape {shape}')
        valid &= ~ignore_mask
    return (target == 1) & valid, valid


def _check_empty_class(empty_class: str) -> None:
    if empty_class not in EMPTY_CLASS_RULES:
        raise ValueError(f'empty_class must be one of {EMPTY_CLASS_RULES}, '
                         f'got {empty_class!r}')


def _safe_div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """``num / den`` with ``0 / 0 := 0``."""
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    return np.divide(
        num, den, out=np.zeros(np.broadcast(num, den).shape), where=den > 0)


def multilabel_prf(pred_bin: ArrayLike,
                   target: ArrayLike,
                   ignore_mask: Optional[ArrayLike] = None,
                   empty_class: str = 'zero') -> Dict[str, object]:
    """Per-class (C*) and overall (O*) precision, recall, F1, and N+.

    With ``N^c_correct``, ``N^c_predicted``, ``N^c_gt`` counted over the
    images (ignored entries left out):
    ``CP = mean_c N^c_correct / N^c_predicted`` (a class never predicted
    counts 0, paper convention in docs/method.md), ``CR = mean_c N^c_correct /
    N^c_gt``, ``CF1 = 2 CP CR / (CP + CR)`` (harmonic mean of the averages,
    not the mean of per-class F1s); ``OP = sum_c N^c_correct / sum_c
    N^c_predicted``, ``OR = sum_c N^c_correct / sum_c N^c_gt``,
    ``OF1 = 2 OP OR / (OP + OR)``. ``N+`` = number of classes with non-zero
    recall (RARNN). An F1 whose P and R are both 0 is 0.

    RARNN's names: P_L, R_L, F_L = CP, CR, CF1; P_I, R_I, F_I = OP, OR, OF1.

    Args:
        pred_bin: ``(N, D)`` bool/0-1 predicted label sets.
        target: ``(N, D)`` multi-hot ground truth, -1 = ignored.
        ignore_mask: optional ``(N, D)`` bool, ``True`` = ignored (VOC
            difficult).
        empty_class: ``'zero'`` or ``'exclude'``, see the module docstring.
            Only CP and CR (hence CF1) depend on it; OP/OR/OF1 always count
            every class.

    Returns:
        dict with floats ``CP, CR, CF1, OP, OR, OF1``, int ``N+``, and
        ``(D,)`` arrays ``precision``, ``recall``, ``f1`` (per class; recall
        and f1 NaN for empty classes under ``'exclude'``), ``n_correct``,
        ``n_predicted``, ``n_gt``.
    """
    _check_empty_class(empty_class)
    pred = _as_2d_array(pred_bin, 'pred_bin')
    if not np.isin(pred, (0.0, 1.0)).all():
        raise ValueError('pred_bin must be binary (bool or 0/1); binarise '
                         'scores with topk_thr_binarize first')
    pred = pred.astype(bool)
    positive, valid = _positive_and_valid(target, ignore_mask, pred.shape)
    pred &= valid  # a predicted ignored label is neither TP nor FP
    n_correct = (pred & positive).sum(axis=0)  # (D,)
    n_predicted = pred.sum(axis=0)  # (D,)
    n_gt = positive.sum(axis=0)  # (D,)

    precision = _safe_div(n_correct, n_predicted)  # (D,)
    recall = _safe_div(n_correct, n_gt)  # (D,)
    f1 = _safe_div(2 * precision * recall, precision + recall)  # (D,)
    counted = np.ones_like(n_gt, dtype=bool)
    if empty_class == 'exclude':
        counted = n_gt > 0
        recall = np.where(counted, recall, np.nan)
        f1 = np.where(counted, f1, np.nan)

    def mean_counted(x: np.ndarray) -> float:
        return float(x[counted].mean()) if counted.any() else 0.0

    cp, cr = mean_counted(precision), mean_counted(recall)
    op = float(_safe_div(n_correct.sum(), n_predicted.sum()))
    orec = float(_safe_div(n_correct.sum(), n_gt.sum()))
    return dict(
        CP=cp,
        CR=cr,
        CF1=float(_safe_div(2 * cp * cr, cp + cr)),
        OP=op,
        OR=orec,
        OF1=float(_safe_div(2 * op * orec, op + orec)),
        **{'N+': int((n_correct > 0).sum())},
        precision=precision,
        recall=recall,
        f1=f1,
        n_correct=n_correct,
        n_predicted=n_predicted,
        n_gt=n_gt)


def average_precision(scores: ArrayLike,
                      target: ArrayLike,
                      mode: str = 'area',
                      ignore_mask: Optional[ArrayLike] = None,
                      empty_class: str = 'zero') -> np.ndarray:
    """Per-class average precision, all classes at once.

    Each class ranks the images by score (ignored entries removed). The
    precision/recall curve has one point per distinct score: tied images
    are admitted together, as in sklearn's ``precision_recall_curve``, so
    every mode is independent of the order of tied images (default chosen
    here; the VOC devkit ranks tied images in sort order instead, so with
    ties its figures can differ from these either way; without ties they
    are equal). With points ``(R_n, P_n)``, ``R_0 = 0``:

    * ``'noninterp'``: ``sum_n (R_n - R_{n-1}) P_n``; mmpretrain's
      ``AveragePrecision`` without ties, sklearn's ``average_precision_score``
      always.
    * ``'area'``: area under the precision envelope,
      ``sum_n (R_n - R_{n-1}) max_{m >= n} P_m`` (VOC2010+ devkit).
    * ``'voc07_11point'``: ``mean_{t in 0, 0.1, ..., 1} max_{n: R_n >= t}
      P_n`` (0 where no point reaches t), the VOC2007 devkit.

    Args:
        scores: ``(N, D)`` scores (any monotone per-class transform gives the
            same AP).
        target: ``(N, D)`` multi-hot ground truth, -1 = ignored.
        mode: one of ``AP_MODES``.
        ignore_mask: optional ``(N, D)`` bool, ``True`` = ignored.
        empty_class: AP of a class without positives: ``'zero'`` gives 0,
            ``'exclude'`` gives NaN (``np.nanmean`` then gives the mAP over
            the other classes).

    Returns:
        ``(D,)`` float64 array of AP in ``[0, 1]``.
    """
    if mode not in AP_MODES:
        raise ValueError(f'mode must be one of {AP_MODES}, got {mode!r}')
    _check_empty_class(empty_class)
    scores = _as_2d_array(scores, 'scores')
    if not np.isfinite(scores).all():
        raise ValueError('scores contain NaN or inf')
    positive, valid = _positive_and_valid(target, ignore_mask, scores.shape)
    num_images = scores.shape[0]
    if num_images == 0:
        raise ValueError('average_precision needs at least one image')

    order = np.argsort(-scores, axis=0, kind='stable')  # (N, D)
    sorted_scores = np.take_along_axis(scores, order, axis=0)  # (N, D)
    tp = np.cumsum(np.take_along_axis(positive, order, axis=0), axis=0)
    fp = np.cumsum(
        np.take_along_axis(valid & ~positive, order, axis=0),
        axis=0)  # (N, D) cumulative counts down the ranking
    # give every image the counts at the end of its tie group, so that a
    # group acts as one point of the curve
    is_group_end = np.ones_like(valid)  # (N, D)
    is_group_end[:-1] = sorted_scores[:-1] != sorted_scores[1:]
    rank = np.arange(num_images)[:, None]  # (N, 1)
    group_end = np.where(is_group_end, rank, num_images)  # (N, D)
    group_end = np.minimum.accumulate(group_end[::-1], axis=0)[::-1]
    tp = np.take_along_axis(tp, group_end, axis=0)  # (N, D)
    fp = np.take_along_axis(fp, group_end, axis=0)  # (N, D)

    num_pos = tp[-1]  # (D,)
    recall = _safe_div(tp, num_pos)  # (N, D)
    precision = _safe_div(tp, tp + fp)  # (N, D); 0 before any valid image
    if mode == 'voc07_11point':
        # a loop over the 11 recall levels (not images) keeps memory at N x D
        ap = np.mean([
            np.where(recall >= t, precision, 0.0).max(axis=0)
            for t in VOC07_RECALL_LEVELS
        ],
                     axis=0)  # (D,)
    else:
        d_recall = np.diff(recall, axis=0, prepend=0.0)  # (N, D)
        if mode == 'area':
            precision = np.maximum.accumulate(precision[::-1], axis=0)[::-1]
        ap = (d_recall * precision).sum(axis=0)  # (D,)
    empty_value = 0.0 if empty_class == 'zero' else np.nan
    return np.where(num_pos > 0, ap, empty_value)
