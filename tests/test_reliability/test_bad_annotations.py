"""Bad-input suite (issue 6, item 4), annotation files and dataset converters:
unknown classes, missing fields, duplicates, wrong types, no code run from
an annotation file, unlabelled images, mismatched lists, a missing data root
(rows 15-22).

Every kind of bad input gets a clear error naming the file / field and what
was expected, a conversion checked against an independent decoder, or a
logged skip. The table of behaviours is docs/reliability.md; the test names
carry its row numbers."""
import json
import pickle
import struct
from pathlib import Path

import mmengine
import numpy as np
import pytest
import yaml
from mmengine.config import Config
from mmengine.registry import init_default_scope

import marl_mm  # noqa: F401  (registers everything)
from marl_mm.datasets import (COCOMultiLabel, CheckedMultiLabelDataset,
                              StrictVOC, check_data_roots)
from tests_conftest import LogRecords, json_dataset, load_tool

REPO = Path(__file__).resolve().parents[2]
DATASETS = REPO / 'configs' / '_base_' / 'datasets'

init_default_scope('mmpretrain')


# -------------------------------------------------- 15-22 annotation files
def _voc(root, annotations, ids=None):
    for sub in ('JPEGImages', 'Annotations', 'ImageSets/Main'):
        (root / sub).mkdir(parents=True, exist_ok=True)
    for img_id, names in annotations.items():
        body = ''.join(f'<object><name>{n}</name><difficult>0</difficult>'
                       '</object>' for n in names)
        (root / 'Annotations' / f'{img_id}.xml').write_text(
            f'<annotation>{body}</annotation>')
    (root / 'ImageSets' / 'Main' / 'train.txt').write_text(
        '\n'.join(ids or annotations) + '\n')
    return dict(data_root=str(root), split='train')


def _coco(root, mutate=None):
    images = [dict(id=i, file_name=f'{i}.jpg') for i in (1, 2, 3)]
    anns = [dict(id=10, image_id=1, category_id=5),
            dict(id=11, image_id=2, category_id=1),
            dict(id=12, image_id=3, category_id=1)]
    cats = [dict(id=1, name='person'), dict(id=5, name='airplane')]
    content = dict(images=images, annotations=anns, categories=cats)
    if mutate:
        mutate(content)
    (root / 'ann.json').write_text(json.dumps(content))
    return dict(data_root=str(root), ann_file='ann.json')


def test_15_unknown_class_name(tmp_path):
    kwargs = _voc(tmp_path, {'000001': ['dog'], '000002': ['dgo']})
    with pytest.raises(ValueError) as e:
        StrictVOC(**kwargs)
    assert '000002.xml' in str(e.value) and "'dgo'" in str(e.value)
    coco = _coco(tmp_path, lambda d: d['annotations'][1].update(
        category_id=7))
    with pytest.raises(ValueError, match=r"annotations\[1\] has category_id "
                       '7, not in'):
        COCOMultiLabel(**coco)


@pytest.mark.parametrize('kind', ['voc', 'coco', 'json'])
def test_16_missing_fields(tmp_path, kind):
    if kind == 'voc':
        kwargs = _voc(tmp_path, {'000001': ['dog']})
        (tmp_path / 'Annotations' / '000001.xml').write_text(
            '<annotation><object><difficult>0</difficult></object>'
            '</annotation>')
        with pytest.raises(ValueError, match='000001.xml has an <object> '
                           'without <name>'):
            StrictVOC(**kwargs)
    elif kind == 'coco':
        kwargs = _coco(tmp_path, lambda d: d['images'][2].pop('file_name'))
        with pytest.raises(ValueError, match=r"images\[2\] lacks "
                           r"\['file_name'\]"):
            COCOMultiLabel(**kwargs)
    else:
        kwargs = json_dataset(tmp_path, [dict(img_path='a.jpg',
                                               gt_label=[0]),
                                          dict(img_path='b.jpg')])
        with pytest.raises(ValueError, match=r"data_list\[1\] needs "
                           "'img_path' and 'gt_label'"):
            CheckedMultiLabelDataset(**kwargs)


@pytest.mark.parametrize('kind', ['voc', 'coco_images', 'coco_annotations',
                                  'json'])
