"""mmpretrain's generic multi-label json, read with checks."""
import os.path as osp
from typing import Any, List, Optional

import numpy as np
import yaml
from mmengine.fileio import exists, get_local_path, load

from mmpretrain.datasets import MultiLabelDataset
from mmpretrain.registry import DATASETS
from ..utils.restricted_unpickler import load_pickle_safe
from .utils import check_label_indices, handle_unlabelled


ANNOTATION_SUFFIXES = ('.json', '.yaml', '.yml', '.pkl', '.pickle')


def load_annotations_safe(ann_file: str, owner: str = 'dataset') -> Any:
    """Read an annotation file (json / yaml / pickle) without running code.

    Args:
        ann_file: path or URI (mmengine file backends).
        owner: the class named in errors.

    Returns:
        The file's content.

    Raises:
        ValueError: unknown suffix.
        marl_mm.utils.UnsafePickleError: a pickle that names a global
            outside the allowlist of :mod:`marl_mm.utils.restricted_unpickler`.
    """
    suffix = osp.splitext(str(ann_file))[1].lower()
    if suffix not in ANNOTATION_SUFFIXES:
        raise ValueError(
            f'{owner}: annotation file {ann_file} has suffix {suffix!r}; '
            f'expected one of {ANNOTATION_SUFFIXES}')
    if suffix == '.json':
        return load(ann_file)
    with get_local_path(ann_file) as path:
        if suffix in ('.pkl', '.pickle'):
            return load_pickle_safe(path)
        with open(path, encoding='utf-8') as f:
            return yaml.safe_load(f)


def boxes_to_arrays(info: dict, where: str) -> None:
    """Turn json lists under ``gt_bboxes`` / ``gt_bbox_labels`` into the
    arrays mmcv's transforms expect, in place.

    mmcv's ``Resize`` / ``RandomFlip`` / ``RandomCrop`` move the boxes with
    the image and read ``gt_bboxes.shape``: a json list stops mmpretrain's
    ``RandomFlip`` with ``'list' object has no attribute 'shape'``. mmdet's
    datasets convert on load in the same way.

    Args:
        info: one ``data_list`` entry.
        where: names the file and entry in errors.

    Raises:
        ValueError: boxes that are not ``N x 4`` numbers, or labels whose
            count differs from the boxes'.
    """
    if info.get('gt_bboxes', None) is not None:
        try:
            boxes = np.asarray(info['gt_bboxes'], dtype=np.float32)
        except (TypeError, ValueError):
            boxes = None
        if boxes is None or (boxes.size and (boxes.ndim != 2
                                             or boxes.shape[1] != 4)):
            shown = repr(info['gt_bboxes'])[:200]
            raise ValueError(f'{where}.gt_bboxes: expected a list of '
                             f'[x1, y1, x2, y2] number lists, got {shown}')
        info['gt_bboxes'] = boxes.reshape(-1, 4)
    if info.get('gt_bbox_labels', None) is not None:
        labels = np.asarray(info['gt_bbox_labels'], dtype=np.int64)
        boxes = info.get('gt_bboxes', None)
        if labels.ndim != 1 or (boxes is not None
                                and len(labels) != len(boxes)):
            raise ValueError(
                f'{where}.gt_bbox_labels: expected one class index per box '
                f'({0 if boxes is None else len(boxes)} boxes), got '
                f"{info['gt_bbox_labels']!r}")
        info['gt_bbox_labels'] = labels


