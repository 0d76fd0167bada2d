"""Bad-input suite (issue 6, item 4): every kind of bad input gets a clear
error naming the file / field and what was expected, a conversion that is
checked against an independent decoder, or a logged skip. The table of
behaviours is docs/reliability.md; the test names carry its numbers."""
import json
import logging
import pickle
import struct
from pathlib import Path
from types import SimpleNamespace

import cv2
import mmengine
import numpy as np
import pytest
import torch
import yaml
from mmcv.transforms import Compose, LoadImageFromFile
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.registry import init_default_scope
from PIL import Image

import marl_mm  # noqa: F401  (registers everything)
from marl_mm.datasets import (COCOMultiLabel, CheckedMultiLabelDataset,
                              StrictVOC, check_data_roots)
from marl_mm.engine import MarlRunner
from marl_mm.engine.hooks import DataCheckHook, NonFiniteCheckHook
from mmpretrain.registry import MODELS, TRANSFORMS
from mmpretrain.structures import DataSample

REPO = Path(__file__).resolve().parents[2]
DATASETS = REPO / 'configs' / '_base_' / 'datasets'

init_default_scope('mmpretrain')


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny models: one thread is faster than two on a shared machine."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


# ------------------------------------------------------------------ helpers
def _rgb(h=24, w=32, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), np.uint8)


def _loader(**kwargs):
    return TRANSFORMS.build(dict(type='CheckedLoadImageFromFile', **kwargs))


def _load(path, **kwargs):
    return _loader(**kwargs)(dict(img_path=str(path)))['img']


def _pipeline(config, split='train_pipeline'):
    return Compose([TRANSFORMS.build(t) for t in
                    Config.fromfile(str(DATASETS / config))[split]])


class _Records(logging.Handler):
    """Collects the current MMLogger's messages."""

    def __enter__(self):
        self.messages, self.records = [], []
        self.logger = MMLogger.get_current_instance()
        self.logger.addHandler(self)
        return self

    def emit(self, record):
        self.messages.append(record.getMessage())
        self.records.append(record)

    def __exit__(self, *exc):
        self.logger.removeHandler(self)

    @property
    def text(self):
        return '\n'.join(self.messages)


def _json_dataset(root, data_list, classes=('a', 'b', 'c', 'd'), **kwargs):
    (root / 'ann.json').write_text(json.dumps(
        dict(metainfo=dict(classes=list(classes)), data_list=data_list)))
    return dict(data_root=str(root), ann_file='ann.json', **kwargs)


# ------------------------------------------------- 1-5 undecodable images
def _jpeg_bytes(h=24, w=32):
    ok, buf = cv2.imencode('.jpg', _rgb(h, w))
    return buf.tobytes()


def _png_bytes():
    ok, buf = cv2.imencode('.png', _rgb())
    return buf.tobytes()


@pytest.mark.parametrize('name, content, message', [
    # 1 corrupt: a JPEG header, then garbage
    ('corrupt.jpg', b'\xff\xd8\xff\xe0' + b'garbage!' * 40,
     'truncated or corrupt JPEG'),
    # 2 truncated JPEG (cut in its image data)
    ('truncated.jpg', _jpeg_bytes()[:-200], 'truncated or corrupt JPEG'),
    # 3 truncated PNG
    ('truncated.png', _png_bytes()[:300], 'could not be decoded'),
    # 4 zero bytes
    ('empty.jpg', b'', r'empty \(0 bytes\)'),
    # 5 not an image at all
    ('notes.jpg', b'this is a text file', 'could not be decoded'),
])
def test_01_05_undecodable_image_names_file(tmp_path, name, content,
                                            message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ValueError, match=message) as e:
        _load(path)
    assert str(path) in str(e.value)


def test_01_05_stock_loader_errors_are_unclear(tmp_path):
    """Why the checked loader exists: mmcv's loader gives an OpenCV
    assertion for a zero-byte file and a bare AssertionError otherwise."""
    (tmp_path / 'empty.jpg').write_bytes(b'')
    with pytest.raises(cv2.error):
        LoadImageFromFile()(dict(img_path=str(tmp_path / 'empty.jpg')))
    (tmp_path / 'notes.jpg').write_bytes(b'text')
    with pytest.raises(AssertionError):
        LoadImageFromFile()(dict(img_path=str(tmp_path / 'notes.jpg')))


