"""MultiLabelTopKMetric through mmengine's Evaluator on DataSamples, against
the hand computation of case P (tests/test_evaluation/conftest.py)."""
import numpy as np
import pytest
import torch
from mmengine.evaluator import Evaluator
from mmpretrain.evaluation import VOCMultiLabelMetric
from mmpretrain.registry import METRICS
from mmpretrain.structures import DataSample

from marl_mm.evaluation.metrics import MultiLabelTopKMetric

CLASSES = ('cat', 'dog', 'car', 'bus')
RARNN_OF = dict(CP='P_L', CR='R_L', CF1='F_L', OP='P_I', OR='R_I', OF1='F_I')


def _evaluate(metric_cfg, samples, classes=CLASSES, batch=2):
    metric = METRICS.build(metric_cfg)  # mmpretrain's registry
    evaluator = Evaluator(metric)
    evaluator.dataset_meta = dict(classes=classes)
    for i in range(0, len(samples), batch):
        evaluator.process(samples[i:i + batch])
    return evaluator.evaluate(len(samples))


def test_evaluator_matches_hand_computation(prf_case, to_data_samples):
    samples = to_data_samples(prf_case['scores'], prf_case['target'])
    out = _evaluate(
        dict(type='MultiLabelTopKMetric', topk=2, thr=0.3, classwise=True),
        samples)
    for key, value in prf_case['expected'].items():
        if key == 'N+':
            continue
        assert out[f'multi-label/{key}'] == pytest.approx(
            100 * float(value), abs=1e-9), key
        if key in RARNN_OF:  # same figure under the RARNN name
            assert out[f'multi-label/{RARNN_OF[key]}'] == \
                out[f'multi-label/{key}']
    assert out['multi-label/N+'] == 3 and isinstance(out['multi-label/N+'],
                                                     int)
    for key, values in prf_case['classwise'].items():
        np.testing.assert_allclose(
            out[f'multi-label/{key}_classwise'],
            [100 * float(v) for v in values],
            atol=1e-9)
    assert len(out) == 12 + 1 + 3


def test_naming_and_exclude(prf_case, to_data_samples):
    samples = to_data_samples(prf_case['scores'], prf_case['target'])
    rarl = _evaluate(
        dict(
            type='MultiLabelTopKMetric',
            topk=2,
            thr=0.3,
            naming='rarl',
            empty_class='exclude'), samples)
    assert set(rarl) == {
        f'multi-label/{k}'
        for k in ('CP', 'CR', 'CF1', 'OP', 'OR', 'OF1', 'N+')
    }
    for key, value in prf_case['exclude'].items():
        assert rarl[f'multi-label/{key}'] == pytest.approx(
            100 * float(value), abs=1e-9)
    rarnn = _evaluate(
        dict(
            type='MultiLabelTopKMetric',
            topk=2,
            thr=0.3,
            naming='rarnn',
            prefix='coco'), samples)
    assert set(rarnn) == {
        f'coco/{k}'
        for k in ('P_L', 'R_L', 'F_L', 'P_I', 'R_I', 'F_I', 'N+')
    }
    assert rarnn['coco/F_I'] == pytest.approx(100 * 8 / 13, abs=1e-9)


def test_gt_score_path_and_label_both_difficult_and_not(
        prf_case, to_data_samples):
    # ClsDataPreprocessor(to_onehot=True) fills gt_score: same result
    samples = to_data_samples(prf_case['scores'], prf_case['target'])
    for sample, row in zip(samples, prf_case['target']):
        sample.set_gt_score(torch.tensor([float(v == 1) for v in row]))
    out = _evaluate(
        dict(type='MultiLabelTopKMetric', topk=2, thr=0.3), samples)
    assert out['multi-label/CP'] == pytest.approx(100 * 13 / 24, abs=1e-9)

    # a class present both as difficult and non-difficult is a positive
    sample = DataSample(metainfo=dict(gt_label_difficult=[0, 1]))
    sample.set_pred_score(torch.tensor([0.9, 0.8, 0.1])).set_gt_label([0])
    out = _evaluate(
        dict(
            type='MultiLabelTopKMetric', topk=2, naming='rarl',
            classwise=True), [sample],
        classes=('a', 'b', 'c'))
    # class 0: predicted, positive -> P = R = 1; class 1: difficult-only,
    # predicted but ignored -> P = 0/0 = 0; class 2: nothing -> 0.
    # CP = 1/3, CR = (1 + 0 + 0)/3 = 1/3, OP = 1/1, OR = 1/1
    np.testing.assert_allclose(out['multi-label/precision_classwise'],
                               [100, 0, 0])
    assert out['multi-label/OP'] == pytest.approx(100)
    assert out['multi-label/CP'] == pytest.approx(100 / 3)