def test_17_duplicate_ids(tmp_path, kind):
    if kind == 'voc':
        kwargs = _voc(tmp_path, {'000001': ['dog'], '000002': ['cat']},
                      ids=['000001', '000002', '000001'])
        with pytest.raises(ValueError, match=r'train.txt lists the same '
                           r'image twice \(entries 1 and 3'):
            StrictVOC(**kwargs)
    elif kind.startswith('coco'):
        key = kind.split('_')[1]
        kwargs = _coco(tmp_path, lambda d: d[key][2].update(
            id=d[key][0]['id']))
        with pytest.raises(ValueError, match=rf'{key}\[0\] and {key}\[2\] '
                           'have the same id'):
            COCOMultiLabel(**kwargs)
    else:
        kwargs = json_dataset(tmp_path, [
            dict(img_path='a.jpg', gt_label=[0]),
            dict(img_path='b.jpg', gt_label=[1]),
            dict(img_path='a.jpg', gt_label=[2])])
        with pytest.raises(ValueError, match=r"data_list\[0\] and "
                           r"data_list\[2\] name the same image 'a.jpg'"):
            CheckedMultiLabelDataset(**kwargs)


@pytest.mark.parametrize('entry, error, message', [
    (dict(img_path='a.jpg', gt_label=['1']), TypeError,
     r"data_list\[0\].gt_label holds '1'; expected integer"),
    (dict(img_path='a.jpg', gt_label=1.0), TypeError,
     'must be a list of class indices, got float'),
    (dict(img_path='a.jpg', gt_label=[True]), TypeError, 'holds True'),
    (dict(img_path=3, gt_label=[1]), TypeError,
     r"img_path is 3; expected a string"),
    (dict(img_path='a.jpg', gt_label=[4]), ValueError,
     r'holds 4, outside \[0, 4\)'),
])
def test_18_wrong_types_in_json(tmp_path, entry, error, message):
    with pytest.raises(error, match=message) as e:
        CheckedMultiLabelDataset(**json_dataset(tmp_path, [entry]))
    assert 'ann.json' in str(e.value)


def test_18_wrong_types_in_coco_and_not_json(tmp_path):
    kwargs = _coco(tmp_path, lambda d: d['annotations'][0].update(
        category_id='5'))
    with pytest.raises(ValueError, match="category_id 5, not in"):
        COCOMultiLabel(**kwargs)
    (tmp_path / 'ann.json').write_text('{"images": [1, 2')
    with pytest.raises(ValueError, match='ann.json is not valid json'):
        COCOMultiLabel(**kwargs)
    (tmp_path / 'ann.json').write_text('[1, 2]')
    with pytest.raises(ValueError, match='must hold a json object, got '
                       'list'):
        COCOMultiLabel(**kwargs)


def test_18_annotation_files_are_read_without_running_code(tmp_path,
                                                           file_payload):
    """json / yaml / pickle annotations give the same data; code in a yaml
    tag or a pickle is refused and never run (mmengine's handlers would)."""
    from marl_mm.utils import UnsafePickleError
    data = dict(metainfo=dict(classes=['a', 'b', 'c']),
                data_list=[dict(img_path='x.jpg', gt_label=[2, 0]),
                           dict(img_path='y.jpg', gt_label=[1])])
    (tmp_path / 'ann.json').write_text(json.dumps(data))
    (tmp_path / 'ann.yaml').write_text(yaml.safe_dump(data))
    with open(tmp_path / 'ann.pkl', 'wb') as f:
        pickle.dump(data, f)
    lists = {}
    for suffix in ('json', 'yaml', 'pkl'):
        ds = CheckedMultiLabelDataset(data_root=str(tmp_path),
                                      ann_file=f'ann.{suffix}')
        lists[suffix] = [(d['img_path'], d['gt_label'])
                         for d in ds.load_data_list()]
    assert lists['json'] == [(str(tmp_path / 'x.jpg'), [0, 2]),
                             (str(tmp_path / 'y.jpg'), [1])]
    assert lists['yaml'] == lists['json'] and lists['pkl'] == lists['json']

    target = tmp_path / 'pwned.txt'
    with open(tmp_path / 'evil.pkl', 'wb') as f:
        pickle.dump(dict(data, x=file_payload(target)), f)
    with pytest.raises(UnsafePickleError, match='evil.pkl'):
        CheckedMultiLabelDataset(data_root=str(tmp_path),
                                 ann_file='evil.pkl')
    (tmp_path / 'evil.yaml').write_text(
        f"metainfo: !!python/object/apply:builtins.open ['{target}', 'w']\n")
    with pytest.raises(yaml.YAMLError):
        CheckedMultiLabelDataset(data_root=str(tmp_path),
                                 ann_file='evil.yaml')
    assert not target.exists()
    # control: the payloads are real - the unrestricted readers run them
    mmengine.load(str(tmp_path / 'evil.yaml'))
    assert target.exists()
    target.unlink()
    mmengine.load(str(tmp_path / 'evil.pkl'))
    assert target.exists()

    (tmp_path / 'ann.txt').write_text('x.jpg 0')
    with pytest.raises(ValueError, match=r"ann.txt has suffix '.txt'; "
                       r"expected one of \('.json'"):
        CheckedMultiLabelDataset(data_root=str(tmp_path),
                                 ann_file='ann.txt')


