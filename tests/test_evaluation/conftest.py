"""Two cases small enough to evaluate on paper, shared by the metric tests.

Each case gives the scores, the ground truth (1 positive, 0 negative,
-1 = VOC difficult-only label, ignored) and every expected figure as an
exact fraction, with the arithmetic in the comments.
"""
from fractions import Fraction as F

import pytest
import torch
from mmpretrain.structures import DataSample

X = -1  # difficult-only label: ignored

# ---------------------------------------------------------------------------
# Case P: label-set metrics, topk=2 AND thr=0.3, 5 images x 4 classes.
# ---------------------------------------------------------------------------
PRF_SCORES = [
    [0.9, 0.5, 0.4, 0.1],  # top2 {0, 1}; both >= 0.3        -> pred {0, 1}
    [0.35, 0.35, 0.6, 0.0],  # top2 {2, tie 0/1 -> 0 (lower index)}
    #                                                      -> pred {0, 2}
    [0.2, 0.1, 0.25, 0.05],  # top2 {2, 0}, both < 0.3      -> pred {}
    [0.3, 0.7, 0.8, 0.2],  # top2 {2, 1} (0.3 cut by top-k) -> pred {1, 2}
    [0.4, 0.25, 0.1, 0.28],  # top2 {0, 3}, 0.28 < 0.3      -> pred {0}
]
PRF_TARGET = [
    [1, 0, 0, 0],
    [0, 1, 1, 0],
    [1, 0, 0, 0],
    [0, 1, X, 0],  # class 2 difficult-only: predicted, but neither TP nor FP
    [1, 0, 1, 0],
]
PRF_PRED = [
    [1, 1, 0, 0],
    [1, 0, 1, 0],
    [0, 0, 0, 0],
    [0, 1, 1, 0],
    [1, 0, 0, 0],
]
# Counts per class (difficult entry of image 3, class 2 left out):
#   class 0: predicted in images 0, 1, 4 -> N_pred 3; GT 0, 2, 4 -> N_gt 3;
#            correct 0, 4 -> N_correct 2.      P = 2/3, R = 2/3
#   class 1: predicted 0, 3 -> 2; GT 1, 3 -> 2; correct 3 -> 1.
#            P = 1/2, R = 1/2
#   class 2: predicted 1 (3 is difficult) -> 1; GT 1, 4 -> 2; correct 1 -> 1.
#            P = 1/1, R = 1/2
#   class 3: never predicted, no GT: P = 0 (never predicted counts 0),
#            R = 0/0 -> 0 (empty_class='zero') or left out ('exclude').
# empty_class='zero' (means over 4 classes):
#   CP = (2/3 + 1/2 + 1 + 0) / 4 = (4/6 + 3/6 + 6/6) / 4 = 13/24
#   CR = (2/3 + 1/2 + 1/2 + 0) / 4 = (10/6) / 4 = 10/24 = 5/12
#   CF1 = 2 * 13/24 * 10/24 / (23/24) = (260/576) * (24/23) = 260/552 = 65/138
# overall (every class):
#   OP = (2 + 1 + 1 + 0) / (3 + 2 + 1 + 0) = 4/6 = 2/3
#   OR = 4 / (3 + 2 + 2 + 0) = 4/7
#   OF1 = 2 * 2/3 * 4/7 / (2/3 + 4/7) = (16/21) / (26/21) = 8/13
# N+ = classes with N_correct > 0 = {0, 1, 2} -> 3
# empty_class='exclude' (means over classes 0..2):
#   CP = (13/6) / 3 = 13/18, CR = (10/6) / 3 = 5/9,
#   CF1 = 2 * 13/18 * 10/18 / (23/18) = (260/324) * (18/23) = 130/207
# Per-class F1 = 2PR/(P+R): class 0: 2/3; class 1: 1/2;
#   class 2: 2 * 1 * 1/2 / (3/2) = 2/3; class 3: 0.
PRF_EXPECTED = dict(
    CP=F(13, 24),
    CR=F(5, 12),
    CF1=F(65, 138),
    OP=F(2, 3),
    OR=F(4, 7),
    OF1=F(8, 13),
    **{'N+': 3})
PRF_EXPECTED_EXCLUDE = dict(CP=F(13, 18), CR=F(5, 9), CF1=F(130, 207))
PRF_CLASSWISE = dict(
    precision=[F(2, 3), F(1, 2), F(1), F(0)],
    recall=[F(2, 3), F(1, 2), F(1, 2), F(0)],
    f1=[F(2, 3), F(1, 2), F(2, 3), F(0)])

