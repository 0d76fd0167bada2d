"""Runner-free metric functions against hand computations (tests/
test_evaluation/conftest.py), sklearn, mmpretrain and a VOC-devkit-style
reference written item by item."""
import numpy as np
import pytest
import torch
from mmpretrain.evaluation import AveragePrecision, MultiLabelMetric
from sklearn.metrics import (average_precision_score, precision_score,
                             recall_score)

from marl_mm.evaluation.metrics import (average_precision, multilabel_prf,
                                        to_probabilities, topk_thr_binarize)
from marl_mm.evaluation.metrics.functional import AP_MODES


def _random_case(seed, num_images=300, num_classes=6, ties=False):
    """Scores, a {1, 0, -1} target and the ignore mask it implies."""
    rng = np.random.default_rng(seed)
    target = (rng.random((num_images, num_classes))
              < np.linspace(0.1, 0.5, num_classes)).astype(np.int64)
    # informative scores in [0, 1) so that AP is far from chance; no ties
    # (continuous values) unless asked
    scores = 0.7 * rng.random((num_images, num_classes)) + 0.3 * target
    if ties:
        scores = np.round(scores, 1)  # 11 distinct values: many ties
    difficult = (rng.random((num_images, num_classes)) < 0.05) & (target == 0)
    target[difficult] = -1
    return scores, target, difficult


def _devkit_ap(scores, target, mode):
    """VOC devkit AP of one class, item by item (the devkit's loop order;
    ties ranked by a stable sort), written independently of the code."""
    keep = target >= 0
    scores, target = scores[keep], target[keep]
    order = np.argsort(-scores, kind='stable')
    tp = np.cumsum(target[order] == 1)
    fp = np.cumsum(target[order] == 0)
    rec = tp / (target == 1).sum()
    prec = tp / (tp + fp)
    if mode == 'voc07_11point':
        ap = 0.0
        for k in range(11):
            t = k / 10
            p = prec[rec >= t].max() if (rec >= t).any() else 0.0
            ap += p / 11
        return ap
    mrec = np.concatenate([[0.0], rec, [1.0]])
    mpre = np.concatenate([[0.0], prec, [0.0]])
    for i in range(len(mpre) - 2, -1, -1):
        mpre[i] = max(mpre[i], mpre[i + 1])
    i = np.flatnonzero(mrec[1:] != mrec[:-1]) + 1
    return float(((mrec[i] - mrec[i - 1]) * mpre[i]).sum())


# --------------------------------------------------------------- hand cases
def test_binarize_and_prf_match_hand_computation(prf_case):
    pred = topk_thr_binarize(prf_case['scores'], topk=2, thr=0.3)
    np.testing.assert_array_equal(pred, np.array(prf_case['pred'], bool))
    assert not pred[2].any()  # an image with no predicted label

    out = multilabel_prf(pred, prf_case['target'])
    for key, value in prf_case['expected'].items():
        assert out[key] == pytest.approx(float(value), abs=1e-12), key
    for key, values in prf_case['classwise'].items():
        np.testing.assert_allclose(
            out[key], [float(v) for v in values], atol=1e-12)
    np.testing.assert_array_equal(out['n_correct'], [2, 1, 1, 0])
    np.testing.assert_array_equal(out['n_predicted'], [3, 2, 1, 0])
    np.testing.assert_array_equal(out['n_gt'], [3, 2, 2, 0])

    excl = multilabel_prf(pred, prf_case['target'], empty_class='exclude')
    for key, value in prf_case['exclude'].items():
        assert excl[key] == pytest.approx(float(value), abs=1e-12), key
    for key in ('OP', 'OR', 'OF1', 'N+'):  # overall figures do not change
        assert excl[key] == pytest.approx(out[key], abs=1e-12)
    assert np.isnan(excl['recall'][3]) and excl['precision'][3] == 0


