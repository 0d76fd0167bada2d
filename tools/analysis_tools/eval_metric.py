"""Evaluate saved predictions without a model.

``python tools/analysis_tools/eval_metric.py PKL (--config CFG | --protocol
voc07|coco|coco_rarnn|nuswide|espgame) [--classes FILE|a,b,c] [--json OUT]``

``PKL`` is what ``tools/test.py CONFIG CKPT --out PKL`` writes (mmengine's
``DumpResults``: one dict per test image with ``pred_score`` and
``gt_label`` / ``gt_score``, and ``gt_label_difficult`` for VOC). The
metrics are computed as the test run would:

* the headline figures by marl_mm's own metric classes
  (:class:`MultiLabelAP`, :class:`MultiLabelTopKMetric`) run through
  mmengine's ``Evaluator.offline_evaluate`` (not re-implemented here), with
  the ``test_evaluator`` of ``--config`` or the preset of ``--protocol``;
* a per-class table (precision, recall, F1 at the protocol's top-k /
  threshold, AP in the protocol's mode, number of positives) from the
  runner-free functions of :mod:`marl_mm.evaluation.metrics.functional`,
  plus the means over a small-object subset of classes (COCO default:
  bottle, cell phone, bowl, fork, knife, mouse, the small objects of the
  RARNN paper, Li et al. ACM MM 2018; ``--small`` names another subset).

The ground truth of each image is read exactly as the metric classes read
it (``gt_score``, else ``gt_label``; labels only in ``gt_label_difficult``
are ignored).

The pickle is loaded with :func:`marl_mm.utils.restricted_unpickler.
load_pickle_safe`: only the types ``DumpResults`` writes (dicts, lists,
basic values, tensors, numpy arrays); a file naming anything else is refused
with an error naming it, and none of its code runs.
"""
import argparse
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

import mmengine
import numpy as np
from mmengine.config import Config
from mmengine.evaluator import Evaluator
from mmpretrain.registry import METRICS

import marl_mm  # noqa: F401  (registers the metrics)
from marl_mm.evaluation.metrics import MultiLabelAP
from marl_mm.evaluation.metrics.functional import (average_precision,
                                                   multilabel_prf,
                                                   topk_thr_binarize)
from marl_mm.utils.restricted_unpickler import load_pickle_safe

#: the 80 COCO categories in the order of their category ids (the order of
#: COCOMultiLabel's classes for the official instances_*.json files)
COCO_CLASSES = (
    'person', 'bicycle', 'car', 'motorcycle', 'airplane', 'bus', 'train',
    'truck', 'boat', 'traffic light', 'fire hydrant', 'stop sign',
    'parking meter', 'bench', 'bird', 'cat', 'dog', 'horse', 'sheep', 'cow',
    'elephant', 'bear', 'zebra', 'giraffe', 'backpack', 'umbrella', 'handbag',
    'tie', 'suitcase', 'frisbee', 'skis', 'snowboard', 'sports ball', 'kite',
    'baseball bat', 'baseball glove', 'skateboard', 'surfboard',
    'tennis racket', 'bottle', 'wine glass', 'cup', 'fork', 'knife', 'spoon',
    'bowl', 'banana', 'apple', 'sandwich', 'orange', 'broccoli', 'carrot',
    'hot dog', 'pizza', 'donut', 'cake', 'chair', 'couch', 'potted plant',
    'bed', 'dining table', 'toilet', 'tv', 'laptop', 'mouse', 'remote',
    'keyboard', 'cell phone', 'microwave', 'oven', 'toaster', 'sink',
    'refrigerator', 'book', 'clock', 'vase', 'scissors', 'teddy bear',
    'hair drier', 'toothbrush')
VOC_CLASSES = ('aeroplane', 'bicycle', 'bird', 'boat', 'bottle', 'bus', 'car',
               'cat', 'chair', 'cow', 'diningtable', 'dog', 'horse',
               'motorbike', 'person', 'pottedplant', 'sheep', 'sofa', 'train',
               'tvmonitor')
#: RARNN paper (Li et al., ACM MM 2018), small objects of MS-COCO
COCO_SMALL_OBJECTS = ('bottle', 'cell phone', 'bowl', 'fork', 'knife',
                      'mouse')

#: the test protocols of configs/_base_/datasets (same metric settings)
PROTOCOLS: Dict[str, dict] = {
    'voc07': dict(
        metrics=[dict(type='MultiLabelAP', mode='voc07_11point')],
        classes=VOC_CLASSES, small=()),
    'coco': dict(  # RARL: top 3 above 0.1
        metrics=[dict(type='MultiLabelTopKMetric', topk=3, thr=0.1),
                 dict(type='MultiLabelAP', mode='noninterp')],
        classes=COCO_CLASSES, small=COCO_SMALL_OBJECTS),
    'coco_rarnn': dict(  # RARNN: top 3
        metrics=[dict(type='MultiLabelTopKMetric', topk=3),
                 dict(type='MultiLabelAP', mode='noninterp')],
        classes=COCO_CLASSES, small=COCO_SMALL_OBJECTS),
    'nuswide': dict(
        metrics=[dict(type='MultiLabelTopKMetric', topk=3),
                 dict(type='MultiLabelAP', mode='noninterp')],
        classes=None, small=()),
    'espgame': dict(
        metrics=[dict(type='MultiLabelTopKMetric', topk=5),
                 dict(type='MultiLabelAP', mode='noninterp')],
        classes=None, small=()),
}


