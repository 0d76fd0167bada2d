"""ESP Game, 268 labels (von Ahn & Dabbish 2004), in the TagProp split
(Guillaumin et al., ICCV 2009: about 18,689 train / 2,081 test images), as
used by RARNN (Li et al., ACM MM 2018, Sec. 4.5)."""
from mmpretrain.registry import DATASETS
from .checked_multi_label_dataset import CheckedMultiLabelDataset

ESP_GAME_LAYOUT = """\
    <data_root>/                    e.g. data/espgame
    |-- annotations/
    |   |-- espgame_train.json      written by
    |   `-- espgame_test.json       tools/dataset_converters/esp_game.py
    `-- images/<name>.jpg           the ESP Game images (ESP-ImageSet)"""


@DATASETS.register_module()
class ESPGame(CheckedMultiLabelDataset):
    """ESP Game with the 268 TagProp labels, from the converter's json.

    ``tools/dataset_converters/esp_game.py`` turns TagProp's files
    (``espgame_dictionary.txt``, ``espgame_{train,test}_list.txt``,
    ``espgame_{train,test}_annot.hvecs``) into mmpretrain's multi-label
    json. The class checks that the json names exactly 268 classes, and
    every check of :class:`CheckedMultiLabelDataset`. Expected layout::

        <data_root>/                    e.g. data/espgame
        |-- annotations/
        |   |-- espgame_train.json      written by
        |   `-- espgame_test.json       tools/dataset_converters/esp_game.py
        `-- images/<name>.jpg           the ESP Game images (ESP-ImageSet)

    Args:
        ann_file: the converter's json.
        **kwargs: see :class:`CheckedMultiLabelDataset`.
    """

    NUM_CLASSES = 268
    HOW_TO_MAKE = ('the json written by tools/dataset_converters/esp_game.py '
                   "from TagProp's ESP Game files")
