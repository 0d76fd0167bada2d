"""Draw the glimpses of a model on images, one PNG per image.

    python tools/visualization/vis_glimpses.py CONFIG CHECKPOINT \\
        IMAGE [IMAGE|FOLDER ...] --out-dir DIR [--thr 0.5] [--topk K] \\
        [--device cuda:0]

RARL: the k regions of every step (one colour per step), the path of the
locations and each step's top label; RARNN: one heat-map panel of ``A_t``
per candidate glimpse, non-emitted ones greyed out (see
:class:`marl_mm.visualization.GlimpseVisualizer`). ``DIR/<image stem>.png``
is written for each image, on the original image's pixels;
``DIR/<stem>_<index>.png`` for images that share a stem (``a/one.jpg`` and
``b/one.jpg``, ``<index>`` counting the images in order:
:func:`marl_mm.apis.output_names`).
"""
import argparse
import sys
from pathlib import Path
from typing import List, Optional


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Draw glimpses on images')
    parser.add_argument('config', help='config file or config name')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('images', nargs='+', help='image files or folders')
    parser.add_argument('--out-dir', required=True,
                        help='folder for the PNGs')
    parser.add_argument('--thr', type=float, default=None,
                        help='probability threshold of the printed labels '
                        '(default 0.5 unless --topk is given)')
    parser.add_argument('--topk', type=int, default=None,
                        help='at most this many printed labels')
    parser.add_argument('--batch-size', type=int, default=1)
    parser.add_argument('--device', default='cpu', help='e.g. cuda:0')
    args = parser.parse_args(argv)
    if args.thr is None and args.topk is None:
        args.thr = 0.5
    return args


def main(argv: Optional[List[str]] = None) -> List[str]:
    """Returns the written PNG paths."""
    args = parse_args(argv)
    from marl_mm.apis import MultiLabelInferencer, output_names

    inferencer = MultiLabelInferencer(args.config, pretrained=args.checkpoint,
                                      device=args.device, thr=args.thr,
                                      topk=args.topk)
    results = inferencer(args.images, batch_size=args.batch_size,
                         show_dir=args.out_dir)
    written = []
    names = output_names([result['input'] for result in results])
    for result, name in zip(results, names):
        written.append(str(Path(args.out_dir) / f'{name}.png'))
        print(f'{written[-1]}: {", ".join(result["pred_class"]) or "-"}')
    return written


if __name__ == '__main__':
    main(sys.argv[1:])
