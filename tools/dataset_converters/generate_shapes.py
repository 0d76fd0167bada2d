"""Draw a small multi-label dataset of coloured shapes for the quick start.

Each RGB image (default 128 x 128) shows 1-3 small shapes of distinct
classes (each shape's bounding box is 14-26 px wide, a few percent of the
image, so a glimpse that lands on it sees much more of it than the whole
image does) on a dark, noisy background. Eight classes, each a shape with
its own colour (jittered; ``--random-colours`` gives every object a random
colour instead, so only the shape tells the class):

    circle, square, triangle, cross, star, diamond, ring, hexagon

Output, in mmpretrain's multi-label json layout (read by
``MultiLabelDataset`` or ``CheckedMultiLabelDataset`` with
``data_prefix='images'``)::

    <out-dir>/train.json, val.json   {"metainfo": {"classes": [...]},
                                      "data_list": [{"img_path":
                                      "train/000000.jpg", "gt_label": [...]},
                                      ...]}
    <out-dir>/train_boxes.json, val_boxes.json
                                     {"metainfo": {"classes": [...],
                                      "box_format": "x1y1x2y2, pixels of the
                                      original image"}, "data_list":
                                      [{"img_path": ..., "gt_bboxes":
                                      [[x1, y1, x2, y2], ...],
                                      "gt_bbox_labels": [...]}, ...]}
    <out-dir>/images/{train,val}/<n>.jpg

The boxes (pixels) are not used for training; they let analysis tools check
where glimpses land, so they sit in their own file (:func:`load_boxes`). In
the dataset json, lists under ``gt_bboxes`` would reach mmcv's transforms,
which expect numpy arrays there: mmpretrain's ``RandomFlip`` stopped with
``'list' object has no attribute 'shape'`` on an image whose ``Resize`` had
not turned them into an array first. The dataset json is therefore exactly
mmpretrain's multi-label format (``img_path`` + ``gt_label``).

Seeded and deterministic; numpy and PIL only; a few seconds for the default
300 train / 100 val images.

    python tools/dataset_converters/generate_shapes.py   # -> data/shapes
"""
import argparse
import json
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import numpy as np
from PIL import Image, ImageDraw

BOX_FORMAT = 'x1y1x2y2, pixels of the original image'
CLASSES = ('circle', 'square', 'triangle', 'cross', 'star', 'diamond',
           'ring', 'hexagon')
#: RGB colour of each class (jittered per object)
COLOURS = ((230, 60, 50), (60, 200, 70), (70, 110, 240), (235, 215, 60),
           (215, 70, 215), (60, 215, 225), (245, 145, 40), (235, 235, 235))
DEFAULT_OUT = Path(__file__).resolve().parents[2] / 'data' / 'shapes'


def _regular_polygon(cx: float, cy: float, radius: float, n: int,
                     phase: float) -> List[Tuple[float, float]]:
    angles = phase + 2 * np.pi * np.arange(n) / n
    return list(zip(cx + radius * np.cos(angles),
                    cy + radius * np.sin(angles)))


def draw_shape(draw: ImageDraw.ImageDraw, name: str, box: Tuple[float, ...],
               colour: Tuple[int, int, int]) -> None:
    """Draw one shape filling ``box = (x1, y1, x2, y2)``."""
    x1, y1, x2, y2 = box
    cx, cy, r = (x1 + x2) / 2, (y1 + y2) / 2, (x2 - x1) / 2
    if name == 'circle':
        draw.ellipse(box, fill=colour)
    elif name == 'square':
        draw.rectangle(box, fill=colour)
    elif name == 'triangle':
        draw.polygon([(cx, y1), (x2, y2), (x1, y2)], fill=colour)
    elif name == 'cross':
        t = r / 3
        draw.rectangle((cx - t, y1, cx + t, y2), fill=colour)
        draw.rectangle((x1, cy - t, x2, cy + t), fill=colour)
    elif name == 'star':
        outer = _regular_polygon(cx, cy, r, 5, -np.pi / 2)
        inner = _regular_polygon(cx, cy, r * 0.45, 5, -np.pi / 2 + np.pi / 5)
        draw.polygon([p for pair in zip(outer, inner) for p in pair],
                     fill=colour)
    elif name == 'diamond':  # narrower than tall, unlike a turned square
        draw.polygon([(cx, y1), (cx + 0.6 * r, cy), (cx, y2),
                      (cx - 0.6 * r, cy)], fill=colour)
    elif name == 'ring':
        draw.ellipse(box, outline=colour, width=max(2, int(r / 3)))
    elif name == 'hexagon':
        draw.polygon(_regular_polygon(cx, cy, r, 6, 0.0), fill=colour)
    else:
        raise ValueError(f'unknown shape {name!r}')


def _place(rng: np.random.Generator, sizes: List[int], image_size: int,
           margin: int = 2, tries: int = 100) -> List[Tuple[int, ...]]:
    """Non-overlapping boxes of the given sizes (rejection sampling)."""
    boxes = []
    for s in sizes:
        for _ in range(tries):
            x1, y1 = rng.integers(margin, image_size - s - margin, size=2)
            box = (int(x1), int(y1), int(x1 + s), int(y1 + s))
            if all(box[2] + margin <= b[0] or b[2] + margin <= box[0]
                   or box[3] + margin <= b[1] or b[3] + margin <= box[1]
                   for b in boxes):
                boxes.append(box)
                break
        else:
            raise RuntimeError('could not place the shapes without overlap; '
                               'use a larger --size or smaller shapes')
    return boxes


