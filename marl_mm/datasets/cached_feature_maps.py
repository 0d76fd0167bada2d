"""Feature maps of a frozen backbone, computed once, served as inputs.

With a frozen backbone every epoch recomputes the same maps; on a CPU that
is most of a run (EfficientNet-Lite0 at 448 px: ~0.2 s an image on two
cores, the glimpse heads a fraction of it). ``tools/misc/
extract_feature_maps.py`` runs the backbone of a config once over its train
and val sets (the test pipeline: no augmentation) and writes, per split,

* ``<split>.npy``: float16 ``(N, H, W, C)`` maps (numpy's format, read as a
  memory map: the set need not fit in memory);
* ``<split>.json``: ``metainfo`` (classes, the backbone config, the input
  size, the map's stride and shape) and ``data_list`` (per image its
  ``img_path``, ``gt_label``, ``gt_label_difficult`` and row in the array).

:class:`CachedFeatureMaps` reads them as an mmpretrain dataset whose
``img`` is the ``(H, W, C)`` float32 map, so mmpretrain's own transforms
(``RandomFlip``: a horizontal flip of the map) and ``PackInputs`` apply, and
:class:`~marl_mm.models.backbones.PrecomputedFeatureMap` stands in for the
backbone. What this loses against training on images: photometric and
scale augmentation, and crops at image resolution (a flip of the map is not
exactly the map of the flipped image: the convolutions' padding is not
symmetric); the backbone is frozen, batch norm included.
"""
import json
import os.path as osp
from typing import List, Optional

import numpy as np
from mmpretrain.datasets import BaseDataset
from mmpretrain.registry import DATASETS

#: keys every ``data_list`` entry of a cache must have
ENTRY_KEYS = ('img_path', 'gt_label', 'feat_index')


@DATASETS.register_module()
class CachedFeatureMaps(BaseDataset):
    """Precomputed feature maps with multi-label annotations.

    Args:
        ann_file (str): ``<split>.json`` written by
            ``tools/misc/extract_feature_maps.py``.
        feat_file (str, optional): The ``.npy`` maps. Defaults to
            ``ann_file`` with the suffix ``.npy``.
        **kwargs: :class:`mmpretrain.datasets.BaseDataset` arguments
            (``pipeline``, ``data_root``, ``test_mode``, ...).
    """

    def __init__(self, ann_file: str, feat_file: Optional[str] = None,
                 **kwargs) -> None:
        self.feat_file = feat_file
        self._feats = None  # opened lazily: each worker maps the file
        super().__init__(ann_file=ann_file, **kwargs)

    def _read_ann(self) -> dict:
        if not osp.isfile(self.ann_file):
            raise FileNotFoundError(
                f'CachedFeatureMaps: {self.ann_file} not found; write it with '
                'tools/misc/extract_feature_maps.py CONFIG OUT_DIR')
        with open(self.ann_file) as f:
            try:
                ann = json.load(f)
            except json.JSONDecodeError as e:
                raise ValueError(
                    f'CachedFeatureMaps: {self.ann_file} is not valid json '
                    f'({e})') from e
        for key in ('metainfo', 'data_list'):
            if key not in ann:
                raise ValueError(f'CachedFeatureMaps: {self.ann_file} has no '
                                 f'{key!r}; expected the json of '
                                 'extract_feature_maps.py')
        return ann

    def load_data_list(self) -> List[dict]:
        ann = self._read_ann()
        self._metainfo.update(ann['metainfo'])
        if self.feat_file is None:
            self.feat_file = osp.splitext(self.ann_file)[0] + '.npy'
        elif self.data_root and not osp.isabs(self.feat_file):
            self.feat_file = osp.join(self.data_root, self.feat_file)
        shape = self._open().shape
        expected = tuple(ann['metainfo'].get('feat_shape', shape[1:]))
        if shape[1:] != expected or shape[0] != len(ann['data_list']):
            raise ValueError(
                f'CachedFeatureMaps: {self.feat_file} holds maps of shape '
                f'{shape}, but {self.ann_file} describes '
                f'{len(ann["data_list"])} maps of shape {expected}')
        for i, entry in enumerate(ann['data_list']):
            missing = [k for k in ENTRY_KEYS if k not in entry]
            if missing:
                raise ValueError(f'CachedFeatureMaps: {self.ann_file} entry '
                                 f'{i} has no {missing}')
            if not 0 <= entry['feat_index'] < shape[0]:
                raise ValueError(
                    f'CachedFeatureMaps: {self.ann_file} entry {i}: '
                    f'feat_index {entry["feat_index"]} outside 0..'
                    f'{shape[0] - 1} of {self.feat_file}')
        return ann['data_list']

    def _open(self) -> np.ndarray:
        if self._feats is None:
            if not osp.isfile(self.feat_file):
                raise FileNotFoundError(
                    f'CachedFeatureMaps: {self.feat_file} not found (the maps '
                    f'of {self.ann_file})')
            self._feats = np.load(self.feat_file, mmap_mode='r')
            if self._feats.ndim != 4:
                raise ValueError(
                    f'CachedFeatureMaps: {self.feat_file} has shape '
                    f'{self._feats.shape}, expected (N, H, W, C)')
        return self._feats

    def get_data_info(self, idx: int) -> dict:
        """The entry plus its map as ``img`` ((H, W, C) float32)."""
        info = super().get_data_info(idx)
        feat = np.asarray(self._open()[info['feat_index']], dtype=np.float32)
        info.update(img=feat, img_shape=feat.shape[:2],
                    ori_shape=feat.shape[:2])
        return info

    def get_cat_ids(self, idx: int) -> List[int]:
        return [int(i) for i in super().get_data_info(idx)['gt_label']]

    def __getstate__(self):  # memory maps are reopened in each process
        state = self.__dict__.copy()
        state['_feats'] = None
        return state
