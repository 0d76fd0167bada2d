"""COCOMultiLabel on small hand-made instances_*.json files: non-contiguous
category ids, crowd annotations, unlabelled images, and bad files."""
import copy
import json
import logging

import pytest

import marl_mm  # noqa: F401  (registers the datasets)
from marl_mm.datasets import COCOMultiLabel
from mmengine.logging import MMLogger

# ids deliberately unsorted and non-contiguous; the official order is by id
CATEGORIES = [
    dict(id=90, name='toothbrush', supercategory='indoor'),
    dict(id=1, name='person', supercategory='person'),
    dict(id=13, name='stop sign', supercategory='outdoor'),
    dict(id=5, name='airplane', supercategory='vehicle'),
]
# category ids 1, 5, 13, 90
SORTED_NAMES = ('person', 'airplane', 'stop sign', 'toothbrush')


def _ann(ann_id, image_id, category_id, iscrowd=0):
    return dict(id=ann_id, image_id=image_id, category_id=category_id,
                iscrowd=iscrowd, bbox=[0, 0, 1, 1], area=1.0)


def _instances():
    images = [dict(id=i, file_name=f'{i:012d}.jpg', height=4, width=4)
              for i in (7, 3, 11, 4)]
    annotations = [
        _ann(1, 7, 1), _ann(2, 7, 90), _ann(3, 7, 1),  # person x2, toothbrush
        _ann(4, 3, 5, iscrowd=1),  # image 3: a crowd of airplanes only
        # image 11: no annotation at all
        _ann(5, 4, 13), _ann(6, 4, 1, iscrowd=1),  # stop sign + crowd person
    ]
    return dict(images=images, annotations=annotations,
                categories=copy.deepcopy(CATEGORIES))


def _write(root, year='2014', split='train', content=None):
    ann = root / 'annotations' / f'instances_{split}{year}.json'
    ann.parent.mkdir(parents=True, exist_ok=True)
    (root / f'{split}{year}').mkdir(exist_ok=True)
    ann.write_text(json.dumps(content if content is not None else
                              _instances()))
    return dict(data_root=str(root),
                ann_file=f'annotations/instances_{split}{year}.json',
                data_prefix=dict(img_path=f'{split}{year}'))


def _labels(ds):
    return {ds.get_data_info(i)['img_id']: ds.get_data_info(i)['gt_label']
            for i in range(len(ds))}


@pytest.mark.parametrize('year', ['2014', '2017'])
def test_labels_follow_sorted_category_ids(tmp_path, year):
    ds = COCOMultiLabel(**_write(tmp_path, year))
    assert ds.CLASSES == SORTED_NAMES
    # crowd='include' (default): image 3 keeps its crowd label; image 11 has
    # no label and is dropped; file order kept.
    assert _labels(ds) == {7: [0, 3], 3: [1], 4: [0, 2]}
    info = ds.get_data_info(0)
    assert info['img_path'] == str(tmp_path / f'train{year}' /
                                   '000000000007.jpg')


def test_crowd_ignore_drops_crowd_only_image(tmp_path):
    ds = COCOMultiLabel(**_write(tmp_path), crowd='ignore')
    assert _labels(ds) == {7: [0, 3], 4: [2]}


def test_keep_empty_in_test_mode(tmp_path):
    ds = COCOMultiLabel(**_write(tmp_path, split='val'), crowd='ignore',
                        keep_empty=True, test_mode=True)
    assert _labels(ds) == {7: [0, 3], 3: [], 11: [], 4: [2]}


def test_unlabelled_count_is_logged(tmp_path):
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logger = MMLogger.get_current_instance()
    logger.addHandler(handler)
    try:
        COCOMultiLabel(**_write(tmp_path), crowd='ignore')
    finally:
        logger.removeHandler(handler)
    text = ' '.join(r.getMessage() for r in records)
    assert '2 images; 2 without any label dropped' in text


def test_classes_checked_against_config(tmp_path):
    kwargs = _write(tmp_path)
    ds = COCOMultiLabel(**kwargs, classes=list(SORTED_NAMES))
    assert len(ds) == 3
    swapped = ['airplane', 'person', 'stop sign', 'toothbrush']
    with pytest.raises(ValueError, match='first at index 0'):
        COCOMultiLabel(**kwargs, classes=swapped)


def test_missing_file_names_path_and_layout(tmp_path):
    with pytest.raises(FileNotFoundError) as e:
        COCOMultiLabel(data_root=str(tmp_path),
                       ann_file='annotations/instances_val2014.json')
    assert str(tmp_path / 'annotations' / 'instances_val2014.json') in \
        str(e.value)
    assert 'instances_train2014.json' in str(e.value)  # the layout


@pytest.mark.parametrize('mutate, message', [
    (lambda d: d.update(categories=[]), "empty 'categories'"),
    (lambda d: d.pop('categories'), "no 'categories' field"),
    (lambda d: d.pop('annotations'), "no 'annotations' field"),
    (lambda d: d['annotations'][2].pop('category_id'),
     r"annotations\[2\] lacks \['category_id'\]"),
    (lambda d: d['images'][1].pop('file_name'),
     r"images\[1\] lacks \['file_name'\]"),
    (lambda d: d['categories'][0].pop('name'),
     r"categories\[0\] lacks \['name'\]"),
    (lambda d: d['annotations'][0].update(category_id=2),
     'category_id 2, not in'),
    (lambda d: d['annotations'][0].update(image_id=99),
     'image_id 99, not in'),
])
def test_bad_json_gives_clear_error(tmp_path, mutate, message):
    content = _instances()
    mutate(content)
    kwargs = _write(tmp_path, content=content)
    with pytest.raises(ValueError, match=message) as e:
        COCOMultiLabel(**kwargs)
    assert 'instances_train2014.json' in str(e.value)


def test_invalid_json_and_options(tmp_path):
    kwargs = _write(tmp_path)
    (tmp_path / kwargs['ann_file']).write_text('{"images": [')
    with pytest.raises(ValueError, match='not valid json'):
        COCOMultiLabel(**kwargs)
    with pytest.raises(ValueError, match='crowd must be one of'):
        COCOMultiLabel(**kwargs, crowd='exclude')