def test_ignore_mask_equals_minus_one_target(prf_case):
    target = np.array(prf_case['target'])
    ignore = target == -1
    pred = np.array(prf_case['pred'], bool)
    a = multilabel_prf(pred, target)
    b = multilabel_prf(pred, np.clip(target, 0, 1), ignore_mask=ignore)
    for key in ('CP', 'CR', 'CF1', 'OP', 'OR', 'OF1', 'N+'):
        assert a[key] == b[key]
    # without the mask the difficult prediction (image 3, class 2) is a false
    # positive: class 2 precision 1/2, CP = (2/3 + 1/2 + 1/2 + 0)/4 = 5/12
    c = multilabel_prf(pred, np.clip(target, 0, 1))
    assert c['CP'] == pytest.approx(5 / 12, abs=1e-12)


def test_topk_and_thr_alone():
    scores = np.array([[0.5, 0.5, 0.2, 0.9]])
    # top-2 with a tie at the 2nd place: the lower class index wins
    np.testing.assert_array_equal(
        topk_thr_binarize(scores, topk=2), [[True, False, False, True]])
    # threshold keeps labels with probability >= thr
    np.testing.assert_array_equal(
        topk_thr_binarize(scores, thr=0.5), [[True, True, False, True]])
    # topk >= D keeps all classes before the threshold
    np.testing.assert_array_equal(
        topk_thr_binarize(scores, 7, 0.3), [[True, True, False, True]])
    # torch input gives the same
    np.testing.assert_array_equal(
        topk_thr_binarize(torch.tensor(scores), 2),
        topk_thr_binarize(scores, 2))


def test_average_precision_matches_hand_computation(ap_case):
    for mode in AP_MODES:
        ap = average_precision(ap_case['scores'], ap_case['target'], mode)
        np.testing.assert_allclose(
            ap, [float(v) for v in ap_case['classwise'][mode]],
            atol=1e-12,
            err_msg=mode)
        assert ap.mean() == pytest.approx(
            float(ap_case['mean'][mode]), abs=1e-12)
        excl = average_precision(
            ap_case['scores'], ap_case['target'], mode, empty_class='exclude')
        assert np.isnan(excl[2])
        assert np.nanmean(excl) == pytest.approx(
            float(ap_case['mean_exclude'][mode]), abs=1e-12)


def test_voc07_levels_reach_exact_tenths(ap_case):
    # class 1 reaches recall 3/5 with precision 1; np.arange(0, 1.1, 0.1)[6]
    # is 0.6000000000000001 and would miss it (67/77 instead of 69/77)
    assert np.arange(0, 1.1, 0.1)[6] > 3 / 5
    ap = average_precision(ap_case['scores'], ap_case['target'],
                           'voc07_11point')
    assert ap[1] == pytest.approx(69 / 77, abs=1e-12)
    assert abs(ap[1] - 67 / 77) > 0.02


def test_tied_images_act_as_one_point(ap_case):
    scores = np.array(ap_case['scores'])
    target = np.array(ap_case['target'])
    # the devkit ranks the tied pair of class 0 (images 1: -, 2: +) in sort
    # order: negative first 34/45, positive first 13/15 (area mode)
    assert _devkit_ap(scores[:, 0], target[:, 0],
                      'area') == pytest.approx(34 / 45)
    swapped = [0, 2, 1, 3, 4, 5, 6]
    assert _devkit_ap(scores[swapped, 0], target[swapped, 0],
                      'area') == pytest.approx(13 / 15)
    # ours does not depend on the order of the images
    rng = np.random.default_rng(0)
    for mode in AP_MODES:
        ref = average_precision(scores, target, mode)
        for _ in range(5):
            perm = rng.permutation(len(scores))
            np.testing.assert_allclose(
                average_precision(scores[perm], target[perm], mode),
                ref,
                atol=1e-12)


