"""Ground-truth object boxes in the model's input coordinates, and where a
glimpse policy looks relative to them (``tools/analysis_tools/
policy_report.py --boxes voc``).

Reading the boxes (PASCAL VOC, the VOCdevkit layout): an image
``.../VOC2007/JPEGImages/000123.jpg`` has its annotation in
``.../VOC2007/Annotations/000123.xml``; every ``<object>`` whose
``<difficult>`` is not 1 gives one box ``<bndbox>`` (``xmin``, ``ymin``,
``xmax``, ``ymax``: 1-based, inclusive pixel indices), the image size comes
from ``<size>``. A missing file, a missing or non-numeric field (an
annotation with image-level labels only has no ``<bndbox>``) is an error
naming the file and the field.

Coordinates. The glimpse locations live in ``[-1, 1]^2`` over the network's
input, ``(-1, -1)`` its top-left and ``(1, 1)`` its bottom-right corner
(:class:`~marl_mm.models.glimpse.glimpse_anchors.GlimpseAnchors`:
``x_in = (l_x + 1) / 2 * W_in``). Pixel ``i`` (1-based) of a VOC image of
width ``w`` covers ``[i - 1, i]``, so a box maps to::

    x1 = (xmin - 1) / w * 2 - 1        x2 = xmax / w * 2 - 1

(same for y with the height) and, in input pixels, ``x_in = (x + 1) / 2 *
W_in``. **Valid only when the test pipeline shows the model the whole image
resized** (``Resize`` with ``keep_ratio=False``, as in
``configs/_base_/datasets/voc07_lite_448.py`` and the Lite0 cache made from
it): a crop, a flip, a padding or an aspect-keeping resize changes the
mapping. :func:`check_whole_image_pipeline` refuses any transform other
than loading, packing and such a resize.

Figures (per image, each vectorised over the batch; boxes padded to
``(B, M, 4)`` with a validity mask ``(B, M)``):

* :func:`on_object`: share of the locations inside at least one box;
* :func:`best_iou`: per step the best IoU between any of its regions and
  any box (the regions as the head returns them, in input pixels, not
  clipped to the image);
* :func:`union_cover`: the share of each cell of an ``S x S`` grid over the
  image covered by the union of the boxes (exact: the boxes' edges and the
  cells' edges cut the image into rectangles each inside or outside the
  union). Its mean over the cells is the union's area share: the chance
  that a uniform random location falls on an object, and the attention
  mass a uniform attention puts on the objects;
* :func:`attention_on_object`: the share of a spatial attention map's mass
  (mean over channels, normalised to 1 over the ``S x S`` cells; a map
  that is zero everywhere counts as uniform) on the cells' covered parts.
"""
import os.path as osp
import xml.etree.ElementTree as ET
from typing import List, Optional, Sequence, Tuple

import torch

#: pipeline transforms that keep the whole image in place
#: (:func:`check_whole_image_pipeline`)
WHOLE_IMAGE_TRANSFORMS = ('LoadImageFromFile', 'CheckedLoadImageFromFile',
                          'PackInputs')


def check_whole_image_pipeline(pipeline: Sequence[dict], where: str) -> None:
    """Refuse a test pipeline for which the box mapping of the module
    docstring is wrong.

    Args:
        pipeline: the transforms' config dicts.
        where: names the pipeline in the error (its config).

    Raises:
        ValueError: naming the first transform that is neither loading,
            packing nor a ``Resize`` of the whole image (``keep_ratio``
            False).
    """
    for t in pipeline:
        kind = t.get('type') if isinstance(t, dict) else type(t).__name__
        if kind in WHOLE_IMAGE_TRANSFORMS:
            continue
        if kind == 'Resize' and not t.get('keep_ratio', False):
            continue
        raise ValueError(
            f'{where}: the test pipeline has {kind}'
            + (' with keep_ratio=True' if kind == 'Resize' else '') +
            '; object boxes are mapped to the input for a pipeline that '
            'resizes the whole image (Resize with keep_ratio=False, no crop, '
            'flip or padding), as configs/_base_/datasets/voc07_lite_448.py')


def voc_annotation_path(img_path: str) -> str:
    """``.../JPEGImages/<id>.<ext>`` -> ``.../Annotations/<id>.xml``."""
    folder, name = osp.split(img_path)
    if osp.basename(folder) != 'JPEGImages':
        raise ValueError(
            f'{img_path}: not in the VOCdevkit layout (expected '
            '.../JPEGImages/<id>.jpg beside .../Annotations/<id>.xml)')
    return osp.join(osp.dirname(folder), 'Annotations',
                    osp.splitext(name)[0] + '.xml')


def _number(node: ET.Element, field: str, path: str) -> float:
    text = node.findtext(field)
    try:
        return float(text)
    except (TypeError, ValueError):
        raise ValueError(f'{path}: field {field!r} is '
                         f'{"missing" if text is None else repr(text)}, '
                         'expected a number') from None


