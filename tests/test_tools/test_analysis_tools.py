"""eval_metric.py and plot_per_class_ap.py on prediction files built here,
checked against sklearn (AP, precision, recall) and a hand 11-point AP."""
import sys
from pathlib import Path

import mmengine
import numpy as np
import pytest
import torch
from PIL import Image
from sklearn.metrics import (average_precision_score, precision_recall_curve,
                             precision_score, recall_score)
from tests_conftest import load_tool

REPO_ROOT = Path(__file__).resolve().parents[2]
TOOL_DIR = REPO_ROOT / 'tools' / 'analysis_tools'


sys.path.insert(0, str(TOOL_DIR))  # plot_per_class_ap imports eval_metric
eval_tool = load_tool(TOOL_DIR / 'eval_metric.py')
plot_tool = load_tool(TOOL_DIR / 'plot_per_class_ap.py')


def _make_predictions(num_images, num_classes, seed, difficult=False):
    """DumpResults-like dicts; scores correlated with the labels, no ties."""
    rng = np.random.default_rng(seed)
    target = rng.random((num_images, num_classes)) < 0.15
    target[np.arange(num_images), rng.integers(0, num_classes,
                                               num_images)] = True
    scores = rng.random((num_images, num_classes)) * 0.7 + 0.3 * target
    hard = (rng.random((num_images, num_classes)) < 0.1) & ~target \
        if difficult else np.zeros_like(target)
    preds = []
    for i in range(num_images):
        p = dict(pred_score=torch.tensor(scores[i], dtype=torch.float32),
                 gt_label=torch.tensor(np.flatnonzero(target[i])),
                 sample_idx=i)
        if difficult:
            p['gt_label_difficult'] = np.flatnonzero(hard[i]).tolist()
        preds.append(p)
    # the tool reads float32 scores back, as the test dumps them
    return preds, scores.astype(np.float32).astype(np.float64), target, hard


def _ref_topk_thr(scores, topk, thr):
    """Label sets written per image, independently of the tool."""
    out = np.zeros(scores.shape, dtype=bool)
    for i, row in enumerate(scores):
        best = sorted(range(len(row)), key=lambda c: -row[c])[:topk]
        for c in best:
            out[i, c] = row[c] >= thr
    return out


def test_coco_protocol_against_sklearn(tmp_path):
    classes = eval_tool.COCO_CLASSES
    preds, scores, target, _ = _make_predictions(60, len(classes), seed=0)
    pkl = tmp_path / 'preds.pkl'
    mmengine.dump(preds, str(pkl))
    result = eval_tool.main([str(pkl), '--protocol', 'coco', '--json',
                             str(tmp_path / 'r.json')])

    pred_bin = _ref_topk_thr(scores, 3, 0.1)
    rows = {r['name']: r for r in result['per_class']}
    ref_ap = []
    for c, name in enumerate(classes):
        ap = average_precision_score(target[:, c], scores[:, c])
        ref_ap.append(ap)
        assert rows[name]['ap'] == pytest.approx(ap, abs=1e-9), name
        assert rows[name]['precision'] == pytest.approx(
            precision_score(target[:, c], pred_bin[:, c], zero_division=0))
        assert rows[name]['recall'] == pytest.approx(
            recall_score(target[:, c], pred_bin[:, c], zero_division=0))
        assert rows[name]['positives'] == target[:, c].sum()
    metrics = result['metrics']
    assert metrics['multi-label/mAP_noninterp'] == pytest.approx(
        100 * np.mean(ref_ap))
    assert metrics['multi-label/OP'] == pytest.approx(
        100 * precision_score(target.ravel(), pred_bin.ravel()))
    assert metrics['multi-label/OR'] == pytest.approx(
        100 * recall_score(target.ravel(), pred_bin.ravel()))
    # RARNN's six small objects of COCO
    small = result['small_objects']
    idx = [classes.index(n) for n in
           ('bottle', 'cell phone', 'bowl', 'fork', 'knife', 'mouse')]
    assert small['ap'] == pytest.approx(np.mean([ref_ap[c] for c in idx]))
    saved = mmengine.load(str(tmp_path / 'r.json'))
    assert saved['small_objects']['ap'] == pytest.approx(small['ap'])


def _ref_voc07_ap(y, s):
    """VOC2007 11-point AP from sklearn's precision/recall curve."""
    precision, recall, _ = precision_recall_curve(y, s)
    # sklearn appends the point (recall 0, precision 1), not a real ranking
    precision, recall = precision[:-1], recall[:-1]
    return np.mean([
        precision[recall >= t].max() if (recall >= t).any() else 0.0
        for t in [k / 10 for k in range(11)]  # linspace gives 0.6000...1
    ])


def test_voc07_protocol_ignores_difficult(tmp_path):
    preds, scores, target, hard = _make_predictions(50, 20, seed=1,
                                                    difficult=True)
    pkl = tmp_path / 'voc.pkl'
    mmengine.dump(preds, str(pkl))
    result = eval_tool.main([str(pkl), '--protocol', 'voc07'])
    ref = []
    for c in range(20):
        keep = ~hard[:, c]  # difficult-only labels leave the ranking
        ref.append(_ref_voc07_ap(target[keep, c], scores[keep, c]))
        assert result['per_class'][c]['ap'] == pytest.approx(ref[-1])
    assert result['per_class'][0]['name'] == 'aeroplane'
    assert result['small_objects'] is None
    assert result['metrics']['multi-label/mAP_voc07'] == \
        pytest.approx(100 * np.mean(ref))