# ---------------------------------------------------------------------------
# Case A: average precision, 7 images x 3 classes.
# ---------------------------------------------------------------------------
AP_SCORES = [
    [0.9, 0.7, 0.3],
    [0.8, 0.95, 0.2],
    [0.8, 0.2, 0.6],
    [0.6, 0.85, 0.1],
    [0.5, 0.4, 0.9],
    [0.1, 0.3, 0.4],
    [0.05, 0.75, 0.5],
]
AP_TARGET = [
    [1, 0, 0],
    [0, 1, 0],
    [1, 1, 0],
    [X, 1, 0],
    [0, 0, 0],
    [1, 1, X],
    [0, 1, 0],
]
# Class 0 (ties, a difficult label), 3 positives. Ranking by score:
#   0.9 (+), {0.8 (-), 0.8 (+)} tied, 0.6 (difficult: removed), 0.5 (-),
#   0.1 (+), 0.05 (-). One curve point per distinct score (R, P):
#   0.9: tp 1 fp 0 -> (1/3, 1)
#   0.8: tp 2 fp 1 -> (2/3, 2/3)
#   0.5: tp 2 fp 2 -> (2/3, 1/2)
#   0.1: tp 3 fp 2 -> (1, 3/5)
#   0.05: tp 3 fp 3 -> (1, 1/2)
# noninterp = 1/3*1 + 1/3*2/3 + 0*1/2 + 1/3*3/5 + 0 = 1/3 + 2/9 + 1/5
#           = (15 + 10 + 9)/45 = 34/45
# area: envelope max_{m>=n} P_m = 1, 2/3, 3/5, 3/5, 1/2 -> the same sum, 34/45
# voc07: t = 0, .1, .2, .3 (R >= t: all points) -> 1            (4 levels)
#        t = .4, .5, .6 (points from R = 2/3 on) -> max(2/3, 1/2, 3/5, 1/2)
#            = 2/3                                              (3 levels)
#        t = .7, .8, .9, 1 (points with R = 1) -> 3/5           (4 levels)
#        AP = (4*1 + 3*2/3 + 4*3/5) / 11 = (4 + 2 + 12/5)/11 = 42/55
# (Ranked item by item, the devkit's result for class 0 depends on the order
# of the tied pair: negative first -> 34/45, positive first -> area 13/15.)
#
# Class 1 (no ties, 5 positives): ranking 0.95 (+), 0.85 (+), 0.75 (+),
#   0.7 (-), 0.4 (-), 0.3 (+), 0.2 (+). Points (R, P):
#   (1/5, 1), (2/5, 1), (3/5, 1), (3/5, 3/4), (3/5, 3/5), (4/5, 4/6),
#   (1, 5/7)
# noninterp = 1/5 * (1 + 1 + 1 + 4/6 + 5/7) = 1/5 * (63 + 14 + 15)/21
#           = 92/105
# area: envelope at (4/5, 4/6) is max(4/6, 5/7) = 5/7 (the envelope lifts it)
#       = 1/5 * (1 + 1 + 1 + 5/7 + 5/7) = 3/5 + 2/7 = 31/35
# voc07: t = 0 .. .6 (7 levels; R = 3/5 = 0.6 reaches t = 0.6) -> 1
#        t = .7, .8 -> max(4/6, 5/7) = 5/7; t = .9, 1 -> 5/7      (4 levels)
#        AP = (7 + 4*5/7) / 11 = (69/7)/11 = 69/77
#        (with t = 0.1*6 = 0.6000000000000001, as np.arange(0, 1.1, 0.1)
#        gives, t = 0.6 would miss R = 0.6 and give (6 + 25/7)/11 = 67/77)
#
# Class 2: no positive (image 5 is difficult-only): AP 0 ('zero') or left
#   out ('exclude').
# mAP, empty_class='zero' (over 3 classes):
#   noninterp (34/45 + 92/105 + 0)/3 = (238 + 276)/315/3 = 514/945
#   area      (34/45 + 31/35 + 0)/3  = (238 + 279)/315/3 = 517/945
#   voc07     (42/55 + 69/77 + 0)/3  = (294 + 345)/385/3 = 639/1155
# mAP, empty_class='exclude' (over classes 0, 1): 514/630, 517/630, 639/770
AP_CLASSWISE = dict(
    noninterp=[F(34, 45), F(92, 105), F(0)],
    area=[F(34, 45), F(31, 35), F(0)],
    voc07_11point=[F(42, 55), F(69, 77), F(0)])
AP_MEAN = dict(
    noninterp=F(514, 945), area=F(517, 945), voc07_11point=F(639, 1155))
AP_MEAN_EXCLUDE = dict(
    noninterp=F(514, 630), area=F(517, 630), voc07_11point=F(639, 770))


def _to_data_samples(scores, target):
    """DataSamples as mmpretrain's VOC pipeline gives them: ``gt_label``
    (non-difficult labels) and ``gt_label_difficult`` in the metainfo."""
    samples = []
    for score, row in zip(scores, target):
        labels = [c for c, v in enumerate(row) if v == 1]
        difficult = [c for c, v in enumerate(row) if v == X]
        sample = DataSample(metainfo=dict(gt_label_difficult=difficult))
        sample.set_pred_score(torch.tensor(score)).set_gt_label(labels)
        samples.append(sample)
    return samples


@pytest.fixture
def prf_case():
    return dict(
        scores=PRF_SCORES,
        target=PRF_TARGET,
        pred=PRF_PRED,
        expected=PRF_EXPECTED,
        exclude=PRF_EXPECTED_EXCLUDE,
        classwise=PRF_CLASSWISE)


@pytest.fixture
def ap_case():
    return dict(
        scores=AP_SCORES,
        target=AP_TARGET,
        classwise=AP_CLASSWISE,
        mean=AP_MEAN,
        mean_exclude=AP_MEAN_EXCLUDE)


@pytest.fixture
def to_data_samples():
    """``to_data_samples(scores, target)`` -> list of DataSample."""
    return _to_data_samples