# -------------------------------------- 6-10 odd colour modes and depths
def _pil_bgr(path):
    """Independent reference: Pillow's RGB conversion, in BGR order."""
    return np.asarray(Image.open(path).convert('RGB'))[..., ::-1]


def test_06_grayscale_becomes_three_equal_channels(tmp_path):
    gray = _rgb()[..., 0]
    Image.fromarray(gray).save(tmp_path / 'g.png')
    img = _load(tmp_path / 'g.png')
    assert img.shape == (24, 32, 3) and img.dtype == np.uint8
    for c in range(3):
        np.testing.assert_array_equal(img[..., c], gray)


def test_07_cmyk_jpeg_matches_pillow(tmp_path):
    Image.fromarray(_rgb()).convert('CMYK').save(tmp_path / 'c.jpg')
    assert Image.open(tmp_path / 'c.jpg').mode == 'CMYK'
    img = _load(tmp_path / 'c.jpg')
    assert img.shape == (24, 32, 3) and img.dtype == np.uint8
    diff = np.abs(img.astype(int) - _pil_bgr(tmp_path / 'c.jpg'))
    assert diff.mean() < 2 and diff.max() <= 8  # two IDCTs, same colours


def test_08_16bit_png_maps_to_8bit(tmp_path):
    a16 = np.random.default_rng(1).integers(0, 65536, (24, 32, 3),
                                            dtype=np.uint16)
    cv2.imwrite(str(tmp_path / 'c16.png'), a16)  # stored as given (BGR)
    Image.fromarray(a16[..., 0]).save(tmp_path / 'g16.png')  # mode I;16
    img = _load(tmp_path / 'c16.png')
    assert img.dtype == np.uint8
    np.testing.assert_array_equal(img, a16 // 256)
    gray = _load(tmp_path / 'g16.png')
    np.testing.assert_array_equal(gray, np.repeat(a16[..., :1] // 256, 3, 2))


def test_09_rgba_drops_alpha(tmp_path):
    rgb = _rgb()
    alpha = np.random.default_rng(2).integers(0, 256, (24, 32, 1), np.uint8)
    Image.fromarray(np.concatenate([rgb, alpha], 2)).save(tmp_path / 'a.png')
    np.testing.assert_array_equal(_load(tmp_path / 'a.png'), rgb[..., ::-1])


def test_10_palette_png_matches_pillow(tmp_path):
    Image.fromarray(_rgb()).convert('P').save(tmp_path / 'p.png')
    np.testing.assert_array_equal(_load(tmp_path / 'p.png'),
                                  _pil_bgr(tmp_path / 'p.png'))


@pytest.mark.parametrize('mode', ['L', 'CMYK', 'RGBA', 'I;16'])
def test_06_10_same_as_stock_loader_with_config_settings(tmp_path, mode):
    """The conversions are mmcv / OpenCV's (color_type='color'): the checked
    loader returns the stock loader's array on valid files."""
    rgb = _rgb()
    pil = Image.fromarray(rgb[..., 0].astype(np.uint16) * 257) \
        if mode == 'I;16' else Image.fromarray(rgb).convert(mode)
    path = tmp_path / ('x.jpg' if mode == 'CMYK' else 'x.png')
    pil.save(path)
    ours = _load(path)
    stock = LoadImageFromFile()(dict(img_path=str(path)))['img']
    np.testing.assert_array_equal(ours, stock)
    assert ours.shape[2] == 3 and ours.dtype == np.uint8


def test_06_10_unchanged_decode_is_normalised_too(tmp_path):
    """With color_type='unchanged' OpenCV keeps 1 / 4 channels and 16 bit;
    the loader still returns (H, W, 3) uint8."""
    rgb = _rgb()
    Image.fromarray(np.concatenate([rgb, rgb[..., :1]], 2)).save(
        tmp_path / 'a.png')
    a16 = rgb[..., 0].astype(np.uint16) * 257 + 3
    Image.fromarray(a16).save(tmp_path / 'g16.png')
    np.testing.assert_array_equal(
        _load(tmp_path / 'a.png', color_type='unchanged'), rgb[..., ::-1])
    np.testing.assert_array_equal(
        _load(tmp_path / 'g16.png', color_type='unchanged'),
        np.repeat((a16 // 256)[..., None], 3, 2).astype(np.uint8))


# ------------------------------------------ 11-12 huge and tiny images
def test_11_huge_image_works_through_config_pipeline(tmp_path):
    h, w = 3000, 4000  # 12 Mpx: decoded and resized, as any image
    big = np.zeros((h, w, 3), np.uint8)
    big[:, w // 2:] = 200  # right half grey
    cv2.imwrite(str(tmp_path / 'big.jpg'), big)
    out = _pipeline('coco_224.py', 'test_pipeline')(
        dict(img_path=str(tmp_path / 'big.jpg')))
    img = out['inputs']  # (3, 224, 224) uint8 tensor
    assert tuple(img.shape) == (3, 224, 224)
    assert out['data_samples'].ori_shape == (h, w)
    assert img[:, :, :100].float().mean() < 2  # left: black
    assert abs(img[:, :, 124:].float().mean() - 200) < 2  # right: grey


def test_11_image_above_max_pixels_refused_from_header(tmp_path):
    cv2.imwrite(str(tmp_path / 'x.png'), _rgb(100, 201))
    with pytest.raises(ValueError) as e:
        _load(tmp_path / 'x.png', max_pixels=20000)
    assert '201 x 100 = 20100 pixels' in str(e.value)
    assert 'max_pixels = 20000' in str(e.value)
    assert 'x.png' in str(e.value)
    assert _load(tmp_path / 'x.png', max_pixels=20100).shape == (100, 201, 3)


@pytest.mark.parametrize('config, size', [('voc07_rarl_512.py', 448),
                                          ('coco_224.py', 224)])
def test_12_image_smaller_than_crop(tmp_path, config, size):
    """The configs resize to N x N before cropping N - 64, so a 5 x 7 image
    is upsampled, never cropped out of bounds."""
    cv2.imwrite(str(tmp_path / 'tiny.png'), _rgb(5, 7))
    torch.manual_seed(0)
    np.random.seed(0)
    out = _pipeline(config)(dict(img_path=str(tmp_path / 'tiny.png')))
    assert tuple(out['inputs'].shape) == (3, size, size)
    assert out['data_samples'].ori_shape == (5, 7)


# ----------------------------------------------- 13-14 missing and skip
def test_13_missing_image_file(tmp_path):
    with pytest.raises(FileNotFoundError) as e:
        _load(tmp_path / 'gone.jpg')
    assert str(tmp_path / 'gone.jpg') in str(e.value)
    assert 'data_root and data_prefix' in str(e.value)


def test_14_on_error_skip_is_logged_and_dataset_draws_another(tmp_path):
    cv2.imwrite(str(tmp_path / 'good.png'), _rgb())
    (tmp_path / 'bad.jpg').write_bytes(b'')
    kwargs = _json_dataset(
        tmp_path, [dict(img_path='bad.jpg', gt_label=[0]),
                   dict(img_path='good.png', gt_label=[1])])
    ds = CheckedMultiLabelDataset(
        **kwargs, pipeline=[dict(type='CheckedLoadImageFromFile',
                                 on_error='skip')])
    with _Records() as log:
        item = ds[0]  # bad: mmengine's BaseDataset draws another index
    assert item['img_path'].endswith('good.png')
    assert 'skipped' in log.text and 'bad.jpg' in log.text
    assert '0 bytes' in log.text
    strict = CheckedMultiLabelDataset(
        **kwargs, pipeline=[dict(type='CheckedLoadImageFromFile')])
    with pytest.raises(ValueError, match='bad.jpg'):
        strict[0]
    with pytest.raises(ValueError, match="use on_error='skip'"):
        _loader(ignore_empty=True)


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
        kwargs = _json_dataset(tmp_path, [dict(img_path='a.jpg',
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
        kwargs = _json_dataset(tmp_path, [
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
        CheckedMultiLabelDataset(**_json_dataset(tmp_path, [entry]))
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
    kwargs = _json_dataset(tmp_path, data)
    with _Records() as log:
        ds = CheckedMultiLabelDataset(**kwargs)
    assert [ds.get_data_info(i)['gt_label'] for i in range(len(ds))] == \
        [[0], [1, 2]]
    assert '2 images; 2 without any label dropped' in log.text
    kept = CheckedMultiLabelDataset(**kwargs, keep_empty=True,
                                    test_mode=True)
    assert [kept.get_data_info(i)['gt_label'] for i in range(4)] == \
        [[0], [], [1, 2], []]
    none = _json_dataset(tmp_path, [dict(img_path='a.jpg', gt_label=[])])
    with pytest.raises(ValueError, match='none of the 1 images .* has a '
                       'label'):
        CheckedMultiLabelDataset(**none)


def _tool(name):
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        f'_bad_input_{name}',
        REPO / 'tools' / 'dataset_converters' / f'{name}.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


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
        _tool('nus_wide').convert(str(tmp_path), split='official')
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
        _tool('esp_game').convert(str(tmp_path))
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


# ------------------------------------------------ 23-24 config / checkpoint
def _model(num_classes=4, depth=18):
    torch.manual_seed(0)
    return MODELS.build(dict(
        type='ImageClassifier',
        data_preprocessor=dict(type='ClsDataPreprocessor',
                               num_classes=num_classes, to_onehot=True,
                               mean=[128.] * 3, std=[64.] * 3),
        backbone=dict(type='ResNet', depth=depth, stem_channels=8,
                      base_channels=8, out_indices=(3, )),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='MultiLabelLinearClsHead', num_classes=num_classes,
                  in_channels=64)))


def _runner(tmp_path, name, model, classes=('a', 'b', 'c', 'd'),
            val_classes=None, hooks=(), test=False, load_from=None):
    for i in range(4):
        cv2.imwrite(str(tmp_path / f'{i}.png'), _rgb(16, 16, seed=i))
    data = [dict(img_path=f'{i}.png', gt_label=[i % len(classes)])
            for i in range(4)]
    pipeline = [dict(type='CheckedLoadImageFromFile'),
                dict(type='PackInputs')]

    def loader(cls, file):
        (tmp_path / file).write_text(json.dumps(dict(
            metainfo=dict(classes=list(cls)), data_list=data)))
        return dict(batch_size=2, num_workers=0,
                    sampler=dict(type='DefaultSampler', shuffle=False),
                    dataset=dict(type='CheckedMultiLabelDataset',
                                 data_root=str(tmp_path), ann_file=file,
                                 pipeline=pipeline))

    val = {}
    if val_classes is not None:
        val = dict(val_dataloader=loader(val_classes, 'val.json'),
                   val_cfg=dict(),
                   val_evaluator=dict(type='MultiLabelAP'))
    if test:
        val.update(test_dataloader=loader(classes, 'test.json'),
                   test_cfg=dict(), test_evaluator=dict(type='MultiLabelAP'))
    return MarlRunner(  # what marl_mm configs build (runner_type)
        model=model, work_dir=str(tmp_path / 'work'),
        experiment_name=name,
        train_dataloader=loader(classes, 'train.json'),
        train_cfg=dict(type='IterBasedTrainLoop', max_iters=1,
                       val_interval=1),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01)),
        default_hooks=dict(checkpoint=None, logger=None),
        custom_hooks=[dict(type=h) for h in hooks],
        default_scope='mmpretrain', randomness=dict(seed=0),
        load_from=load_from, **val)


def test_23_config_class_count_disagrees_with_dataset(tmp_path):
    runner = _runner(tmp_path, 'bad_input_23a', _model(num_classes=3),
                     hooks=['DataCheckHook'])
    with pytest.raises(ValueError) as e:
        runner.train()
    text = str(e.value)
    assert 'model.head.num_classes = 3, but train_dataloader.dataset' in text
    assert 'model.data_preprocessor.num_classes = 3' in text
    assert 'train.json) has 4 classes' in text
    assert runner.iter == 0  # stopped before any iteration


def test_23_train_and_val_name_other_classes(tmp_path):
    runner = _runner(tmp_path, 'bad_input_23b', _model(),
                     val_classes=('a', 'c', 'b', 'd'),
                     hooks=['DataCheckHook'])
    with pytest.raises(ValueError, match=r"val_dataloader.dataset names "
                       r"other classes .* index 1: 'b' vs 'c'"):
        runner.train()


def _checkpoints(tmp_path):
    """A 4-class model's checkpoint, and the same without its head."""
    src = _model(num_classes=4)
    state = src.state_dict()
    torch.save(dict(state_dict=state), tmp_path / 'full.pth')
    partial = {k: v for k, v in state.items() if not k.startswith('head.')}
    torch.save(dict(state_dict=partial), tmp_path / 'partial.pth')
    return src, str(tmp_path / 'full.pth'), str(tmp_path / 'partial.pth')


def test_24_checkpoint_that_does_not_fit_refused_for_testing(tmp_path):
    """tools/test.py and tools/ensemble_test.py load through Runner.test:
    missing keys and size mismatches raise, naming the file and keys."""
    from marl_mm.utils import CheckpointMismatchError
    src, full, partial = _checkpoints(tmp_path)
    runner = _runner(tmp_path, 'bad_input_24a', _model(), test=True,
                     load_from=partial)
    with pytest.raises(CheckpointMismatchError) as e:
        runner.test()
    assert f"checkpoint '{partial}' does not fit the model" in str(e.value)
    assert '2 weight(s) of the model missing from the checkpoint: ' \
        'head.fc.weight, head.fc.bias' in str(e.value)

    other = _model(num_classes=80)  # another model: 80 classes
    with pytest.raises(CheckpointMismatchError,
                       match=r'2 size mismatch\(es\): head.fc.weight '
                       r'\(checkpoint \[4, 64\], model \[80, 64\]\), '
                       r'head.fc.bias \(checkpoint \[4\], model \[80\]\)'):
        _runner(tmp_path, 'bad_input_24b', other).load_checkpoint(full)
    deeper = _model(depth=34)  # another model: a deeper ResNet
    with pytest.raises(CheckpointMismatchError,
                       match=r'\d+ weight\(s\) of the model missing from the '
                       r'checkpoint: backbone.layer1.2.conv1.weight'):
        _runner(tmp_path, 'bad_input_24c', deeper).load_checkpoint(full)

    # the same checkpoint that fits: loaded, tested
    runner = _runner(tmp_path, 'bad_input_24d', _model(), test=True,
                     load_from=full)
    assert 'multi-label/mAP' in str(runner.test())
    assert torch.equal(runner.model.head.fc.weight, src.head.fc.weight)


def test_24_checkpoint_that_does_not_fit_refused_for_inference(tmp_path):
    from marl_mm.apis import MultiLabelInferencer
    from marl_mm.utils import CheckpointMismatchError
    cfg = Config.fromfile(str(REPO / 'configs' / 'resnet18_gap_shapes.py'))
    torch.manual_seed(0)
    state = MODELS.build(cfg.model).state_dict()
    path = tmp_path / 'no_head.pth'
    torch.save(dict(state_dict={k: v for k, v in state.items()
                                if not k.startswith('head.')}), path)
    with pytest.raises(CheckpointMismatchError,
                       match=f"checkpoint '{path}' does not fit .* missing "
                       'from the checkpoint: head.fc.weight, head.fc.bias'):
        MultiLabelInferencer(cfg, pretrained=str(path))


def test_24_partial_load_from_in_training_logged_at_warning(tmp_path):
    """load_from in training: a backbone-only checkpoint loads, the keys left
    initialised go to the log at WARNING; a size mismatch still raises."""
    from marl_mm.utils import CheckpointMismatchError
    src, full, partial = _checkpoints(tmp_path)
    dst = _model(num_classes=4)
    torch.manual_seed(1)
    dst.head.fc.reset_parameters()
    head_before = dst.head.fc.weight.clone()
    runner = _runner(tmp_path, 'bad_input_24e', dst)
    runner._train_loop = runner.build_train_loop(runner._train_loop)
    with _Records() as log:  # what Runner.train does with load_from
        runner.load_checkpoint(partial)
    warnings = [r.getMessage() for r in log.records
                if r.levelno == logging.WARNING]
    assert any(f"checkpoint '{partial}' loaded into ImageClassifier "
               '(partial): 2 model weight(s) not in the checkpoint, left as '
               'initialised: head.fc.weight, head.fc.bias' in w
               for w in warnings), log.text
    assert torch.equal(dst.backbone.conv1.weight, src.backbone.conv1.weight)
    assert torch.equal(dst.head.fc.weight, head_before)  # initialised

    other = _runner(tmp_path, 'bad_input_24f', _model(num_classes=80))
    other._train_loop = other.build_train_loop(other._train_loop)
    with pytest.raises(CheckpointMismatchError, match='size mismatch'):
        other.load_checkpoint(full)


# -------------------------------------------------- 25-27 NaN / inf / zero
def test_25_nan_features_stop_training_naming_iteration_and_term(tmp_path):
    model = _model()
    model.backbone.register_forward_hook(
        lambda m, i, out: tuple(o * float('nan') for o in out))
    runner = _runner(tmp_path, 'bad_input_25', model,
                     hooks=['NonFiniteCheckHook'])
    with pytest.raises(FloatingPointError) as e:
        runner.train()
    text = str(e.value)
    assert 'training iteration 1 (epoch 1, batch 0): loss is nan' in text
    assert '0.png' in text and '1.png' in text  # the batch's images
    # without the hook the run "succeeds" with NaN weights
    model = _model()
    model.backbone.register_forward_hook(
        lambda m, i, out: tuple(o * float('nan') for o in out))
    _runner(tmp_path, 'bad_input_25b', model).train()
    assert torch.isnan(model.head.fc.weight).all()


def _fake_runner(rl_stats=None):
    head = SimpleNamespace(rl_stats=rl_stats or {})
    return SimpleNamespace(model=SimpleNamespace(head=head), iter=6,
                           epoch=2)


@pytest.mark.parametrize('outputs, rl_stats, name', [
    (dict(loss=torch.tensor(1.), loss_cls=torch.tensor(1.),
          loss_pg=torch.tensor(float('inf'))), {}, 'loss_pg is inf'),
    (dict(loss=torch.tensor(float('nan')), loss_cls=torch.tensor(1.),
          reward=torch.tensor(float('nan'))), {}, 'reward is nan'),
    (dict(loss=torch.tensor(1.)),
     dict(reward=torch.tensor(.5), advantage_abs=torch.tensor(float('inf'))),
     'rl_stats.advantage_abs is inf'),
    (dict(loss=torch.tensor(1.), adv_abs=float('-inf')), {},
     'adv_abs is -inf'),
])
def test_26_nan_inf_rewards_and_advantages(outputs, rl_stats, name):
    hook = NonFiniteCheckHook()
    samples = [DataSample(metainfo=dict(img_path=f'{i}.jpg'))
               for i in range(6)]
    with pytest.raises(FloatingPointError) as e:
        hook.after_train_iter(_fake_runner(rl_stats), 3,
                              dict(data_samples=samples), outputs)
    text = str(e.value)
    assert f'training iteration 7 (epoch 3, batch 3): {name}' in text
    assert "'0.jpg'" in text and '(6 in all)' in text
    hook.after_train_iter(  # finite values pass
        _fake_runner(dict(reward=torch.tensor(.5))), 0, None,
        dict(loss=torch.tensor(1.), num_emitted=torch.tensor(3)))


def test_26_nan_predictions_in_validation():
    hook = NonFiniteCheckHook()
    good = DataSample(metainfo=dict(img_path='a.jpg')).set_pred_score(
        torch.tensor([.2, .8]))
    bad = DataSample(metainfo=dict(img_path='b.jpg')).set_pred_score(
        torch.tensor([float('nan'), .8]))
    hook.after_val_iter(None, 0, None, [good])
    with pytest.raises(FloatingPointError, match='test batch 4: pred_score '
                       'of b.jpg holds NaN'):
        hook.after_test_iter(None, 4, None, [good, bad])
    with pytest.raises(ValueError, match='max_images'):
        NonFiniteCheckHook(max_images=-1)


def test_27_zero_glimpses_emitted_for_a_whole_batch():
    """An emission policy that emits nothing: training gives finite losses
    and gradients (no classification term, the policy still learns); at test
    every image emits its most likely glimpse (METHOD.md)."""
    from marl_mm.models.necks import GlimpseFeatures
    torch.manual_seed(0)
    head = MODELS.build(dict(
        type='GRREHead', num_classes=3, in_channels=6, context_channels=6,
        relation_channels=5, emission=dict(bias_init=-50.)))
    head.init_weights()
    g = torch.Generator().manual_seed(0)
    x = torch.rand(2, 4, 6, generator=g, requires_grad=True)
    c = torch.rand(2, 4, 6, generator=g)
    a = torch.rand(2, 4, 6, 3, 3, generator=g)
    feats = GlimpseFeatures(x=x, v=a, a=a, c=c)
    samples = [DataSample().set_gt_label([0, 2]),
               DataSample().set_gt_label([1])]
    losses = head.loss(feats, samples)
    assert float(losses['num_emitted']) == 0
    for key, value in losses.items():
        assert torch.isfinite(torch.as_tensor(value)).all(), key
    total = sum(v for k, v in losses.items() if 'loss' in k)
    total.backward()
    for name, p in head.named_parameters():
        assert p.grad is None or torch.isfinite(p.grad).all(), name
    assert head.emission.fc.bias.grad is not None  # the policy still learns
    head.eval()
    with torch.no_grad():
        preds = head.predict(feats)
    for ds in preds:
        assert int(ds.emission_mask.sum()) == 1
        assert torch.isfinite(ds.pred_score).all()
        # the image score is the emitted glimpse's P_t
        t = int(ds.emission_mask.nonzero())
        torch.testing.assert_close(ds.pred_score, ds.glimpse_scores[t])


def _ddp_nan_worker(rank, port, queue):
    import os
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    torch.distributed.init_process_group('gloo', rank=rank, world_size=2)
    try:
        torch.set_num_threads(1)
        hook = NonFiniteCheckHook()
        hook.after_train_iter(_fake_runner(), 0, None,  # finite on both
                              dict(loss=torch.tensor(1.)))
        loss = torch.tensor(float('nan') if rank == 1 else 1.)
        try:
            hook.after_train_iter(_fake_runner(), 1, None, dict(loss=loss))
            queue.put((rank, 'no error'))
        except FloatingPointError as e:
            queue.put((rank, str(e)))
    finally:
        torch.distributed.destroy_process_group()


def test_25_nan_on_one_rank_stops_every_rank():
    import socket
    import torch.multiprocessing as mp
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    queue = mp.get_context('fork').Queue()
    mp.start_processes(_ddp_nan_worker, args=(port, queue), nprocs=2,
                       start_method='fork', join=True)
    messages = dict(queue.get(timeout=60) for _ in range(2))
    assert 'iteration 7 (epoch 3, batch 1): loss is nan' in messages[1]
    assert 'a NaN / inf value on 1 other rank(s) (this is rank 0)' in \
        messages[0]


# NaN features inside the glimpse heads: a non-finite loss (which
# NonFiniteCheckHook reports) or a FloatingPointError naming the head, never
# a crash (both fixed in models/glimpse, commit 8e40dc5).
# RegionCropper loaded from its file: torch + torchvision only (fast).
NAN_BOXES = """
import importlib.util, sys, torch
spec = importlib.util.spec_from_file_location('region_cropper', sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
crop = module.RegionCropper(roi_size=2, stride=4., sampling_ratio=2)
padded = crop.pad(torch.full((2, 3, 8, 8), float('nan')))
boxes = torch.full((2, 5, 4), float('nan'))  # what NaN features give
out = crop(padded, boxes)
print('shape', tuple(out.shape))
"""


def test_25_nan_boxes_in_region_cropper_do_not_crash():
    """NaN boxes (from NaN features) used to kill the process (SIGSEGV in
    torchvision's roi_align); RegionCropper now keeps boxes finite."""
    import subprocess
    import sys
    path = REPO / 'marl_mm' / 'models' / 'glimpse' / 'region_cropper.py'
    result = subprocess.run([sys.executable, '-c', NAN_BOXES, str(path)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f'exit code {result.returncode}'
    assert 'shape (2, 5, 3, 2, 2)' in result.stdout


def test_25_nan_features_in_grre_head_give_clear_outcome():
    from marl_mm.models.necks import GlimpseFeatures
    torch.manual_seed(0)
    head = MODELS.build(dict(type='GRREHead', num_classes=3, in_channels=6,
                             context_channels=6, relation_channels=5))
    x = torch.full((2, 4, 6), float('nan'))
    c, a = torch.rand(2, 4, 6), torch.rand(2, 4, 6, 3, 3)
    samples = [DataSample().set_gt_label([0]),
               DataSample().set_gt_label([1, 2])]
    try:
        losses = head.loss(GlimpseFeatures(x=x, v=a, a=a, c=c), samples)
    except FloatingPointError:
        return
    assert not all(torch.isfinite(torch.as_tensor(v)).all()
                   for k, v in losses.items() if 'loss' in k)
