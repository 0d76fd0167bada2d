"""Multi-label prediction for one image, printed as a table.

    python demo/image_demo.py IMAGE CONFIG CHECKPOINT \\
        [--thr 0.5 | --class-thr thr.json] [--topk 3] \\
        [--show-glimpses out.png] [--device cuda:0]

Rules (:class:`marl_mm.apis.MultiLabelInferencer`): ``--thr`` alone keeps
the labels with probability ``>= thr`` (default 0.5); ``--topk`` alone the k
highest; both the k highest of those ``>= thr``; ``--class-thr`` a threshold
per class from a JSON ``{class: thr}`` or TXT ``<class> <thr>`` file.
``--show-glimpses`` draws the RARL regions / RARNN attention (or only the
labels for a GAP model) on the image and saves a PNG.
"""
import argparse
import sys
from pathlib import Path
from typing import List, Optional

import mmcv


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Multi-label prediction for one image')
    parser.add_argument('image', help='image file')
    parser.add_argument('config', help='config file or config name')
    parser.add_argument('checkpoint', help='checkpoint file')
    rule = parser.add_mutually_exclusive_group()
    rule.add_argument('--thr', type=float, default=None,
                      help='probability threshold (default 0.5 unless '
                      '--topk or --class-thr is given)')
    rule.add_argument('--class-thr', default=None,
                      help='per-class thresholds, JSON or TXT file')
    parser.add_argument('--topk', type=int, default=None,
                        help='keep at most this many labels')
    parser.add_argument('--show-glimpses', default=None, metavar='OUT.png',
                        help='save the drawn glimpses to this PNG')
    parser.add_argument('--device', default='cpu', help='e.g. cuda:0')
    args = parser.parse_args(argv)
    if args.topk is not None and args.topk < 1:
        parser.error(f'--topk must be >= 1, got {args.topk}')
    if args.thr is not None and not 0. <= args.thr <= 1.:
        parser.error(f'--thr must be in [0, 1], got {args.thr}')
    if args.thr is None and args.topk is None and args.class_thr is None:
        args.thr = 0.5
    return args


def format_table(result: dict) -> str:
    """Every class, highest probability first; ``*`` marks the label set."""
    chosen = set(result['pred_class'])
    rows = sorted(result['scores'].items(), key=lambda kv: -kv[1])
    width = max(len('class'), *(len(name) for name, _ in rows))
    lines = [f'{"class":<{width}}  {"score":>6}  predicted',
             f'{"-" * width}  {"-" * 6}  ---------']
    for name, score in rows:
        lines.append(f'{name:<{width}}  {score:6.4f}  '
                     f'{"*" if name in chosen else ""}')
    return '\n'.join(lines)


def main(argv: Optional[List[str]] = None) -> dict:
    args = parse_args(argv)
    from marl_mm.apis import MultiLabelInferencer
    from marl_mm.visualization import GlimpseVisualizer

    inferencer = MultiLabelInferencer(args.config, pretrained=args.checkpoint,
                                      device=args.device, thr=args.thr,
                                      topk=args.topk,
                                      class_thr=args.class_thr)
    preds = inferencer(args.image, return_datasamples=True)
    result = inferencer.postprocess(preds, None)[0]
    print(f'{args.image}: {", ".join(result["pred_class"]) or "(no label)"}')
    print(format_table(result))
    if args.show_glimpses is not None:
        Path(args.show_glimpses).parent.mkdir(parents=True, exist_ok=True)
        image = mmcv.imread(args.image, channel_order='rgb')
        GlimpseVisualizer().visualize_cls(
            image, preds[0], classes=inferencer.classes, draw_gt=False,
            out_file=args.show_glimpses)
        print(f'glimpses saved to {args.show_glimpses}')
    return result


if __name__ == '__main__':
    main(sys.argv[1:])