def test_normalization_of_logits():
    rng = np.random.default_rng(0)
    logits = torch.tensor(rng.normal(size=(20, 4)) * 3, dtype=torch.float32)
    labels = [list(np.flatnonzero(r)) for r in rng.random((20, 4)) < 0.4]

    def samples(scores):
        return [
            DataSample().set_pred_score(s).set_gt_label(lab)
            for s, lab in zip(scores, labels)
        ]

    cfg = dict(type='MultiLabelTopKMetric', topk=2, thr=0.4)
    for norm, fn in (('sigmoid', torch.sigmoid),
                     ('softmax', lambda x: torch.softmax(x, dim=1))):
        on_logits = _evaluate(dict(cfg, normalization=norm), samples(logits))
        on_probs = _evaluate(cfg, samples(fn(logits.double()).float()))
        for key, value in on_probs.items():
            assert on_logits[key] == pytest.approx(value, abs=1e-9), key
    # logits with normalization=None and a threshold: a clear error
    with pytest.raises(ValueError, match='needs probabilities'):
        _evaluate(cfg, samples(logits))


def test_equals_mmpretrain_voc_metric_with_topk_only(to_data_samples):
    # mmpretrain's VOCMultiLabelMetric (topk only, macro/micro precision and
    # recall) on random scores without ties, difficult labels included
    rng = np.random.default_rng(1)
    scores = rng.random((40, 5))
    target = (rng.random((40, 5)) < 0.3).astype(int)
    target[(rng.random((40, 5)) < 0.1) & (target == 0)] = -1
    samples = to_data_samples(
        scores.astype(np.float32).tolist(), target.tolist())
    ours = _evaluate(
        dict(type='MultiLabelTopKMetric', topk=2, thr=None, naming='rarl'),
        samples,
        classes='abcde')
    for average, keys in (('macro', ('CP', 'CR')), ('micro', ('OP', 'OR'))):
        ref = Evaluator(VOCMultiLabelMetric(topk=2, average=average))
        ref.process(samples)
        ref = ref.evaluate(len(samples))
        suffix = '_top2' + ('' if average == 'macro' else '_micro')
        assert ours[f'multi-label/{keys[0]}'] == pytest.approx(
            ref[f'multi-label/precision{suffix}'], abs=1e-4)
        assert ours[f'multi-label/{keys[1]}'] == pytest.approx(
            ref[f'multi-label/recall{suffix}'], abs=1e-4)


@pytest.mark.parametrize('kwargs,error,match', [
    (dict(topk=0), ValueError, 'topk must be >= 1'),
    (dict(topk=2.5), TypeError, 'topk must be an int'),
    (dict(thr=1.2), ValueError, r'thr must be in \[0, 1\]'),
    (dict(thr=-0.5), ValueError, r'thr must be in \[0, 1\]'),
    (dict(topk=None, thr=None), ValueError, 'both None'),
    (dict(normalization='relu'), ValueError, 'normalization must be'),
    (dict(naming='voc'), ValueError, 'naming must be'),
    (dict(empty_class='skip'), ValueError, 'empty_class must be'),
    (dict(num_classes=0), ValueError, 'num_classes must be'),
])
def test_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        MultiLabelTopKMetric(**kwargs)


def test_bad_data_samples():
    good = DataSample().set_pred_score(torch.rand(4)).set_gt_label([1])
    wide = DataSample().set_pred_score(torch.rand(5)).set_gt_label([1])
    with pytest.raises(ValueError, match=r"5 classes but dataset_meta\["):
        _evaluate(dict(type='MultiLabelTopKMetric'), [good, wide])
    with pytest.raises(ValueError, match='5 classes but num_classes says 4'):
        metric = MultiLabelTopKMetric(num_classes=4)
        metric.process(None, [wide])
    with pytest.raises(ValueError, match='different widths'):
        metric = MultiLabelTopKMetric()  # no dataset_meta, no num_classes
        metric.process(None, [good, wide])
        metric.compute_metrics(metric.results)
    out_of_range = DataSample().set_pred_score(torch.rand(4)).set_gt_label([4])
    with pytest.raises(ValueError, match=r'gt_label \[4\] outside'):
        _evaluate(dict(type='MultiLabelTopKMetric'), [out_of_range])
    bad_difficult = DataSample(metainfo=dict(gt_label_difficult=[7]))
    bad_difficult.set_pred_score(torch.rand(4)).set_gt_label([0])
    with pytest.raises(ValueError, match='gt_label_difficult'):
        _evaluate(dict(type='MultiLabelTopKMetric'), [bad_difficult])
    with pytest.raises(ValueError, match='no pred_score'):
        _evaluate(
            dict(type='MultiLabelTopKMetric'),
            [DataSample().set_gt_label([0])])
    with pytest.raises(ValueError, match='neither gt_score nor gt_label'):
        _evaluate(
            dict(type='MultiLabelTopKMetric'),
            [DataSample().set_pred_score(torch.rand(4))])
    soft = DataSample().set_pred_score(torch.rand(4)).set_gt_score(
        torch.tensor([0.5, 0.5, 0., 0.]))
    with pytest.raises(ValueError, match='multi-hot 0/1'):
        _evaluate(dict(type='MultiLabelTopKMetric'), [soft])
    with pytest.raises(ValueError, match='no data sample'):
        MultiLabelTopKMetric().compute_metrics([])
