"""Multi-label datasets, registered into mmpretrain's ``DATASETS``.

VOC 2007: :class:`StrictVOC` (mmpretrain's ``VOC`` without silent drops;
mmpretrain's ``VOC`` also works). COCO 2014/2017: :class:`COCOMultiLabel`.
NUS-WIDE and ESP Game: :class:`NUSWIDE`, :class:`ESPGame`, reading the json
written by ``tools/dataset_converters/{nus_wide,esp_game}.py``. Generic json
and the generated quick-start shapes: mmpretrain's ``MultiLabelDataset`` or
:class:`CheckedMultiLabelDataset`. :func:`check_data_roots` checks the data
paths of a config before a run. :class:`CheckedLoadImageFromFile` loads
images with errors naming the file and 3-channel uint8 output.
"""
from .cached_feature_maps import CachedFeatureMaps
from .checked_multi_label_dataset import CheckedMultiLabelDataset
from .coco_multilabel import COCOMultiLabel
from .esp_game import ESPGame
from .nus_wide import NUSWIDE
from .preflight import DATA_LAYOUTS, check_data_roots
from .resumable_worker_init import resumable_worker_init_fn
from .strict_voc import StrictVOC
from .transforms import CheckedLoadImageFromFile

__all__ = [
    'CachedFeatureMaps', 'CheckedMultiLabelDataset', 'COCOMultiLabel', 'ESPGame', 'NUSWIDE',
    'StrictVOC', 'check_data_roots', 'DATA_LAYOUTS',
    'CheckedLoadImageFromFile', 'resumable_worker_init_fn'
]