def read_voc_boxes(xml_path: str) -> Tuple[torch.Tensor, Tuple[int, int]]:
    """The non-difficult object boxes of one VOC annotation.

    Args:
        xml_path: the annotation file.

    Returns:
        ``(boxes, (height, width))``: ``boxes`` ``(n, 4)`` float32
        ``(x1, y1, x2, y2)`` in pixel-edge coordinates (``xmin - 1``,
        ``ymin - 1``, ``xmax``, ``ymax``: the image spans ``[0, width]``);
        the size from ``<size>``.

    Raises:
        ValueError: the file is missing or not XML, or a field (``size/
            width``, ``size/height``, ``object/bndbox``, ``bndbox/xmin``, ...)
            is missing or not a number; the message names the file and the
            field.
    """
    if not osp.isfile(xml_path):
        raise ValueError(f'{xml_path}: no such VOC annotation file')
    try:
        root = ET.parse(xml_path).getroot()
    except ET.ParseError as e:
        raise ValueError(f'{xml_path}: not valid XML ({e})') from None
    size = root.find('size')
    if size is None:
        raise ValueError(f'{xml_path}: field \'size\' is missing')
    w, h = (_number(size, f, xml_path) for f in ('width', 'height'))
    if not (w > 0 and h > 0):
        raise ValueError(f'{xml_path}: size {w} x {h} is not positive')
    boxes = []
    for obj in root.iter('object'):
        if obj.findtext('difficult', '0').strip() == '1':
            continue
        box = obj.find('bndbox')
        if box is None:
            raise ValueError(
                f'{xml_path}: object {obj.findtext("name")!r} has no field '
                "'bndbox' (image-level labels only: no boxes to compare "
                'with)')
        x1, y1, x2, y2 = (_number(box, f, xml_path)
                          for f in ('xmin', 'ymin', 'xmax', 'ymax'))
        if not 1 <= x1 <= x2 <= w or not 1 <= y1 <= y2 <= h:
            raise ValueError(
                f'{xml_path}: bndbox ({x1}, {y1}, {x2}, {y2}) is not inside '
                f'the {w:g} x {h:g} image (1-based, xmin <= xmax)')
        boxes.append([x1 - 1, y1 - 1, x2, y2])
    return (torch.tensor(boxes, dtype=torch.float32).view(-1, 4),
            (int(h), int(w)))


def voc_boxes(img_paths: Sequence[str],
              ori_shapes: Optional[Sequence[Tuple[int, int]]] = None
              ) -> Tuple[torch.Tensor, torch.Tensor]:
    """Normalised GT boxes of a batch of VOC images, padded.

    Args:
        img_paths: the images (the data samples' ``img_path``).
        ori_shapes: optional ``(h, w)`` of each loaded image, checked
            against the annotation's ``<size>``.

    Returns:
        ``(boxes (B, M, 4) in [-1, 1] (x1, y1, x2, y2), valid (B, M)
        bool)``, ``M`` the most boxes of an image (at least 1).
    """
    per_image = []
    for i, img_path in enumerate(img_paths):
        xml_path = voc_annotation_path(img_path)
        boxes, (h, w) = read_voc_boxes(xml_path)
        if ori_shapes is not None and tuple(ori_shapes[i]) != (h, w):
            raise ValueError(
                f'{xml_path}: size {w} x {h} (w x h) but the image '
                f'{img_path} is {ori_shapes[i][1]} x {ori_shapes[i][0]}')
        per_image.append(boxes / boxes.new_tensor([w, h, w, h]) * 2 - 1)
    m = max([1] + [len(b) for b in per_image])
    out = torch.zeros(len(per_image), m, 4)
    valid = torch.zeros(len(per_image), m, dtype=torch.bool)
    for i, b in enumerate(per_image):
        out[i, :len(b)], valid[i, :len(b)] = b, True
    return out, valid


def to_input_pixels(boxes: torch.Tensor,
                    input_size: Tuple[int, int]) -> torch.Tensor:
    """``[-1, 1]`` boxes ``(..., 4)`` -> input pixels, as the anchors map
    locations (``x_in = (x + 1) / 2 * W_in``); ``input_size`` is
    ``(H_in, W_in)``."""
    h_in, w_in = input_size
    return (boxes + 1) / 2 * boxes.new_tensor([w_in, h_in, w_in, h_in])


def on_object(locations: torch.Tensor, boxes: torch.Tensor,
              valid: torch.Tensor) -> torch.Tensor:
    """Share of each image's locations inside at least one box.

    Args:
        locations: ``(B, T, 2)`` in ``[-1, 1]``.
        boxes: ``(B, M, 4)`` in ``[-1, 1]``; valid: ``(B, M)``.

    Returns:
        ``(B,)``.
    """
    x = locations[:, :, None, 0]  # (B, T, 1)
    y = locations[:, :, None, 1]
    b = boxes[:, None]  # (B, 1, M, 4)
    inside = ((x >= b[..., 0]) & (x <= b[..., 2]) & (y >= b[..., 1]) &
              (y <= b[..., 3]) & valid[:, None])  # (B, T, M)
    return inside.any(-1).float().mean(-1)


