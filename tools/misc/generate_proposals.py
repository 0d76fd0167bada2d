"""Offline object proposals for RARL's proposal ablation (Chen et al. AAAI
2018, Table 3: "the top 5 EdgeBox proposals after NMS 0.7", 88.6 mAP on VOC
2007, single view, N = 512).

EdgeBoxes needs a trained structured-edge model file that cannot be
downloaded here, so this tool is a documented STAND-IN (default chosen
here), with two methods:

* ``selective_search`` (used by ``--method auto`` when ``cv2.ximgproc``
  exists, i.e. opencv-contrib is installed; it is not a project
  requirement because it conflicts with mmcv's opencv-python): OpenCV's
  fast selective search, boxes kept in the order OpenCV ranks them.
* ``edge_density`` (the fallback, numpy + torchvision only): multi-scale
  sliding windows scored, as EdgeBoxes does in spirit (without its edge
  grouping), by how well they enclose contours: the gradient magnitude in
  the window's outer half (window minus its central half-size box) minus
  the gradient magnitude in a band of 1/8 of its size just outside it
  (contours that straddle the border), divided by the perimeter.
  Windows of 4 side fractions (0.15, 0.25, 0.4, 0.6 of the shorter image
  side) x 3 aspect ratios (2:1, 1:1, 1:2), stride a quarter of the window,
  on the image shrunk to a longer side of 256 px. Simple and deterministic.

Either way boxes are sorted by score, suppressed with
``torchvision.ops.nms`` at IoU 0.7 (paper) and the best ``--max-proposals``
are written, in pixels of the ORIGINAL image::

    {"<image_id>": [[x1, y1, x2, y2], ...], ...}    best first

``image_id`` is the file name without extension (VOC: ``000005``), the key
:class:`LoadProposals` looks up. The model takes the top 5 (after another
NMS 0.7, so a file made with other settings is still used as the paper
did).

    python tools/misc/generate_proposals.py \\
        data/VOCdevkit/VOC2007/JPEGImages data/voc07_proposals.json
"""
import argparse
import json
from pathlib import Path
from typing import Dict, List, Tuple

import numpy as np
import torch
from torchvision.ops import nms

IMAGE_SUFFIXES = ('.jpg', '.jpeg', '.png', '.bmp')
METHODS = ('auto', 'selective_search', 'edge_density')
WINDOW_FRACTIONS = (0.15, 0.25, 0.4, 0.6)
WINDOW_RATIOS = (2., 1., 0.5)  # width / height
WORK_SIDE = 256  # longer side of the image the edge method runs on


def _gray(image: np.ndarray) -> np.ndarray:
    """``(H, W)`` or ``(H, W, 3)`` uint8 -> ``(H, W)`` float in [0, 1]."""
    img = image.astype(np.float64) / 255.
    return img.mean(-1) if img.ndim == 3 else img


def _shrink(gray: np.ndarray, side: int) -> Tuple[np.ndarray, float]:
    """Area-average down to a longer side <= ``side``; return the factor
    from the small image back to the original."""
    h, w = gray.shape
    step = max(1, int(np.ceil(max(h, w) / side)))
    hs, ws = h // step, w // step
    small = gray[:hs * step, :ws * step].reshape(hs, step, ws, step)
    return small.mean((1, 3)), float(step)


def _edges(gray: np.ndarray) -> np.ndarray:
    """Gradient magnitude by central differences (Sobel-free, no OpenCV)."""
    gy, gx = np.gradient(gray)
    return np.hypot(gx, gy)


