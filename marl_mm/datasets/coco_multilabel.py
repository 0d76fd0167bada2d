"""MS-COCO as a multi-label classification dataset (image-level labels).

Used by RARL (Chen et al., AAAI 2018: COCO 2014, train on ``train2014``,
test on ``val2014``, 82,081 / 40,137 images, i.e. the images with at least
one label) and RARNN (Li et al., ACM MM 2018: 82,783 / 40,504, i.e. every
image of the two splits).
"""
import contextlib
import io
import os.path as osp
from typing import List, Optional, Sequence, Union

from mmengine.fileio import exists, load
from pycocotools.coco import COCO

from mmpretrain.datasets import MultiLabelDataset
from mmpretrain.registry import DATASETS
from .utils import handle_unlabelled

CROWD_MODES = ('include', 'ignore')

COCO_LAYOUT = """\
    <data_root>/                      e.g. data/coco
    |-- annotations/
    |   |-- instances_train2014.json  (or instances_train2017.json)
    |   `-- instances_val2014.json    (or instances_val2017.json)
    |-- train2014/                    (or train2017/) the images
    `-- val2014/                      (or val2017/)"""


@DATASETS.register_module()
class COCOMultiLabel(MultiLabelDataset):
    """MS-COCO image-level labels from an official ``instances_*.json``.

    The annotation file is indexed with pycocotools (``COCO.createIndex``);
    each image's label set is the set of categories of its instance
    annotations. Both the 2014 and the 2017 releases work: give the split's
    ``ann_file`` and its image folder as ``data_prefix``, e.g.
    ``ann_file='annotations/instances_train2014.json',
    data_prefix=dict(img_path='train2014')``. Expected layout::

        <data_root>/                      e.g. data/coco
        |-- annotations/
        |   |-- instances_train2014.json  (or instances_train2017.json)
        |   `-- instances_val2014.json    (or instances_val2017.json)
        |-- train2014/                    (or train2017/) the images
        `-- val2014/                      (or val2017/)

    Class indices: the 80 non-contiguous category ids are mapped to
    ``0..D-1`` in increasing id order (the official order; paper protocol),
    and the class names are read from the file. If ``classes`` /
    ``metainfo['classes']`` is given, it must equal the file's names in that
    order (a clear error otherwise), so a config cannot silently permute
    the labels.

    Args:
        ann_file: an official ``instances_*.json`` (relative to
            ``data_root`` unless absolute).
        crowd: ``'include'`` (default chosen here: a crowd region is an
            annotated instance of its category, so the category is present,
            as in the usual COCO multi-label label sets) or ``'ignore'``
            (``iscrowd=1`` annotations give no label).
        keep_empty: keep images that end up with no label, with an empty
            target (default False: dropped, RARL's counts). The count is
            logged either way. Set ``True`` with ``test_mode=True`` to
            evaluate on every image (RARNN's 40,504 val2014 images).
        **kwargs: the other arguments of
            :class:`mmpretrain.datasets.MultiLabelDataset` (``data_root``,
            ``data_prefix``, ``pipeline``, ``test_mode``, ``classes``, ...).
    """

    def __init__(self,
                 ann_file: str,
                 crowd: str = 'include',
                 keep_empty: bool = False,
                 metainfo: Optional[dict] = None,
                 data_root: str = '',
                 data_prefix: Union[str, dict] = '',
                 classes: Union[str, Sequence[str], None] = None,
                 **kwargs):
        if crowd not in CROWD_MODES:
            raise ValueError(
                f'COCOMultiLabel: crowd must be one of {CROWD_MODES}, got '
                f'{crowd!r}')
        if not ann_file:
            raise ValueError('COCOMultiLabel: ann_file is required (an '
                             'official instances_*.json)')
        self.crowd = crowd
        self.keep_empty = bool(keep_empty)
        super().__init__(
            ann_file=ann_file,
            metainfo=metainfo,
            data_root=data_root,
            data_prefix=data_prefix,
            classes=classes,
            **kwargs)

    def load_data_list(self) -> List[dict]:
        """Read the json, check it, index it with pycocotools, build labels.

        Returns:
            One dict per image: ``img_path``, ``gt_label`` (sorted class
            indices), ``img_id`` (the COCO image id).
        """
        ann_file = self.ann_file
        if not exists(ann_file):
            raise FileNotFoundError(
                f'COCOMultiLabel: annotation file {ann_file} not found. '
                f'Expected layout:\n{COCO_LAYOUT}')
        try:
            dataset = load(ann_file, file_format='json')
        except ValueError as e:
            raise ValueError(f'COCOMultiLabel: {ann_file} is not valid '
                             f'json: {e}') from e
        self._check_fields(dataset, ann_file)

        coco = COCO()
        coco.dataset = dataset
        with contextlib.redirect_stdout(io.StringIO()):
            coco.createIndex()  # pycocotools prints progress

        cat_ids = sorted(coco.getCatIds())
        names = tuple(coco.cats[i]['name'] for i in cat_ids)
        self._check_classes(names, ann_file)
        cat_to_label = {cat_id: i for i, cat_id in enumerate(cat_ids)}

        data_list = []
        for img_id in coco.getImgIds():  # file order
            info = coco.imgs[img_id]
            labels = {
                cat_to_label[ann['category_id']]
                for ann in coco.imgToAnns.get(img_id, [])
                if self.crowd == 'include' or not ann.get('iscrowd', 0)
            }
            data_list.append(
                dict(
                    img_path=osp.join(self.img_prefix, info['file_name']),
                    gt_label=sorted(labels),
                    img_id=img_id))
        return handle_unlabelled(data_list, self.keep_empty, self.test_mode,
                                 'COCOMultiLabel', ann_file)

    @staticmethod
    def _check_fields(dataset, ann_file: str) -> None:
        """Clear errors for a file that is not an instances json."""
        if not isinstance(dataset, dict):
            raise ValueError(f'COCOMultiLabel: {ann_file} must hold a json '
                             f'object, got {type(dataset).__name__}')
        for key in ('images', 'annotations', 'categories'):
            if key not in dataset:
                raise ValueError(
                    f'COCOMultiLabel: {ann_file} has no {key!r} field; '
                    'expected an official instances_*.json (captions and '
                    'person_keypoints files are not label files)')
        if not dataset['categories']:
            raise ValueError(f'COCOMultiLabel: {ann_file} has an empty '
                             "'categories' list: no classes to learn")
        required = dict(categories=('id', 'name'),
                        images=('id', 'file_name'),
                        annotations=('id', 'image_id', 'category_id'))
        for key, fields in required.items():
            for i, entry in enumerate(dataset[key]):
                missing = [f for f in fields if f not in entry]
                if missing:
                    raise ValueError(
                        f'COCOMultiLabel: {ann_file}: {key}[{i}] lacks '
                        f'{missing}; every entry needs {list(fields)}')
        for key in ('categories', 'images', 'annotations'):
            _check_unique_ids(dataset[key], key, ann_file)
        cat_ids = [c['id'] for c in dataset['categories']]
        names = [c['name'] for c in dataset['categories']]
        if len(set(names)) != len(names):
            raise ValueError(f'COCOMultiLabel: {ann_file}: duplicate '
                             'category names')
        cat_set = set(cat_ids)
        img_set = {img['id'] for img in dataset['images']}
        for i, ann in enumerate(dataset['annotations']):
            if ann['category_id'] not in cat_set:
                raise ValueError(
                    f'COCOMultiLabel: {ann_file}: annotations[{i}] has '
                    f"category_id {ann['category_id']}, not in 'categories'")
            if ann['image_id'] not in img_set:
                raise ValueError(
                    f'COCOMultiLabel: {ann_file}: annotations[{i}] has '
                    f"image_id {ann['image_id']}, not in 'images'")

    def _check_classes(self, names: tuple, ann_file: str) -> None:
        """Use the file's class names; check them against given ones."""
        given = self._metainfo.get('classes')
        if given is None:
            self._metainfo['classes'] = names
            return
        given = tuple(given)
        if given != names:
            diff = next((i for i, (a, b) in enumerate(zip(given, names))
                         if a != b), min(len(given), len(names)))
            raise ValueError(
                f'COCOMultiLabel: the classes given in the config '
                f'({len(given)}) differ from the categories of {ann_file} '
                f'({len(names)}, in increasing id order) first at index '
                f'{diff}: {given[diff:diff + 1]} vs {names[diff:diff + 1]}. '
                'Leave classes unset to read them from the file.')

    def extra_repr(self) -> List[str]:
        """Extra lines for ``repr(dataset)``."""
        return super().extra_repr() + [
            f'Crowd annotations: \t{self.crowd}',
            f'Unlabelled images: \t'
            f"{'kept' if self.keep_empty else 'dropped'}",
        ]


def _check_unique_ids(entries: list, key: str, ann_file: str) -> None:
    """Each ``id`` of ``entries`` once; pycocotools would silently keep the
    last of a repeated image id (and lose the first entry's file name)."""
    seen = {}
    for i, entry in enumerate(entries):
        j = seen.setdefault(entry['id'], i)
        if j != i:
            raise ValueError(
                f"COCOMultiLabel: {ann_file}: {key}[{j}] and {key}[{i}] "
                f"have the same id {entry['id']!r}; ids must be unique")
