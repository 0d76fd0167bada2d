"""NUS-WIDE and ESP Game: fake copies of the official files go through the
converters and the datasets; label sets are checked against the matrices
the fakes were written from."""
import json
import struct
from pathlib import Path

import numpy as np
import pytest

import marl_mm  # noqa: F401
from marl_mm.datasets import ESPGame, NUSWIDE, CheckedMultiLabelDataset
from tests_conftest import load_tool

REPO = Path(__file__).resolve().parents[2]


nus_wide = load_tool('tools/dataset_converters/nus_wide.py')
esp_game = load_tool('tools/dataset_converters/esp_game.py')


# ----------------------------------------------------------------- NUS-WIDE
CONCEPTS = [f'concept{i:02d}' for i in range(81)]


def _fake_nus(root, n_train=7, n_test=5, seed=0):
    """Official layout; returns {rel_path: set(labels)} per split."""
    rng = np.random.default_rng(seed)
    (root / 'ConceptsList').mkdir(parents=True)
    (root / 'ConceptsList' / 'Concepts81.txt').write_text(
        '\n'.join(CONCEPTS) + '\n')
    (root / 'ImageList').mkdir()
    labels_dir = root / 'Groundtruth' / 'TrainTestLabels'
    labels_dir.mkdir(parents=True)
    truth = {}
    for split, n in (('Train', n_train), ('Test', n_test)):
        matrix = rng.random((n, 81)) < 0.05
        matrix[1] = False  # unlabelled images
        matrix[3] = False
        matrix[0, [4, 80]] = True
        folders = ['actor', 'beach', 'zebra']
        names = [f'{folders[i % 3]}\\{i:04d}_{split}.jpg' for i in range(n)]
        (root / 'ImageList' / f'{split}Imagelist.txt').write_text(
            '\n'.join('C:\\ImageData\\Flickr\\' + x for x in names) + '\n')
        for j, concept in enumerate(CONCEPTS):
            (labels_dir / f'Labels_{concept}_{split}.txt').write_text(
                ''.join(f'{int(v)} \n' for v in matrix[:, j]))
        truth[split] = {
            names[i].replace('\\', '/'): np.nonzero(matrix[i])[0].tolist()
            for i in range(n)
        }
    return truth


def _read(path):
    with open(path) as f:
        return json.load(f)


def test_nus_wide_official_split(tmp_path):
    truth = _fake_nus(tmp_path)
    counts = nus_wide.convert(str(tmp_path), split='official')
    assert counts['listed_train'] == 7 and counts['listed_test'] == 5
    assert counts['unlabelled_train'] == 2 and counts['unlabelled_test'] == 2
    assert counts['train'] == 5 and counts['test'] == 3
    for split in ('train', 'test'):
        js = _read(tmp_path / 'annotations' / f'nus_wide_{split}.json')
        assert js['metainfo']['classes'] == CONCEPTS
        expected = {p: l for p, l in truth[split.capitalize()].items() if l}
        assert {d['img_path']: d['gt_label']
                for d in js['data_list']} == expected

    ds = NUSWIDE(data_root=str(tmp_path),
                 ann_file='annotations/nus_wide_train.json',
                 data_prefix=dict(img_path='Flickr'))
    assert len(ds) == 5 and len(ds.CLASSES) == 81
    first = ds.get_data_info(0)
    assert first['img_path'] == str(tmp_path / 'Flickr' / 'actor' /
                                    '0000_Train.jpg')
    assert first['gt_label'] == truth['Train']['actor/0000_Train.jpg']
    assert {4, 80} <= set(first['gt_label'])


def test_nus_wide_gong2013_split_resamples_labelled_images(tmp_path):
    truth = _fake_nus(tmp_path, n_train=9, n_test=6)
    labelled = {p: l for part in truth.values() for p, l in part.items()
                if len(l)}
    counts = nus_wide.convert(str(tmp_path), num_train=7, seed=3,
                              out_dir=str(tmp_path / 'a'))
    assert counts['train'] == 7 and counts['test'] == len(labelled) - 7
    got = {}
    for split in ('train', 'test'):
        for d in _read(tmp_path / 'a' / f'nus_wide_{split}.json')[
                'data_list']:
            assert d['img_path'] not in got  # disjoint
            got[d['img_path']] = d['gt_label']
    assert got == labelled
    # same seed, same split; the file content is a function of the seed
    nus_wide.convert(str(tmp_path), num_train=7, seed=3,
                     out_dir=str(tmp_path / 'b'))
    assert (tmp_path / 'a' / 'nus_wide_train.json').read_text() == \
        (tmp_path / 'b' / 'nus_wide_train.json').read_text()
    with pytest.raises(ValueError, match='labelled images'):
        nus_wide.convert(str(tmp_path), num_train=len(labelled))