def _box_sums(integral: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Sums over integer boxes ``(N, 4)`` (x1, y1, x2, y2 exclusive)."""
    x1, y1, x2, y2 = boxes.T
    return (integral[y2, x2] - integral[y1, x2] - integral[y2, x1] +
            integral[y1, x1])


def edge_density_proposals(image: np.ndarray) -> Tuple[np.ndarray,
                                                        np.ndarray]:
    """Score sliding windows by centre-surround edge contrast.

    Args:
        image: ``(H, W)`` or ``(H, W, 3)`` uint8 image.

    Returns:
        ``(boxes, scores)``: ``(N, 4)`` float boxes in original pixels and
        ``(N,)`` scores (higher is more object-like).
    """
    small, factor = _shrink(_gray(image), WORK_SIDE)
    h, w = small.shape
    edge = _edges(small)
    integral = np.pad(edge.cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    boxes = []
    for frac in WINDOW_FRACTIONS:
        for ratio in WINDOW_RATIOS:
            bw = max(2, min(w, round(frac * min(h, w) * np.sqrt(ratio))))
            bh = max(2, min(h, round(frac * min(h, w) / np.sqrt(ratio))))
            sx, sy = max(1, bw // 4), max(1, bh // 4)
            xs = np.arange(0, w - bw + 1, sx)
            ys = np.arange(0, h - bh + 1, sy)
            gx, gy = np.meshgrid(xs, ys)
            x1, y1 = gx.ravel(), gy.ravel()
            boxes.append(np.stack([x1, y1, x1 + bw, y1 + bh], 1))
    boxes = np.concatenate(boxes).astype(np.int64)  # (N, 4)
    bw = boxes[:, 2] - boxes[:, 0]
    bh = boxes[:, 3] - boxes[:, 1]
    band = np.maximum(np.stack([bw, bh, bw, bh], 1) // 8, 1)
    ring = boxes + band * np.array([-1, -1, 1, 1])  # box + outside band
    ring[:, 0::2] = ring[:, 0::2].clip(0, w)
    ring[:, 1::2] = ring[:, 1::2].clip(0, h)
    quarter = np.stack([bw, bh, bw, bh], 1) // 4
    core = boxes + quarter * np.array([1, 1, -1, -1])  # central half box
    e_box = _box_sums(integral, boxes)
    e_ring = _box_sums(integral, ring) - e_box  # edges crossing the border
    e_core = _box_sums(integral, core)  # edges deep inside
    # edge mass near the inside of the border, minus what straddles it,
    # per unit of perimeter (EdgeBoxes' kappa = 1)
    scores = (e_box - e_core - e_ring) / (2. * (bw + bh))
    return boxes.astype(np.float64) * factor, scores


def selective_search_proposals(image: np.ndarray) -> Tuple[np.ndarray,
                                                            np.ndarray]:
    """OpenCV's fast selective search (needs opencv-contrib); scores are
    minus the rank OpenCV returns."""
    import cv2
    img = image if image.ndim == 3 else np.repeat(image[..., None], 3, -1)
    ss = cv2.ximgproc.segmentation.createSelectiveSearchSegmentation()
    ss.setBaseImage(np.ascontiguousarray(img))
    ss.switchToSelectiveSearchFast()
    rects = ss.process().astype(np.float64)  # (N, 4) x, y, w, h
    boxes = np.concatenate([rects[:, :2], rects[:, :2] + rects[:, 2:]], 1)
    return boxes, -np.arange(len(boxes), dtype=np.float64)


def has_selective_search() -> bool:
    """Whether ``cv2.ximgproc`` (opencv-contrib) is importable."""
    try:
        import cv2
    except ImportError:
        return False
    return hasattr(cv2, 'ximgproc')


def propose(image: np.ndarray, method: str = 'auto', iou: float = 0.7,
            max_proposals: int = 100) -> np.ndarray:
    """Proposals of one image, best first, after NMS.

    Args:
        image: ``(H, W)`` or ``(H, W, 3)`` uint8 image (RGB or BGR: the
            edge method uses the channel mean).
        method: 'auto' | 'selective_search' | 'edge_density'.
        iou: NMS threshold (paper: 0.7).
        max_proposals: how many to keep.

    Returns:
        ``(n, 4)`` float boxes ``(x1, y1, x2, y2)`` inside the image,
        ``n <= max_proposals``.
    """
    if method not in METHODS:
        raise ValueError(f'generate_proposals: method must be one of '
                         f'{METHODS}, got {method!r}')
    if image.ndim not in (2, 3) or image.dtype != np.uint8:
        raise ValueError('generate_proposals: expected an (H, W) or '
                         f'(H, W, 3) uint8 image, got {image.dtype} '
                         f'{image.shape}')
    if method == 'auto':
        method = ('selective_search' if has_selective_search() else
                  'edge_density')
    fn = (selective_search_proposals if method == 'selective_search' else
          edge_density_proposals)
    boxes, scores = fn(image)
    h, w = image.shape[:2]
    boxes[:, 0::2] = boxes[:, 0::2].clip(0, w)
    boxes[:, 1::2] = boxes[:, 1::2].clip(0, h)
    keep = nms(torch.from_numpy(boxes).float(),
               torch.from_numpy(scores).float(), iou)  # sorted by score
    return boxes[keep[:max_proposals].numpy()]


def _read(path: Path) -> np.ndarray:
    import mmcv
    image = mmcv.imread(str(path), channel_order='rgb')
    if image is None:
        raise ValueError(f'generate_proposals: cannot decode {path}')
    return image


def generate(image_dir: Path, method: str = 'auto', iou: float = 0.7,
             max_proposals: int = 100) -> Dict[str, List[List[float]]]:
    """``{image_id: boxes}`` for every image file in ``image_dir``."""
    if not image_dir.is_dir():
        raise FileNotFoundError(
            f'generate_proposals: image folder {image_dir} does not exist')
    paths = sorted(p for p in image_dir.iterdir()
                   if p.suffix.lower() in IMAGE_SUFFIXES)
    if not paths:
        raise FileNotFoundError(f'generate_proposals: no {IMAGE_SUFFIXES} '
                                f'images in {image_dir}')
    return {
        p.stem: [[round(float(v), 1) for v in box]
                 for box in propose(_read(p), method, iou, max_proposals)]
        for p in paths
    }


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Offline object proposals (stand-in for EdgeBoxes) '
        'for the RARL proposal ablation.')
    parser.add_argument('image_dir', type=Path, help='folder of images')
    parser.add_argument('out', type=Path, help='output json file')
    parser.add_argument('--method', choices=METHODS, default='auto')
    parser.add_argument('--iou', type=float, default=0.7,
                        help='NMS IoU threshold (paper: 0.7)')
    parser.add_argument('--max-proposals', type=int, default=100)
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    proposals = generate(args.image_dir, args.method, args.iou,
                         args.max_proposals)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(proposals))
    print(f'{len(proposals)} images -> {args.out}')


if __name__ == '__main__':
    main()