@DATASETS.register_module()
class CheckedMultiLabelDataset(MultiLabelDataset):
    """:class:`mmpretrain.datasets.MultiLabelDataset` with input checks.

    Reads the same OpenMMLab 2.0 json::

        {"metainfo": {"classes": ["a", "b", ...]},
         "data_list": [{"img_path": "x.jpg", "gt_label": [0, 3]}, ...]}

    and, unlike the parent (which accepts anything), checks that: the file
    exists; ``classes`` are known (from the file or the config) and, when
    both give them, agree; there are ``NUM_CLASSES`` of them when a subclass
    fixes the count; each entry has a string ``img_path`` (each image once)
    and a ``gt_label``; every label index is an integer in range (repeated
    indices are merged); optional ``gt_bboxes`` / ``gt_bbox_labels``
    become numpy arrays (:func:`boxes_to_arrays`). Images with
    no label are dropped unless ``keep_empty=True``, the count logged
    either way (see :mod:`marl_mm.datasets.utils`).

    The file is read without running code from it: json through mmengine
    (as the parent), ``.yaml`` / ``.yml`` with ``yaml.safe_load`` (mmengine's
    yaml handler uses PyYAML's full ``Loader``, which builds Python objects a
    file names) and ``.pkl`` / ``.pickle`` with
    :func:`marl_mm.utils.load_pickle_safe` (mmengine's pickle handler runs
    whatever the file asks for). Any other suffix is an error naming these.

    Args:
        ann_file: the annotation file, json (or yaml / pickle, read safely;
            relative to ``data_root`` unless absolute).
        keep_empty: keep unlabelled images with an empty target (default
            False).
        **kwargs: the other arguments of ``MultiLabelDataset``.
    """

    #: fixed class count of the benchmark (None: any).
    NUM_CLASSES: Optional[int] = None
    #: how the json is made, named in errors.
    HOW_TO_MAKE = ('a json in mmpretrain\'s multi-label format '
                   '(metainfo.classes + data_list)')

    def __init__(self, ann_file: str, keep_empty: bool = False, **kwargs):
        if not ann_file:
            raise ValueError(f'{type(self).__name__}: ann_file is required '
                             f'({self.HOW_TO_MAKE})')
        self.keep_empty = bool(keep_empty)
        super().__init__(ann_file=ann_file, **kwargs)

    def load_data_list(self) -> List[dict]:
        """Load and check the json; see the class docstring.

        Returns:
            Entries with ``img_path`` (joined with the image prefix) and a
            sorted ``gt_label`` list.
        """
        name = type(self).__name__
        ann_file = self.ann_file
        if not exists(ann_file):
            raise FileNotFoundError(
                f'{name}: annotation file {ann_file} not found; expected '
                f'{self.HOW_TO_MAKE}')
        annotations = load_annotations_safe(ann_file, name)
        if not isinstance(annotations, dict) or 'data_list' not in \
                annotations:
            raise ValueError(f'{name}: {ann_file} must be a json object with '
                             "'metainfo' and 'data_list'")
        file_meta = annotations.get('metainfo', {}) or {}
        file_classes = file_meta.get('classes')
        given = self._metainfo.get('classes')
        if file_classes is not None and given is not None and \
                tuple(file_classes) != tuple(given):
            raise ValueError(
                f'{name}: the classes given in the config ({len(given)}) '
                f'differ from metainfo.classes of {ann_file} '
                f'({len(file_classes)}); leave classes unset to use the '
                "file's")
        for key, value in file_meta.items():
            self._metainfo.setdefault(key, value)
        classes = self._metainfo.get('classes')
        if classes is None:
            raise ValueError(f'{name}: {ann_file} has no metainfo.classes '
                             'and the config gives no classes')
        self._metainfo['classes'] = tuple(classes)
        num_classes = len(classes)
        if self.NUM_CLASSES is not None and num_classes != self.NUM_CLASSES:
            raise ValueError(
                f'{name}: {ann_file} names {num_classes} classes, expected '
                f'{self.NUM_CLASSES} for this benchmark')

        data_list, seen = [], {}
        for i, raw in enumerate(annotations['data_list']):
            where = f'data_list[{i}]'
            if not isinstance(raw, dict) or 'img_path' not in raw or \
                    'gt_label' not in raw:
                raise ValueError(f'{name}: {ann_file}: {where} needs '
                                 "'img_path' and 'gt_label'")
            if not isinstance(raw['img_path'], str):
                raise TypeError(f'{name}: {ann_file}: {where}.img_path is '
                                f"{raw['img_path']!r}; expected a string")
            j = seen.setdefault(raw['img_path'], i)
            if j != i:
                raise ValueError(
                    f'{name}: {ann_file}: data_list[{j}] and {where} name '
                    f"the same image {raw['img_path']!r}; each image must "
                    'appear once (merge their labels)')
            raw = dict(raw)
            raw['gt_label'] = check_label_indices(raw['gt_label'],
                                                  num_classes, ann_file,
                                                  where)
            boxes_to_arrays(raw, f'{name}: {ann_file}: {where}')
            data_list.append(self.parse_data_info(raw))
        return handle_unlabelled(data_list, self.keep_empty, self.test_mode,
                                 name, ann_file)
