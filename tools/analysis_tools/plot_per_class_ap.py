"""Per-class AP of two prediction files, side by side.

``python tools/analysis_tools/plot_per_class_ap.py A.pkl B.pkl --out ap.png
[--labels RARL GAP] [--protocol voc07|coco|... | --mode noninterp|area|
voc07_11point] [--classes FILE|a,b,c] [--dpi 100]``

Both files are ``tools/test.py --out`` pickles of the same test set. AP is
computed by :func:`marl_mm.evaluation.metrics.functional.average_precision`
(the ground truth read as the metric classes read it, see
``eval_metric.py``); the bars are drawn with matplotlib's Agg backend (no
display needed). The image is ``max(8, 0.3 * D) x 5`` inches at ``--dpi``,
so its pixel size is known in advance.
"""
import argparse
import os
import os.path as osp
import sys
from typing import Optional, Sequence

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from eval_metric import (PROTOCOLS, _parse_names, load_predictions,  # noqa
                         scores_and_targets)
from marl_mm.evaluation.metrics.functional import (AP_MODES,  # noqa: E402
                                                   average_precision)


def figure_size(num_classes: int) -> tuple:
    """``(width, height)`` in inches of the plot for ``num_classes`` bars."""
    return max(8.0, 0.3 * num_classes), 5.0


def per_class_ap(path: str, mode: str) -> np.ndarray:
    """``(D,)`` AP of the predictions in ``path``."""
    scores, target = scores_and_targets(load_predictions(path))
    return average_precision(scores, target, mode=mode)


def plot(ap_a: np.ndarray,
         ap_b: np.ndarray,
         out: str,
         labels: Sequence[str] = ('A', 'B'),
         classes: Optional[Sequence[str]] = None,
         dpi: int = 100) -> str:
    """Draw two bars per class (AP in percent) and save a PNG.

    Returns:
        The path written.
    """
    if ap_a.shape != ap_b.shape:
        raise ValueError(f'the two files have {ap_a.shape[0]} and '
                         f'{ap_b.shape[0]} classes; they must share classes')
    num_classes = ap_a.shape[0]
    classes = classes or [str(c) for c in range(num_classes)]
    if len(classes) != num_classes:
        raise ValueError(f'{len(classes)} class names for {num_classes} '
                         'classes')
    fig, ax = plt.subplots(figsize=figure_size(num_classes), dpi=dpi)
    x = np.arange(num_classes)
    for shift, ap, label in ((-0.2, ap_a, labels[0]), (0.2, ap_b, labels[1])):
        ax.bar(x + shift, 100 * ap, width=0.4,
               label=f'{label} (mAP {100 * np.nanmean(ap):.1f})')
    ax.set_xticks(x)
    ax.set_xticklabels(classes, rotation=90, fontsize=7)
    ax.set_ylabel('AP (%)')
    ax.set_ylim(0, 100)
    ax.legend(loc='upper right')
    fig.tight_layout()  # fits the labels inside the fixed canvas
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    fig.savefig(out, dpi=dpi)
    plt.close(fig)
    return out


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Per-class AP of two prediction files, side by side')
    parser.add_argument('pkl_a')
    parser.add_argument('pkl_b')
    parser.add_argument('--out', required=True, help='PNG to write')
    parser.add_argument('--labels', nargs=2, default=None,
                        help='legend names (default: the file names)')
    parser.add_argument('--protocol', choices=sorted(PROTOCOLS),
                        help='AP mode and class names of a preset protocol')
    parser.add_argument('--mode', choices=AP_MODES,
                        help='AP mode (overrides --protocol; default '
                        'noninterp)')
    parser.add_argument('--classes', help='class names: file or comma list')
    parser.add_argument('--dpi', type=int, default=100)
    return parser.parse_args(argv)


def main(argv=None) -> str:
    args = parse_args(argv)
    mode, classes = 'noninterp', None
    if args.protocol:
        preset = PROTOCOLS[args.protocol]
        classes = preset['classes']
        for m in preset['metrics']:
            if m['type'] == 'MultiLabelAP':
                mode = m['mode']
    mode = args.mode or mode
    if args.classes:
        classes = _parse_names(args.classes)
    ap_a = per_class_ap(args.pkl_a, mode)
    ap_b = per_class_ap(args.pkl_b, mode)
    if classes is not None and len(classes) != ap_a.shape[0] \
            and not args.classes:
        classes = None  # a preset for another class set: show indices
    labels = args.labels or [osp.basename(args.pkl_a),
                             osp.basename(args.pkl_b)]
    out = plot(ap_a, ap_b, args.out, labels, classes, args.dpi)
    print(f'per-class AP ({mode}) written to {out}')
    return out


if __name__ == '__main__':
    main()
