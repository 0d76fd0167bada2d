"""PASCAL VOC 2007 image-level labels, read strictly.

RARL (Chen et al., AAAI 2018) trains on VOC 2007 ``trainval`` and tests on
``test`` (per-class AP, difficult labels ignored).
"""
import xml.etree.ElementTree as ET
from typing import List, Tuple

from mmpretrain.datasets import VOC
from mmpretrain.registry import DATASETS

UNKNOWN_CLASS_MODES = ('error', 'ignore')

VOC_LAYOUT = """\
    <data_root>/                  e.g. data/VOCdevkit/VOC2007
    |-- Annotations/<id>.xml      <object><name>, <difficult> per object
    |-- ImageSets/Main/<split>.txt  image ids (train, val, trainval, test)
    `-- JPEGImages/<id>.jpg"""


@DATASETS.register_module()
class StrictVOC(VOC):
    """mmpretrain's :class:`~mmpretrain.datasets.VOC`, without silent drops.

    Same arguments, layout and output as mmpretrain's ``VOC`` (image ids
    from ``ImageSets/Main/<split>.txt``; ``gt_label`` = classes with a
    non-difficult object, ``gt_label_difficult`` = classes whose objects
    are all difficult, which the AP metrics ignore), with these changes:

    * An ``<object>`` whose ``<name>`` is not one of the dataset's classes
      raises ``ValueError`` naming the xml file and the name
      (``unknown_classes='error'``, default chosen here). mmpretrain's VOC
      skips it silently, which hides typos in hand-made annotations;
      ``unknown_classes='ignore'`` restores that, e.g. when ``classes``
      selects a subset of the 20.
    * A missing annotation file, malformed xml or an ``<object>`` without
      ``<name>`` raise errors naming the file. A missing ``<difficult>``
      counts as 0 (as in the VOC devkit's reader); mmpretrain's VOC fails
      with an ``AttributeError`` there.
    * An image id listed twice in the image set, or an empty image set,
      raise ``ValueError`` (mmpretrain's VOC would use the image twice).
    * A class with both a difficult and a non-difficult object is a plain
      positive only (the devkit's per-class list says 1 there); mmpretrain's
      VOC puts it in both lists.

    Expected layout::

        <data_root>/                  e.g. data/VOCdevkit/VOC2007
        |-- Annotations/<id>.xml      <object><name>, <difficult> per object
        |-- ImageSets/Main/<split>.txt  image ids (train, val, trainval, test)
        `-- JPEGImages/<id>.jpg

    Args:
        unknown_classes: ``'error'`` or ``'ignore'``, see above.
        **kwargs: the arguments of mmpretrain's ``VOC`` (``data_root``,
            ``split``, ``image_set_path``, ``data_prefix``, ...).
    """

    def __init__(self, *args, unknown_classes: str = 'error', **kwargs):
        if unknown_classes not in UNKNOWN_CLASS_MODES:
            raise ValueError(
                f'StrictVOC: unknown_classes must be one of '
                f'{UNKNOWN_CLASS_MODES}, got {unknown_classes!r}')
        self.unknown_classes = unknown_classes
        super().__init__(*args, **kwargs)

    def load_data_list(self) -> List[dict]:
        """mmpretrain's ``VOC.load_data_list``, then: every id once, and at
        least one image.

        Returns:
            One dict per image: ``img_path``, ``gt_label``,
            ``gt_label_difficult``.
        """
        data_list = super().load_data_list()
        if not data_list:
            raise ValueError(f'StrictVOC: {self.image_set_path} lists no '
                             'image ids; expected one id per line')
        seen = {}
        for i, info in enumerate(data_list):
            j = seen.setdefault(info['img_path'], i)
            if j != i:
                raise ValueError(
                    f'StrictVOC: {self.image_set_path} lists the same image '
                    f'twice (entries {j + 1} and {i + 1}: '
                    f"{info['img_path']}); expected each id once")
        return data_list

    def _get_labels_from_xml(self, img_id: str) -> Tuple[List[int], List[int]]:
        """Labels and difficult-only labels of one image, checked.

        Args:
            img_id: the image id (xml file stem).

        Returns:
            ``(labels, labels_difficult)``, sorted class indices.
        """
        xml_path = self.backend.join_path(self.ann_prefix, f'{img_id}.xml')
        try:
            content = self.backend.get(xml_path)
        except FileNotFoundError as e:
            raise FileNotFoundError(
                f'StrictVOC: {xml_path} not found, but image {img_id} is '
                f'listed in {self.image_set_path}') from e
        try:
            root = ET.fromstring(content)
        except ET.ParseError as e:
            raise ValueError(f'StrictVOC: {xml_path} is not valid xml: '
                             f'{e}') from e

        class_to_idx = self.class_to_idx
        labels, difficult = set(), set()
        for obj in root.findall('object'):
            name_node = obj.find('name')
            if name_node is None or not (name_node.text or '').strip():
                raise ValueError(
                    f'StrictVOC: {xml_path} has an <object> without <name>')
            name = name_node.text.strip()
            if name not in class_to_idx:
                if self.unknown_classes == 'ignore':
                    continue
                raise ValueError(
                    f'StrictVOC: {xml_path} has an object named {name!r}, '
                    f'which is not one of the {len(class_to_idx)} classes '
                    f'{tuple(class_to_idx)}; fix the file, or set '
                    "unknown_classes='ignore' to skip such objects")
            node = obj.find('difficult')
            text = (node.text or '').strip() if node is not None else '0'
            if text not in ('0', '1'):
                raise ValueError(
                    f'StrictVOC: {xml_path}: <difficult> of {name!r} is '
                    f'{text!r}, expected 0 or 1')
            (difficult if text == '1' else labels).add(class_to_idx[name])
        return sorted(labels), sorted(difficult - labels)