def test_19_coco_without_categories(tmp_path):
    with pytest.raises(ValueError, match="empty 'categories' list"):
        COCOMultiLabel(**_coco(tmp_path, lambda d: d.update(categories=[])))
    with pytest.raises(ValueError, match="no 'categories' field"):
        COCOMultiLabel(**_coco(tmp_path, lambda d: d.pop('categories')))


def test_20_images_without_labels_dropped_and_logged(tmp_path):
    data = [dict(img_path=f'{i}.jpg', gt_label=lab)
            for i, lab in enumerate([[0], [], [1, 2], []])]
    kwargs = json_dataset(tmp_path, data)
    with LogRecords() as log:
        ds = CheckedMultiLabelDataset(**kwargs)
    assert [ds.get_data_info(i)['gt_label'] for i in range(len(ds))] == \
        [[0], [1, 2]]
    assert '2 images; 2 without any label dropped' in log.text
    kept = CheckedMultiLabelDataset(**kwargs, keep_empty=True,
                                    test_mode=True)
    assert [kept.get_data_info(i)['gt_label'] for i in range(4)] == \
        [[0], [], [1, 2], []]
    none = json_dataset(tmp_path, [dict(img_path='a.jpg', gt_label=[])])
    with pytest.raises(ValueError, match='none of the 1 images .* has a '
                       'label'):
        CheckedMultiLabelDataset(**none)


def test_21_nus_wide_lists_of_mismatched_length(tmp_path):
    concepts = [f'c{i}' for i in range(81)]
    (tmp_path / 'ConceptsList').mkdir()
    (tmp_path / 'ConceptsList' / 'Concepts81.txt').write_text(
        '\n'.join(concepts))
    (tmp_path / 'ImageList').mkdir()
    labels = tmp_path / 'Groundtruth' / 'TrainTestLabels'
    labels.mkdir(parents=True)
    for split in ('Train', 'Test'):
        (tmp_path / 'ImageList' / f'{split}Imagelist.txt').write_text(
            'a\\1.jpg\na\\2.jpg\na\\3.jpg\n')
        for c in concepts:
            (labels / f'Labels_{c}_{split}.txt').write_text('1\n0\n0\n')
    (labels / 'Labels_c7_Train.txt').write_text('1\n0\n')  # one line short
    with pytest.raises(ValueError) as e:
        load_tool('tools/dataset_converters/nus_wide.py').convert(
            str(tmp_path), split='official')
    assert 'Labels_c7_Train.txt' in str(e.value)
    assert 'TrainImagelist.txt' in str(e.value)


def test_21_esp_game_lists_of_mismatched_length(tmp_path):
    (tmp_path / 'espgame_dictionary.txt').write_text(
        '\n'.join(f'w{i}' for i in range(268)))
    for split, n_list in (('train', 3), ('test', 2)):
        (tmp_path / f'espgame_{split}_list.txt').write_text(
            '\n'.join(f'{split}{i}.jpg' for i in range(n_list)))
        rows = 2  # train lists 3 images but has 2 label rows
        with open(tmp_path / f'espgame_{split}_annot.hvecs', 'wb') as f:
            for r in range(rows):  # LEAR: a uint16 length, then values
                f.write(struct.pack('<H', 268))
                f.write(np.eye(268, dtype='<u2')[r].tobytes())
    with pytest.raises(ValueError) as e:
        load_tool('tools/dataset_converters/esp_game.py').convert(
            str(tmp_path))
    assert 'espgame_train_list.txt' in str(e.value)
    assert 'espgame_train_annot.hvecs' in str(e.value)


def test_22_data_root_does_not_exist(tmp_path):
    cfg = Config.fromfile(str(DATASETS / 'voc07_rarl_512.py'))
    cfg.train_dataloader.dataset.data_root = str(tmp_path / 'nowhere')
    with pytest.raises(FileNotFoundError) as e:
        check_data_roots(cfg, splits=('train', ))
    text = str(e.value)
    assert f'data_root = {tmp_path / "nowhere"} does not exist' in text
    assert 'Annotations/<id>.xml' in text  # the expected layout
    assert "README section 'Data preparation'" in text
    ds = dict(cfg.train_dataloader.dataset, pipeline=[])
    with pytest.raises(FileNotFoundError, match='nowhere'):
        StrictVOC(**{k: v for k, v in ds.items() if k != 'type'})
