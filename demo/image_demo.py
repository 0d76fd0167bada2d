"""Multi-label prediction for images, printed as one table per image.

    python demo/image_demo.py IMAGE|FOLDER [IMAGE|FOLDER ...] CONFIG \\
        CHECKPOINT [--thr 0.5 | --class-thr thr.json] [--topk 3] \\
        [--show-glimpses OUT] [--skip-bad] [--debug] [--device cuda:0]

Every image is predicted and printed under its own file name (a folder
stands for its image files, sorted by name). Rules
(:class:`marl_mm.apis.MultiLabelInferencer`): ``--thr`` alone keeps the
labels with probability ``>= thr`` (default 0.5); ``--topk`` alone the k
highest; both the k highest of those ``>= thr``; ``--class-thr`` a threshold
per class from a JSON ``{class: thr}`` or TXT ``<class> <thr>`` file.
``--show-glimpses`` draws the RARL regions / RARNN attention (or only the
labels for a GAP model) on the image: a PNG path for one image, a folder
(``<image stem>.png`` each) for several.

A file that cannot be read stops the run with one line naming it, unless
``--skip-bad``: then it is reported (``skipped FILE: why``) and the others
go on. User errors (a config, checkpoint or image path that does not exist,
an unreadable image) print one ``error:`` line with the fix and exit with
status 1; ``--debug`` shows the traceback instead.
"""
import argparse
import sys
from pathlib import Path
from typing import List, Optional

import mmcv

#: exit status of a run stopped by a user error
USER_ERROR = 1


class UserError(Exception):
    """An error the user fixes (a path, a file): printed as one line."""


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Multi-label prediction for images')
    parser.add_argument('images', nargs='+',
                        help='image files and / or folders of images')
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
    parser.add_argument('--show-glimpses', default=None, metavar='OUT',
                        help='save the drawn glimpses: a PNG path for one '
                        'image, a folder for several')
    parser.add_argument('--skip-bad', action='store_true',
                        help='report unreadable images by name and go on '
                        'with the others (default: stop at the first)')
    parser.add_argument('--debug', action='store_true',
                        help='show the full traceback of an error')
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


def collect_images(inputs: List[str]) -> List[str]:
    """The image files named by ``inputs``: files as given, folders as
    their image files sorted by name (``IMG_EXTENSIONS`` of the
    inferencer).

    Raises:
        UserError: a path that does not exist, or a folder without images.
    """
    from marl_mm.apis.multi_label_inferencer import IMG_EXTENSIONS
    files = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            found = sorted(str(p) for p in path.iterdir()
                           if p.suffix.lower() in IMG_EXTENSIONS)
            if not found:
                raise UserError(
                    f'folder {item} has no image files '
                    f'({", ".join(IMG_EXTENSIONS)}); give a folder of '
                    'images or image files')
            files += found
        elif path.is_file():
            files.append(item)
        else:
            raise UserError(f'image {item} not found; check the path (a '
                            'file or a folder of images)')
    return files


def build_inferencer(args: argparse.Namespace):
    """The inferencer, with path errors turned into :class:`UserError`."""
    from marl_mm.apis import MultiLabelInferencer
    config = args.config
    if (config.endswith('.py') or '/' in config) and \
            not Path(config).is_file():
        raise UserError(f'config file {config} not found; check the path, '
                        'or give a config name (e.g. rarl_resnet18_shapes; '
                        'MultiLabelInferencer.list_models() lists them)')
    if not Path(args.checkpoint).is_file():
        raise UserError(f'checkpoint {args.checkpoint} not found; check the '
                        'path (tools/train.py writes work_dirs/<config>/'
                        'epoch_<n>.pth)')
    try:
        return MultiLabelInferencer(
            config, pretrained=args.checkpoint, device=args.device,
            thr=args.thr, topk=args.topk, class_thr=args.class_thr)
    except ValueError as err:  # unknown config name, threshold file
        raise UserError(str(err)) from err


def readable(inferencer, files: List[str], skip_bad: bool) -> List[str]:
    """The files the config's image loader reads (the inferencer's own
    loader, so the checks of ``CheckedLoadImageFromFile`` apply);
    unreadable ones are reported on stderr and left out with ``skip_bad``,
    else a :class:`UserError` naming the file stops the run."""
    good = []
    for path in files:
        try:
            if inferencer._loader(dict(img_path=path)) is None:
                raise ValueError(f'image file {path} could not be loaded')
        except Exception as err:  # decoders raise many types
            why = f'{type(err).__name__}: {err}'
            if not skip_bad:
                raise UserError(
                    f'cannot read image {path} ({why}); repair or remove '
                    'it, or pass --skip-bad to skip unreadable images') \
                    from err
            print(f'skipped {path}: {why}', file=sys.stderr)
            continue
        good.append(path)
    return good


def run(args: argparse.Namespace) -> List[dict]:
    """Predict, print and draw; see the module docstring."""
    files = collect_images(args.images)
    inferencer = build_inferencer(args)
    good = readable(inferencer, files, args.skip_bad)
    preds = inferencer(good, return_datasamples=True) if good else []
    done = [(path, pred, inferencer.postprocess([pred], None)[0])
            for path, pred in zip(good, preds)]
    if args.show_glimpses is not None:
        from marl_mm.apis import output_names
        from marl_mm.visualization import GlimpseVisualizer
        visualizer = GlimpseVisualizer()
        single = len(files) == 1
        out_dir = Path(args.show_glimpses if not single else
                       Path(args.show_glimpses).parent)
        out_dir.mkdir(parents=True, exist_ok=True)
        names = dict(zip(files, output_names(files)))
    results = []
    for path, pred, result in done:
        result['input'] = path
        print()  # ends the progress bar's line; one block per image
        print(f'{path}: {", ".join(result["pred_class"]) or "(no label)"}')
        print(format_table(result))
        if args.show_glimpses is not None:
            out_file = (args.show_glimpses if single else
                        str(out_dir / f'{names[path]}.png'))
            image = mmcv.imread(path, channel_order='rgb')
            visualizer.visualize_cls(
                image, pred, classes=inferencer.classes, draw_gt=False,
                out_file=out_file)
            print(f'glimpses saved to {out_file}')
        results.append(result)
    skipped = len(files) - len(done)
    if skipped:
        print(f'{len(done)} of {len(files)} images predicted, {skipped} '
              'skipped (listed above on stderr)')
    return results


def main(argv: Optional[List[str]] = None) -> List[dict]:
    """Run the demo; returns one result dict per predicted image (see
    :meth:`MultiLabelInferencer.postprocess`; ``input`` is the file).

    A user error prints one line on stderr and raises ``SystemExit(1)``
    (with ``--debug``: the original exception).
    """
    args = parse_args(argv)
    try:
        return run(args)
    except UserError as err:
        if args.debug:
            raise
        print(f'error: {err} (--debug shows the traceback)', file=sys.stderr)
        raise SystemExit(USER_ERROR) from None


if __name__ == '__main__':
    main(sys.argv[1:])