def load_predictions(path: str) -> List[dict]:
    """The list of per-image dicts of a ``DumpResults`` pickle."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'predictions file not found: {path}')
    preds = load_pickle_safe(path)  # refuses code; UnsafePickleError
    if not isinstance(preds, (list, tuple)) or not preds:
        raise ValueError(f'{path}: expected a non-empty list of per-image '
                         f'predictions (tools/test.py --out), got '
                         f'{type(preds).__name__}')
    for i, p in enumerate(preds):
        if not isinstance(p, dict) or 'pred_score' not in p:
            raise ValueError(f'{path}: entry {i} has no pred_score (expected '
                             'the dicts that tools/test.py --out writes)')
    return list(preds)


def scores_and_targets(preds: Sequence[dict]) -> Tuple[np.ndarray,
                                                        np.ndarray]:
    """``(N, D)`` scores and {1, 0, -1} targets, read as the metrics do.

    Uses :class:`BaseMultiLabelMetric`'s ``process`` (gt_score / gt_label /
    gt_label_difficult), so the table and the headline figures agree.
    """
    collector = MultiLabelAP()
    collector.process(None, preds)
    return collector._stack_results(collector.results)


def _metric_settings(metrics: Sequence[dict]) -> Tuple[dict, str]:
    """``(topk/thr of the top-k metric or {}, AP mode)`` of a metric list."""
    binarise, mode = {}, 'noninterp'
    for m in metrics:
        if m.get('type') == 'MultiLabelTopKMetric':
            binarise = dict(topk=m.get('topk'), thr=m.get('thr'))
        elif m.get('type') == 'MultiLabelAP':
            mode = m.get('mode', mode)
    return binarise, mode


def per_class_table(scores: np.ndarray,
                    target: np.ndarray,
                    classes: Sequence[str],
                    topk: Optional[int] = None,
                    thr: Optional[float] = None,
                    ap_mode: str = 'noninterp') -> List[dict]:
    """One row per class: precision, recall, F1, AP (fractions), positives.

    Precision/recall/F1 are those of :func:`multilabel_prf` on the label sets
    of :func:`topk_thr_binarize` (``topk``/``thr``; when both are None, a
    threshold of 0.5, default chosen here as mmpretrain's
    ``MultiLabelMetric``).
    """
    if topk is None and thr is None:
        thr = 0.5
    prf = multilabel_prf(topk_thr_binarize(scores, topk, thr), target)
    ap = average_precision(scores, target, mode=ap_mode)
    return [
        dict(
            index=c,
            name=name,
            precision=float(prf['precision'][c]),
            recall=float(prf['recall'][c]),
            f1=float(prf['f1'][c]),
            ap=float(ap[c]),
            positives=int(prf['n_gt'][c]))
        for c, name in enumerate(classes)
    ]


def subset_summary(rows: Sequence[dict], names: Sequence[str]) -> dict:
    """Means of precision, recall, F1 and AP over the named classes."""
    by_name = {r['name']: r for r in rows}
    missing = [n for n in names if n not in by_name]
    if missing:
        raise ValueError(f'small-object subset: classes {missing} are not '
                         f'among the {len(rows)} classes '
                         f'({[r["name"] for r in rows[:5]]}...)')
    picked = [by_name[n] for n in names]
    return dict(
        classes=list(names),
        **{
            k: float(np.mean([r[k] for r in picked]))
            for k in ('precision', 'recall', 'f1', 'ap')
        })


def _classes_from_config(cfg: Config) -> Optional[Sequence[str]]:
    """Class names of the test dataset: built if its data is there, else the
    dataset class's METAINFO, else None."""
    from mmpretrain.registry import DATASETS
    ds_cfg = cfg.test_dataloader.dataset
    try:
        return list(DATASETS.build(ds_cfg).metainfo['classes'])
    except Exception:  # no data here: fall back to the class's own names
        cls = DATASETS.get(ds_cfg['type'])
        meta = getattr(cls, 'METAINFO', None) or {}
        return list(meta['classes']) if 'classes' in meta else None


def _parse_names(value: str) -> List[str]:
    """Names from a file (one a line) or a comma-separated list."""
    if osp.isfile(value):
        with open(value) as f:
            return [line.strip() for line in f if line.strip()]
    return [v.strip() for v in value.split(',') if v.strip()]


