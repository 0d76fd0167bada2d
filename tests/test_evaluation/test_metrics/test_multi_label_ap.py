"""MultiLabelAP through mmengine's Evaluator on DataSamples, against the hand
computation of case A (tests/test_evaluation/conftest.py) and mmpretrain's
VOCAveragePrecision."""
import math

import numpy as np
import pytest
import torch
from mmengine.evaluator import Evaluator
from mmpretrain.evaluation import VOCAveragePrecision
from mmpretrain.registry import METRICS
from mmpretrain.structures import DataSample

from marl_mm.evaluation.metrics import MultiLabelAP

KEY = dict(noninterp='noninterp', area='area', voc07_11point='voc07')


def _evaluate(metric_cfg, samples, classes=('a', 'b', 'c'), batch=3):
    evaluator = Evaluator(METRICS.build(metric_cfg))
    evaluator.dataset_meta = dict(classes=classes)
    for i in range(0, len(samples), batch):
        evaluator.process(samples[i:i + batch])
    return evaluator.evaluate(len(samples))


def test_all_modes_match_hand_computation(ap_case, to_data_samples):
    samples = to_data_samples(ap_case['scores'], ap_case['target'])
    out = _evaluate(dict(type='MultiLabelAP', classwise=True), samples)
    assert len(out) == 6  # mAP and classwise AP for each of the three modes
    for mode, key in KEY.items():
        assert out[f'multi-label/mAP_{key}'] == pytest.approx(
            100 * float(ap_case['mean'][mode]), abs=1e-9), mode
        np.testing.assert_allclose(
            out[f'multi-label/AP_{key}_classwise'],
            [100 * float(v) for v in ap_case['classwise'][mode]],
            atol=1e-9)


def test_exclude_empty_class(ap_case, to_data_samples):
    samples = to_data_samples(ap_case['scores'], ap_case['target'])
    out = _evaluate(
        dict(
            type='MultiLabelAP',
            mode='area',
            classwise=True,
            empty_class='exclude'), samples)
    assert set(out) == {
        'multi-label/mAP_area', 'multi-label/AP_area_classwise'
    }
    assert out['multi-label/mAP_area'] == pytest.approx(100 * 517 / 630)
    assert math.isnan(out['multi-label/AP_area_classwise'][2])


def test_modes_are_selectable_and_named(ap_case, to_data_samples):
    samples = to_data_samples(ap_case['scores'], ap_case['target'])
    out = _evaluate(
        dict(
            type='MultiLabelAP',
            mode=['voc07_11point', 'voc07_11point'],
            prefix='voc'), samples)
    assert out == {'voc/mAP_voc07': pytest.approx(100 * 639 / 1155)}


def test_gt_score_path_equals_gt_label_path(ap_case, to_data_samples):
    samples = to_data_samples(ap_case['scores'], ap_case['target'])
    for sample, row in zip(samples, ap_case['target']):
        sample.set_gt_score(torch.tensor([float(v == 1) for v in row]))
    out = _evaluate(dict(type='MultiLabelAP', mode='noninterp'), samples)
    assert out['multi-label/mAP_noninterp'] == pytest.approx(
        100 * 514 / 945, abs=1e-9)


def test_equals_mmpretrain_voc_average_precision(to_data_samples):
    # random float32 scores without ties, with VOC difficult labels: the
    # non-interpolated mAP equals mmpretrain's VOCAveragePrecision
    rng = np.random.default_rng(0)
    target = (rng.random((60, 5)) < 0.3).astype(int)
    scores = 0.6 * rng.random((60, 5)) + 0.4 * target
    target[(rng.random((60, 5)) < 0.1) & (target == 0)] = -1
    samples = to_data_samples(
        scores.astype(np.float32).tolist(), target.tolist())
    ours = _evaluate(
        dict(type='MultiLabelAP', classwise=True), samples, classes='abcde')
    ref = Evaluator(VOCAveragePrecision(average=None))
    ref.process(samples)
    ref = ref.evaluate(len(samples))
    np.testing.assert_allclose(
        ours['multi-label/AP_noninterp_classwise'],
        ref['multi-label/AP_classwise'],
        atol=1e-3)
    # the envelope never lowers AP: area >= noninterp for every class
    assert (np.array(ours['multi-label/AP_area_classwise'])
            >= np.array(ours['multi-label/AP_noninterp_classwise']) -
            1e-9).all()


@pytest.mark.parametrize('kwargs,match', [
    (dict(mode='11point'), 'mode must be one or more of'),
    (dict(mode=['area', 'voc12']), 'mode must be one or more of'),
    (dict(mode=[]), 'mode must be one or more of'),
    (dict(empty_class='nan'), 'empty_class must be one of'),
    (dict(num_classes=-2), 'num_classes must be'),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        MultiLabelAP(**kwargs)


def test_bad_data_samples():
    wide = DataSample().set_pred_score(torch.rand(4)).set_gt_label([1])
    with pytest.raises(ValueError, match=r"4 classes but dataset_meta\["):
        _evaluate(dict(type='MultiLabelAP'), [wide])
    nan = DataSample().set_pred_score(torch.tensor([0.1,
                                                    float('nan'),
                                                    0.2])).set_gt_label([1])
    with pytest.raises(ValueError, match='NaN or inf'):
        _evaluate(dict(type='MultiLabelAP'), [nan])
    with pytest.raises(ValueError, match='no data sample'):
        MultiLabelAP().compute_metrics([])