def test_config_protocol_and_custom_classes(tmp_path):
    preds, scores, target, _ = _make_predictions(30, 8, seed=2)
    pkl = tmp_path / 'shapes.pkl'
    mmengine.dump(preds, str(pkl))
    names = [f'shape{c}' for c in range(8)]
    result = eval_tool.main([
        str(pkl), '--config',
        str(REPO_ROOT / 'configs' / 'resnet18_gap_shapes.py'), '--classes',
        ','.join(names), '--small', 'shape1,shape4'
    ])
    ref_ap = [average_precision_score(target[:, c], scores[:, c])
              for c in range(8)]
    assert [r['name'] for r in result['per_class']] == names
    assert result['settings']['topk'] == 3 and result['settings']['thr'] \
        == 0.1
    assert result['small_objects']['ap'] == pytest.approx(
        (ref_ap[1] + ref_ap[4]) / 2)
    assert result['metrics']['multi-label/mAP_noninterp'] == pytest.approx(
        100 * np.mean(ref_ap))


def test_bad_inputs(tmp_path):
    with pytest.raises(FileNotFoundError, match='missing.pkl'):
        eval_tool.main([str(tmp_path / 'missing.pkl'), '--protocol', 'coco'])
    preds, *_ = _make_predictions(10, 8, seed=3)
    pkl = tmp_path / 'p.pkl'
    mmengine.dump(preds, str(pkl))
    with pytest.raises(ValueError, match='3 classes but'):
        eval_tool.main([str(pkl), '--protocol', 'nuswide', '--classes',
                        'a,b,c'])
    mmengine.dump([dict(gt_label=[0])], str(pkl))
    with pytest.raises(ValueError, match='no pred_score'):
        eval_tool.main([str(pkl), '--protocol', 'nuswide'])


def test_plot_per_class_ap(tmp_path):
    preds_a, scores, target, _ = _make_predictions(40, 20, seed=4)
    preds_b, scores_b, _, _ = _make_predictions(40, 20, seed=5)
    for p, q in zip(preds_b, preds_a):  # same images, other scores
        p['gt_label'] = q['gt_label']
    mmengine.dump(preds_a, str(tmp_path / 'a.pkl'))
    mmengine.dump(preds_b, str(tmp_path / 'b.pkl'))
    out = tmp_path / 'plots' / 'ap.png'
    plot_tool.main([str(tmp_path / 'a.pkl'), str(tmp_path / 'b.pkl'),
                    '--out', str(out), '--protocol', 'voc07', '--mode',
                    'noninterp', '--dpi', '50'])
    width, height = plot_tool.figure_size(20)
    assert Image.open(out).size == (int(width * 50), int(height * 50))
    ap_b = plot_tool.per_class_ap(str(tmp_path / 'b.pkl'), 'noninterp')
    ref_b = [average_precision_score(target[:, c], scores_b[:, c])
             for c in range(20)]
    np.testing.assert_allclose(ap_b, ref_b, atol=1e-9)
    with pytest.raises(ValueError, match='share classes'):
        plot_tool.plot(np.zeros(3), np.zeros(4), str(tmp_path / 'x.png'))


def test_reads_what_dump_results_writes(tmp_path):
    """The pickle format of tools/test.py --out (mmengine's DumpResults on
    DataSamples with the preprocessor's multi-hot gt_score)."""
    from mmengine.evaluator import DumpResults
    from mmpretrain.structures import DataSample
    _, scores, target, _ = _make_predictions(20, 8, seed=6)
    pkl = tmp_path / 'dump.pkl'
    dump = DumpResults(out_file_path=str(pkl))
    samples = [
        DataSample().set_gt_label(np.flatnonzero(t).tolist()).set_gt_score(
            torch.tensor(t, dtype=torch.float32)).set_pred_score(
                torch.tensor(s, dtype=torch.float32)).to_dict()
        for s, t in zip(scores, target)
    ]
    dump.process(None, samples)
    dump.compute_metrics(dump.results)
    result = eval_tool.main([str(pkl), '--protocol', 'espgame', '--classes',
                             ','.join('abcdefgh')])
    ref = [average_precision_score(target[:, c], scores[:, c])
           for c in range(8)]
    np.testing.assert_allclose([r['ap'] for r in result['per_class']], ref,
                               atol=1e-6)


def test_refuses_a_malicious_pickle_without_running_it(tmp_path):
    """A predictions file with a ``__reduce__`` payload stops with an error
    naming the file; the payload never runs."""
    import os
    import pickle

    from marl_mm.utils.restricted_unpickler import UnsafePickleError

    marker = tmp_path / 'pwned'

    class Payload:

        def __reduce__(self):
            return os.system, (f'touch {marker}', )

    pkl = tmp_path / 'preds.pkl'
    pkl.write_bytes(pickle.dumps(
        [dict(pred_score=torch.zeros(3), gt_label=torch.tensor([1]),
              extra=Payload())], protocol=2))
    with pytest.raises(UnsafePickleError, match='preds.pkl'):
        eval_tool.main([str(pkl), '--protocol', 'nuswide'])
    assert not marker.exists()