def test_difficult_removed_from_ranking():
    # one class; the difficult image has the top score. Removed, the ranking
    # is +, -, + -> noninterp (1 + 2/3)/2 = 5/6; as a negative it would be
    # -, +, -, + -> (1/2 + 2/4)/2 = 1/2
    scores = np.array([[0.9], [0.8], [0.7], [0.6]])
    target = np.array([[-1], [1], [0], [1]])
    assert average_precision(scores, target, 'noninterp')[0] == \
        pytest.approx(5 / 6)
    assert average_precision(scores, np.clip(target, 0, 1),
                             'noninterp')[0] == pytest.approx(1 / 2)


def test_no_positive_images_at_all_for_a_class():
    scores = np.array([[0.2, 0.9], [0.4, 0.1]])
    target = np.array([[0, 1], [0, 0]])
    ap = average_precision(scores, target, 'area')
    np.testing.assert_allclose(ap, [0.0, 1.0])
    ap = average_precision(scores, target, 'area', empty_class='exclude')
    assert np.isnan(ap[0]) and ap[1] == 1.0


# ------------------------------------------------------------------ sklearn
@pytest.mark.parametrize('ties', [False, True])
def test_noninterp_ap_equals_sklearn(ties):
    scores, target, difficult = _random_case(1, ties=ties)
    ours = average_precision(scores, target, 'noninterp')
    ref = np.array([
        average_precision_score(target[~difficult[:, c], c],
                                scores[~difficult[:, c], c])
        for c in range(scores.shape[1])
    ])
    diff = np.abs(ours - ref).max()
    print(f'max |AP noninterp - sklearn| (ties={ties}): {diff:.3g}')
    assert diff < 1e-12
    assert 0.3 < ours.mean() < 1.0  # informative scores, not a trivial case


@pytest.mark.parametrize('topk,thr', [(3, None), (2, 0.5), (None, 0.6)])
def test_prf_equals_sklearn(topk, thr):
    scores, target, difficult = _random_case(2)
    pred = topk_thr_binarize(scores, topk, thr)
    out = multilabel_prf(pred, target)
    valid = ~difficult
    per_class_p = [
        precision_score(
            target[valid[:, c], c], pred[valid[:, c], c], zero_division=0)
        for c in range(scores.shape[1])
    ]
    per_class_r = [
        recall_score(
            target[valid[:, c], c], pred[valid[:, c], c], zero_division=0)
        for c in range(scores.shape[1])
    ]
    op = precision_score(target[valid], pred[valid])  # micro = flattened
    orec = recall_score(target[valid], pred[valid])
    diffs = [
        abs(out['CP'] - np.mean(per_class_p)),
        abs(out['CR'] - np.mean(per_class_r)),
        abs(out['OP'] - op),
        abs(out['OR'] - orec),
        np.abs(out['precision'] - per_class_p).max(),
        np.abs(out['recall'] - per_class_r).max(),
    ]
    print(f'max |P/R - sklearn| (topk={topk}, thr={thr}): {max(diffs):.3g}')
    assert max(diffs) < 1e-12
    # CF1, OF1 from their definitions (harmonic mean of the averages)
    assert out['CF1'] == pytest.approx(
        2 * out['CP'] * out['CR'] / (out['CP'] + out['CR']), abs=1e-12)
    assert out['OF1'] == pytest.approx(2 * op * orec / (op + orec), abs=1e-12)
    assert out['N+'] == sum(r > 0 for r in per_class_r)


# -------------------------------------------- devkit reference, mmpretrain
@pytest.mark.parametrize('mode', ['area', 'voc07_11point'])
def test_interpolated_ap_equals_item_by_item_devkit_without_ties(mode):
    scores, target, _ = _random_case(3, num_images=120)
    ours = average_precision(scores, target, mode)
    ref = [
        _devkit_ap(scores[:, c], target[:, c], mode)
        for c in range(scores.shape[1])
    ]
    np.testing.assert_allclose(ours, ref, atol=1e-12)