def box_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """IoU of every box of ``a`` ``(B, R, 4)`` with every box of ``b``
    ``(B, M, 4)``: ``(B, R, M)``."""
    a, b = a[:, :, None], b[:, None]  # (B, R, 1, 4), (B, 1, M, 4)
    w = (torch.minimum(a[..., 2], b[..., 2]) -
         torch.maximum(a[..., 0], b[..., 0])).clamp(min=0)
    h = (torch.minimum(a[..., 3], b[..., 3]) -
         torch.maximum(a[..., 1], b[..., 1])).clamp(min=0)
    inter = w * h  # (B, R, M)
    area_a = (a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1])
    area_b = (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])
    return inter / (area_a + area_b - inter).clamp(min=1e-12)


def best_iou(regions: torch.Tensor, boxes: torch.Tensor,
             valid: torch.Tensor) -> torch.Tensor:
    """Per image, the mean over steps of the best IoU of a step's regions
    with any box.

    Args:
        regions: ``(B, T, k, 4)`` in input pixels.
        boxes: ``(B, M, 4)`` in the same pixels; valid: ``(B, M)``.

    Returns:
        ``(B,)``.
    """
    B, T, k, _ = regions.shape
    iou = box_iou(regions.reshape(B, T * k, 4), boxes)  # (B, T*k, M)
    iou = iou.masked_fill(~valid[:, None], 0.)
    return iou.view(B, T, k * iou.shape[-1]).amax(-1).mean(-1)


def union_cover(boxes: torch.Tensor, valid: torch.Tensor,
                grid: int = 1) -> torch.Tensor:
    """Share of each cell of a ``grid x grid`` partition of ``[-1, 1]^2``
    covered by the union of the valid boxes (exact).

    Args:
        boxes: ``(B, M, 4)`` in ``[-1, 1]``; valid: ``(B, M)``.
        grid: S, cells per side (1: the union's area share).

    Returns:
        ``(B, S, S)``, rows along y.
    """
    b = boxes.clamp(-1, 1).masked_fill(~valid[..., None], -1.)
    cells = torch.linspace(-1, 1, grid + 1).to(b).expand(len(b), -1)

    def pieces(lo, hi):  # the cut points along one axis, sorted
        edges = torch.cat([lo, hi, cells], -1).sort(-1).values  # (B, E)
        return edges[:, :-1], edges[:, 1:]  # (B, E-1) each

    x0, x1 = pieces(b[..., 0], b[..., 2])
    y0, y1 = pieces(b[..., 1], b[..., 3])
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2  # piece centres
    inside = ((cx[:, None, :, None] >= b[:, :, None, None, 0]) &
              (cx[:, None, :, None] <= b[:, :, None, None, 2]) &
              (cy[:, None, None, :] >= b[:, :, None, None, 1]) &
              (cy[:, None, None, :] <= b[:, :, None, None, 3]) &
              valid[:, :, None, None]).any(1)  # (B, X, Y)
    area = (x1 - x0)[:, :, None] * (y1 - y0)[:, None, :]  # (B, X, Y)
    # which grid cell each piece lies in, one-hot (B, X, S) / (B, Y, S)
    ix = ((cx + 1) / 2 * grid).long().clamp(0, grid - 1)
    iy = ((cy + 1) / 2 * grid).long().clamp(0, grid - 1)
    ox = torch.nn.functional.one_hot(ix, grid).to(b)
    oy = torch.nn.functional.one_hot(iy, grid).to(b)
    covered = ox.transpose(1, 2) @ (inside * area) @ oy  # (B, Sx, Sy)
    return covered.transpose(1, 2) / (2. / grid) ** 2  # (B, Sy, Sx)


def attention_on_object(attention: torch.Tensor,
                        cover: torch.Tensor) -> torch.Tensor:
    """Share of each glimpse's spatial attention mass on the objects.

    Args:
        attention: ``(B, T, C, S, S)`` attention maps (RHN's ``A_t``).
        cover: ``(B, S, S)`` from :func:`union_cover` with ``grid=S``.

    Returns:
        ``(B, T)``.
    """
    m = attention.float().mean(2)  # (B, T, S, S)
    total = m.sum((-2, -1), keepdim=True)  # (B, T, 1, 1)
    w = torch.where(total > 0, m / total.clamp(min=1e-30),
                    torch.full_like(m, 1. / m[0, 0].numel()))
    return (w * cover[:, None]).sum((-2, -1))


def boxes_of_samples(data_samples: List, ori_shape: bool = True
                     ) -> Tuple[torch.Tensor, torch.Tensor]:
    """:func:`voc_boxes` of a batch's data samples (their ``img_path``;
    ``ori_shape`` checked against the annotation when asked)."""
    paths = []
    for ds in data_samples:
        if 'img_path' not in ds:
            raise ValueError('a data sample has no img_path: add it to '
                             "PackInputs' meta_keys to read its boxes")
        paths.append(ds.img_path)
    shapes = [tuple(ds.ori_shape) for ds in data_samples] if ori_shape \
        and all('ori_shape' in ds for ds in data_samples) else None
    return voc_boxes(paths, shapes)