def make_image(rng: np.random.Generator, size: int, max_objects: int,
               min_obj: int, max_obj: int, random_colours: bool
               ) -> Tuple[Image.Image, List[int], List[Tuple[int, ...]]]:
    """One image, its sorted labels, and one box per label (same order)."""
    base = rng.integers(0, 60, size=3)
    noise = rng.normal(0.0, 10.0, size=(size, size, 3))
    pixels = np.clip(base + noise, 0, 255).astype(np.uint8)
    image = Image.fromarray(pixels, 'RGB')
    draw = ImageDraw.Draw(image)

    n = int(rng.integers(1, max_objects + 1))
    labels = sorted(rng.choice(len(CLASSES), size=n, replace=False).tolist())
    sizes = rng.integers(min_obj, max_obj + 1, size=n).tolist()
    boxes = _place(rng, sizes, size)
    for label, box in zip(labels, boxes):
        if random_colours:
            colour = rng.integers(70, 256, size=3)
        else:
            colour = np.clip(
                np.array(COLOURS[label]) + rng.integers(-20, 21, size=3), 0,
                255)
        draw_shape(draw, CLASSES[label], box, tuple(int(c) for c in colour))
    return image, labels, boxes


def generate(out_dir: Optional[str] = None,
             num_train: int = 300,
             num_val: int = 100,
             size: int = 128,
             seed: int = 0,
             max_objects: int = 3,
             min_obj: int = 14,
             max_obj: int = 26,
             random_colours: bool = False) -> dict:
    """Write the images and the two json files.

    Args:
        out_dir: output folder (default ``<repo>/data/shapes``).
        num_train, num_val: images per split.
        size: image side in pixels.
        seed: the whole dataset is a function of it.
        max_objects: 1..max_objects shapes (distinct classes) per image.
        min_obj, max_obj: range of the shapes' box side in pixels.
        random_colours: random colour per object instead of per class.

    Returns:
        dict ``{'train': n, 'val': n, 'out_dir': str}``.
    """
    if not 1 <= max_objects <= len(CLASSES):
        raise ValueError(f'max_objects must be in 1..{len(CLASSES)}')
    if not 4 <= min_obj <= max_obj < size // 2:
        raise ValueError('need 4 <= min_obj <= max_obj < size / 2')
    out = Path(out_dir) if out_dir else DEFAULT_OUT
    counts = {}
    for split_id, (split, num) in enumerate((('train', num_train),
                                             ('val', num_val))):
        rng = np.random.default_rng([seed, split_id])
        img_dir = out / 'images' / split
        img_dir.mkdir(parents=True, exist_ok=True)
        data_list, box_list = [], []
        for i in range(num):
            image, labels, boxes = make_image(rng, size, max_objects,
                                              min_obj, max_obj,
                                              random_colours)
            rel = f'{split}/{i:06d}.jpg'
            image.save(out / 'images' / rel, quality=95)
            data_list.append(dict(img_path=rel, gt_label=labels))
            box_list.append(
                dict(img_path=rel, gt_bboxes=[list(b) for b in boxes],
                     gt_bbox_labels=labels))
        with open(out / f'{split}.json', 'w') as f:
            json.dump(dict(metainfo=dict(classes=list(CLASSES)),
                           data_list=data_list), f)
        with open(out / f'{split}_boxes.json', 'w') as f:
            json.dump(dict(metainfo=dict(classes=list(CLASSES),
                                         box_format=BOX_FORMAT),
                           data_list=box_list), f)
        counts[split] = num
    counts['out_dir'] = str(out)
    return counts


def load_boxes(out_dir: str, split: str) -> Dict[str, Dict[str, np.ndarray]]:
    """The boxes of one split, as mmcv's transforms hold them.

    Args:
        out_dir: the generator's output folder.
        split: ``'train'`` or ``'val'``.

    Returns:
        ``{img_path: {'gt_bboxes': (N, 4) float32 x1y1x2y2 pixels,
        'gt_bbox_labels': (N,) int64}}``.
    """
    path = Path(out_dir) / f'{split}_boxes.json'
    if not path.is_file():
        raise FileNotFoundError(
            f'{path} not found: generate the data again with '
            'tools/dataset_converters/generate_shapes.py (boxes are written '
            'beside the dataset json)')
    with open(path) as f:
        items = json.load(f)['data_list']
    return {
        item['img_path']: dict(
            gt_bboxes=np.asarray(item['gt_bboxes'],
                                 dtype=np.float32).reshape(-1, 4),
            gt_bbox_labels=np.asarray(item['gt_bbox_labels'],
                                      dtype=np.int64))
        for item in items
    }


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        description='Draw the quick-start multi-label shapes dataset',
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__)
    parser.add_argument('--out-dir', default=str(DEFAULT_OUT))
    parser.add_argument('--num-train', type=int, default=300)
    parser.add_argument('--num-val', type=int, default=100)
    parser.add_argument('--size', type=int, default=128)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--max-objects', type=int, default=3)
    parser.add_argument('--min-obj', type=int, default=14)
    parser.add_argument('--max-obj', type=int, default=26)
    parser.add_argument('--random-colours', action='store_true')
    args = parser.parse_args(argv)
    c = generate(args.out_dir, args.num_train, args.num_val, args.size,
                 args.seed, args.max_objects, args.min_obj, args.max_obj,
                 args.random_colours)
    print(f"wrote {c['train']} train and {c['val']} val images to "
          f"{c['out_dir']}")


if __name__ == '__main__':
    main()