def test_nus_wide_length_mismatch_names_both_files(tmp_path):
    _fake_nus(tmp_path)
    bad = tmp_path / 'Groundtruth' / 'TrainTestLabels' / \
        'Labels_concept07_Test.txt'
    bad.write_text('0\n1\n0\n')
    with pytest.raises(ValueError) as e:
        nus_wide.convert(str(tmp_path))
    msg = str(e.value)
    assert str(bad) in msg and 'TestImagelist.txt' in msg
    assert '3 lines' in msg and '5 images' in msg


def test_nus_wide_bad_value_and_concept_count(tmp_path):
    _fake_nus(tmp_path)
    bad = tmp_path / 'Groundtruth' / 'TrainTestLabels' / \
        'Labels_concept00_Train.txt'
    bad.write_text('0\n1\n2\n0\n0\n0\n0\n')
    with pytest.raises(ValueError, match="line 3 is '2'"):
        nus_wide.convert(str(tmp_path))
    (tmp_path / 'ConceptsList' / 'Concepts81.txt').write_text('a\nb\n')
    with pytest.raises(ValueError, match='2 concepts, expected 81'):
        nus_wide.convert(str(tmp_path))


# ----------------------------------------------------------------- ESP Game
def _write_hvecs(path, matrix, fmt='H'):
    """Independent writer: per row a length, then the values (LEAR)."""
    with open(path, 'wb') as f:
        for row in matrix:
            f.write(struct.pack(f'<{fmt}', len(row)))
            f.write(struct.pack(f'<{len(row)}{fmt}', *[int(v) for v in row]))


def _fake_esp(root, ext='.hvecs', n=(6, 4), seed=1):
    rng = np.random.default_rng(seed)
    words = [f'word{i:03d}' for i in range(268)]
    (root / 'espgame_dictionary.txt').write_text('\n'.join(words) + '\n')
    truth = {}
    for split, count in zip(('train', 'test'), n):
        matrix = (rng.random((count, 268)) < 0.02).astype(int)
        matrix[0, [0, 267]] = 1
        matrix[2] = 0  # one unlabelled image per split
        lines = [f'images/{split}{i}' for i in range(count)]
        (root / f'espgame_{split}_list.txt').write_text('\n'.join(lines))
        path = root / f'espgame_{split}_annot{ext}'
        if ext == '.txt':
            path.write_text('\n'.join(' '.join(map(str, r)) for r in matrix))
        else:
            _write_hvecs(path, matrix, 'H' if ext == '.hvecs' else 'I')
        truth[split] = {f'{split}{i}.jpg': np.nonzero(matrix[i])[0].tolist()
                        for i in range(count)}
    return words, truth


@pytest.mark.parametrize('ext', ['.hvecs', '.hvecs32', '.txt'])
def test_esp_game_converter_and_dataset(tmp_path, ext):
    words, truth = _fake_esp(tmp_path, ext)
    counts = esp_game.convert(str(tmp_path), annot_ext=ext)
    assert (counts['train'], counts['test']) == (5, 3)
    assert (counts['unlabelled_train'], counts['unlabelled_test']) == (1, 1)
    for split in ('train', 'test'):
        js = _read(tmp_path / 'annotations' / f'espgame_{split}.json')
        assert js['metainfo']['classes'] == words
        assert {d['img_path']: d['gt_label'] for d in js['data_list']} == \
            {p: l for p, l in truth[split].items() if l}
    ds = ESPGame(data_root=str(tmp_path),
                 ann_file='annotations/espgame_test.json',
                 data_prefix=dict(img_path='images'), test_mode=True)
    assert len(ds) == 3 and len(ds.CLASSES) == 268
    assert ds.get_data_info(0)['gt_label'] == truth['test']['test0.jpg']
    assert {0, 267} <= set(ds.get_data_info(0)['gt_label'])
    assert ds.get_data_info(0)['img_path'] == str(tmp_path / 'images' /
                                                  'test0.jpg')


