"""NUS-WIDE, 81 concepts (Chua et al. 2009), as used by RARNN (Li et al.,
ACM MM 2018, Sec. 4.3: the split of Gong et al. 2013, 150,000 train /
59,347 test labelled images)."""
from mmpretrain.registry import DATASETS
from .checked_multi_label_dataset import CheckedMultiLabelDataset

NUS_WIDE_LAYOUT = """\
    <data_root>/                    e.g. data/nus-wide
    |-- annotations/
    |   |-- nus_wide_train.json     written by
    |   `-- nus_wide_test.json      tools/dataset_converters/nus_wide.py
    `-- Flickr/<concept>/<image>.jpg  the official image folders"""


@DATASETS.register_module()
class NUSWIDE(CheckedMultiLabelDataset):
    """NUS-WIDE with its 81 concepts, from the converter's json.

    ``tools/dataset_converters/nus_wide.py`` turns the official files
    (``ConceptsList/Concepts81.txt``, ``ImageList/{Train,Test}Imagelist.txt``,
    ``Groundtruth/TrainTestLabels/Labels_<concept>_{Train,Test}.txt``) into
    mmpretrain's multi-label json, dropping images without any of the 81
    labels. The class checks that the json names exactly 81 classes, and
    every check of :class:`CheckedMultiLabelDataset`. Expected layout::

        <data_root>/                    e.g. data/nus-wide
        |-- annotations/
        |   |-- nus_wide_train.json     written by
        |   `-- nus_wide_test.json      tools/dataset_converters/nus_wide.py
        `-- Flickr/<concept>/<image>.jpg  the official image folders

    Args:
        ann_file: the converter's json.
        **kwargs: see :class:`CheckedMultiLabelDataset`.
    """

    NUM_CLASSES = 81
    HOW_TO_MAKE = ('the json written by tools/dataset_converters/nus_wide.py '
                   'from the official NUS-WIDE files')