def test_noninterp_equals_mmpretrain_without_ties():
    scores, target, _ = _random_case(4)
    target = np.clip(target, 0, 1)  # mmpretrain's calculate: no -1 here
    ref = AveragePrecision.calculate(
        torch.tensor(scores), torch.tensor(target), average=None) / 100
    ours = average_precision(scores, target, 'noninterp')
    np.testing.assert_allclose(ours, ref.double().numpy(), atol=1e-5)


@pytest.mark.parametrize('topk,thr', [(2, None), (None, 0.7)])
def test_prf_equals_mmpretrain_multilabelmetric(topk, thr):
    scores, target, _ = _random_case(5)
    target = np.clip(target, 0, 1)
    pred = topk_thr_binarize(scores, topk, thr)
    out = multilabel_prf(pred, target)
    for average, keys in (('macro', ('CP', 'CR')), ('micro', ('OP', 'OR'))):
        p, r, _, _ = MultiLabelMetric.calculate(
            torch.tensor(scores),
            torch.tensor(target),
            average=average,
            topk=topk,
            thr=thr)
        assert out[keys[0]] == pytest.approx(p.item() / 100, abs=1e-5)
        assert out[keys[1]] == pytest.approx(r.item() / 100, abs=1e-5)


# ------------------------------------------------------------ normalisation
def test_to_probabilities():
    logits = torch.tensor([[2.0, -1.0, 0.5], [-30.0, 40.0, 0.0]])
    np.testing.assert_allclose(
        to_probabilities(logits, 'sigmoid'),
        torch.sigmoid(logits.double()).numpy(),
        atol=1e-12)
    np.testing.assert_allclose(
        to_probabilities(logits, 'softmax'),
        torch.softmax(logits.double(), dim=1).numpy(),
        atol=1e-12)
    np.testing.assert_array_equal(to_probabilities(logits), logits.numpy())


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize('kwargs,error,match', [
    (dict(topk=0), ValueError, 'topk must be >= 1'),
    (dict(topk=1.5), TypeError, 'topk must be an int'),
    (dict(topk=True), TypeError, 'topk must be an int'),
    (dict(thr=-0.1), ValueError, r'thr must be in \[0, 1\]'),
    (dict(thr=1.5), ValueError, r'thr must be in \[0, 1\]'),
    (dict(topk=None, thr=None), ValueError, 'both None'),
])
def test_bad_binarize_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        topk_thr_binarize(np.full((2, 3), 0.5), **kwargs)


def test_bad_inputs():
    probs = np.full((2, 3), 0.5)
    with pytest.raises(ValueError, match='look like logits|needs probab'):
        topk_thr_binarize(np.array([[2.0, -1.0, 0.5]]), topk=1, thr=0.1)
    with pytest.raises(ValueError, match='2-D'):
        topk_thr_binarize(np.zeros(3), topk=1)
    with pytest.raises(ValueError, match='NaN or inf'):
        topk_thr_binarize(np.array([[np.nan, 0.1]]), topk=1)
    with pytest.raises(ValueError, match='normalization must be one of'):
        to_probabilities(probs, 'tanh')
    with pytest.raises(ValueError, match='mode must be one of'):
        average_precision(probs, np.zeros((2, 3)), mode='11point')
    with pytest.raises(ValueError, match='empty_class must be one of'):
        average_precision(probs, np.zeros((2, 3)), empty_class='nan')
    with pytest.raises(ValueError, match='target has shape'):
        average_precision(probs, np.zeros((2, 4)))
    with pytest.raises(ValueError, match='multi-hot'):
        multilabel_prf(probs > 0, np.full((2, 3), 0.5))
    with pytest.raises(ValueError, match='pred_bin must be binary'):
        multilabel_prf(probs, np.zeros((2, 3)))
    with pytest.raises(ValueError, match='ignore_mask has shape'):
        multilabel_prf(
            probs > 0, np.zeros((2, 3)), ignore_mask=np.zeros((3, 3), bool))