def evaluate(preds: Sequence[dict],
             metrics: Sequence[dict],
             classes: Optional[Sequence[str]] = None,
             small: Sequence[str] = ()) -> dict:
    """Headline metrics, per-class table and small-object summary.

    Args:
        preds: per-image dicts (``DumpResults``).
        metrics: metric configs (a ``test_evaluator``).
        classes: class names (``None``: ``class_<i>``).
        small: names of the small-object subset (may be empty).

    Returns:
        dict with ``metrics`` (Evaluator output), ``per_class`` rows,
        ``small_objects`` (or None) and ``settings``.
    """
    scores, target = scores_and_targets(preds)
    num_classes = scores.shape[1]
    if classes is None:
        classes = [f'class_{c}' for c in range(num_classes)]
    if len(classes) != num_classes:
        raise ValueError(f'{len(classes)} class names given but the '
                         f'predictions have {num_classes} classes')
    evaluator = Evaluator([METRICS.build(dict(m)) for m in metrics])
    evaluator.dataset_meta = dict(classes=tuple(classes))
    headline = evaluator.offline_evaluate(list(preds), chunk_size=len(preds))
    binarise, mode = _metric_settings(metrics)
    rows = per_class_table(scores, target, classes, ap_mode=mode, **binarise)
    small_rows = subset_summary(rows, small) if small else None
    return dict(
        metrics={k: float(v) for k, v in headline.items()},
        per_class=rows,
        small_objects=small_rows,
        settings=dict(num_images=int(scores.shape[0]),
                      num_classes=num_classes, ap_mode=mode, **binarise))


def format_table(result: dict) -> str:
    """The per-class table (percent) and the summaries as plain text."""
    rows = result['per_class']
    small = set(result['small_objects']['classes']) if result[
        'small_objects'] else set()
    width = max(12, max(len(r['name']) for r in rows) + 2)
    s = result['settings']
    lines = [f"{s['num_images']} images, {s['num_classes']} classes; "
             f"P/R/F1 at topk={s.get('topk')} thr={s.get('thr')}, "
             f"AP mode {s['ap_mode']}",
             f"{'class':<{width}}{'P':>8}{'R':>8}{'F1':>8}{'AP':>8}"
             f"{'#pos':>7}  small"]
    for r in rows:
        lines.append(
            f"{r['name']:<{width}}{100 * r['precision']:8.2f}"
            f"{100 * r['recall']:8.2f}{100 * r['f1']:8.2f}"
            f"{100 * r['ap']:8.2f}{r['positives']:7d}  "
            f"{'*' if r['name'] in small else ''}")
    if result['small_objects']:
        so = result['small_objects']
        lines.append(f"{'small mean':<{width}}{100 * so['precision']:8.2f}"
                     f"{100 * so['recall']:8.2f}{100 * so['f1']:8.2f}"
                     f"{100 * so['ap']:8.2f}")
    lines.append('')
    lines += [f'{k}: {v:.2f}' for k, v in result['metrics'].items()]
    return '\n'.join(lines)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Metrics and a per-class table from saved predictions')
    parser.add_argument('pkl', help='predictions (tools/test.py --out)')
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument('--config', help='take test_evaluator (and class '
                       'names) from this config')
    group.add_argument('--protocol', choices=sorted(PROTOCOLS),
                       help='a preset test protocol')
    parser.add_argument('--classes', help='class names: a file (one a line) '
                        'or a comma-separated list')
    parser.add_argument('--small', help='small-object subset (file or comma '
                        'list); default: the COCO six for COCO, none else; '
                        "'none' to turn it off")
    parser.add_argument('--json', help='also write the results to this file')
    return parser.parse_args(argv)


def main(argv=None) -> dict:
    args = parse_args(argv)
    preds = load_predictions(args.pkl)
    if args.config:
        cfg = Config.fromfile(args.config)
        metrics = cfg.test_evaluator
        metrics = [metrics] if isinstance(metrics, dict) else list(metrics)
        metrics = [m.to_dict() if hasattr(m, 'to_dict') else dict(m)
                   for m in metrics]
        classes = _classes_from_config(cfg)
        small = ()
        if classes is not None and set(COCO_SMALL_OBJECTS) <= set(classes):
            small = COCO_SMALL_OBJECTS
    else:
        preset = PROTOCOLS[args.protocol]
        metrics, classes, small = (preset['metrics'], preset['classes'],
                                   preset['small'])
    if args.classes:
        classes = _parse_names(args.classes)
    if args.small:
        small = () if args.small == 'none' else _parse_names(args.small)
    num_classes = np.asarray(preds[0]['pred_score']).shape[-1]
    if classes is not None and len(classes) != num_classes:
        if args.classes:
            raise ValueError(f'--classes names {len(classes)} classes but '
                             f'{args.pkl} has {num_classes}')
        classes, small = None, ()  # e.g. a preset for another class set
    result = evaluate(preds, metrics, classes, small)
    print(format_table(result))
    if args.json:
        mmengine.dump(result, args.json, indent=2)
    return result


if __name__ == '__main__':
    main()