def test_esp_game_keep_empty(tmp_path):
    _fake_esp(tmp_path)
    counts = esp_game.convert(str(tmp_path), keep_empty=True)
    assert (counts['train'], counts['test']) == (6, 4)
    ds = ESPGame(ann_file=str(tmp_path / 'annotations' /
                              'espgame_train.json'), keep_empty=True)
    assert len(ds) == 6 and ds.get_data_info(2)['gt_label'] == []
    assert len(ESPGame(ann_file=str(tmp_path / 'annotations' /
                                    'espgame_train.json'))) == 5


def test_esp_game_row_mismatch_names_both_files(tmp_path):
    _fake_esp(tmp_path)
    (tmp_path / 'espgame_test_list.txt').write_text('images/a\nimages/b\n')
    with pytest.raises(ValueError) as e:
        esp_game.convert(str(tmp_path))
    msg = str(e.value)
    assert 'espgame_test_annot.hvecs has 4 rows' in msg
    assert 'espgame_test_list.txt lists 2 images' in msg


def test_hvecs_truncated_or_not_binary_labels(tmp_path):
    path = tmp_path / 'x.hvecs'
    _write_hvecs(path, np.ones((3, 268), int))
    assert esp_game.read_hvecs(path).shape == (3, 268)
    path.write_bytes(path.read_bytes()[:-2])
    with pytest.raises(ValueError, match='truncated'):
        esp_game.read_hvecs(path)
    _write_hvecs(path, np.full((2, 5), 3))
    with pytest.raises(ValueError, match='0/1 label matrix'):
        esp_game.read_annotations(path)


# --------------------------------------------------- checked json datasets
def _json(path, classes, data_list):
    path.write_text(json.dumps(dict(metainfo=dict(classes=classes),
                                    data_list=data_list)))
    return str(path)


def test_class_count_checked(tmp_path):
    ann = _json(tmp_path / 'a.json', [f'c{i}' for i in range(80)],
                [dict(img_path='x.jpg', gt_label=[1])])
    with pytest.raises(ValueError, match='80 classes, expected 81'):
        NUSWIDE(ann_file=ann)
    with pytest.raises(ValueError, match='80 classes, expected 268'):
        ESPGame(ann_file=ann)


@pytest.mark.parametrize('labels, error, message', [
    ([0, 3], ValueError, r'gt_label holds 3, outside \[0, 3\)'),
    ([-1], ValueError, 'outside'),
    (['a'], TypeError, 'integer class indices'),
    (1, TypeError, 'must be a list'),
])
def test_bad_labels(tmp_path, labels, error, message):
    ann = _json(tmp_path / 'a.json', ['a', 'b', 'c'],
                [dict(img_path='x.jpg', gt_label=[1]),
                 dict(img_path='y.jpg', gt_label=labels)])
    with pytest.raises(error, match=message) as e:
        CheckedMultiLabelDataset(ann_file=ann)
    assert r'data_list[1]' in str(e.value) and 'a.json' in str(e.value)


def test_checked_json_merges_duplicates_and_checks_classes(tmp_path):
    ann = _json(tmp_path / 'a.json', ['a', 'b', 'c'],
                [dict(img_path='x.jpg', gt_label=[2, 0, 2]),
                 dict(img_path='y.jpg', gt_label=[])])
    ds = CheckedMultiLabelDataset(ann_file=ann)
    assert len(ds) == 1 and ds.get_data_info(0)['gt_label'] == [0, 2]
    with pytest.raises(ValueError, match='differ from metainfo.classes'):
        CheckedMultiLabelDataset(ann_file=ann, classes=['a', 'c', 'b'])
    with pytest.raises(FileNotFoundError, match='nus_wide.py'):
        NUSWIDE(ann_file=str(tmp_path / 'missing.json'))


def test_read_lines_shared_by_both_converters(tmp_path):
    from marl_mm.datasets.utils import read_lines
    for tool in (nus_wide, esp_game):
        assert tool.read_lines is read_lines
    good = tmp_path / 'good.txt'
    good.write_text(' a \nb\n\n\n')
    assert read_lines(good, 'X') == ['a', 'b']  # trailing blanks dropped
    bad = tmp_path / 'bad.txt'
    bad.write_text('a\n\nb\n')
    with pytest.raises(ValueError, match=r'bad\.txt: line 2 is empty'):
        read_lines(bad, 'X')
    with pytest.raises(FileNotFoundError,
                       match=r'missing\.txt not found \(see the layout in '
                       r'tools/x\.py\)'):
        read_lines(tmp_path / 'missing.txt', 'tools/x.py')
