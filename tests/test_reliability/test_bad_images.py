"""Bad-input suite (issue 6, item 4), images: undecodable files, odd colour
modes and bit depths, huge and tiny images, missing files and the logged
skip (rows 1-14).

Every kind of bad input gets a clear error naming the file / field and what
was expected, a conversion checked against an independent decoder, or a
logged skip. The table of behaviours is docs/reliability.md; the test names
carry its row numbers."""
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from mmcv.transforms import Compose, LoadImageFromFile
from mmengine.config import Config
from mmengine.registry import init_default_scope
from PIL import Image

import marl_mm  # noqa: F401  (registers everything)
from marl_mm.datasets import CheckedMultiLabelDataset
from mmpretrain.registry import TRANSFORMS
from tests_conftest import LogRecords, json_dataset, rgb_image

REPO = Path(__file__).resolve().parents[2]
DATASETS = REPO / 'configs' / '_base_' / 'datasets'

init_default_scope('mmpretrain')


# ------------------------------------------------------------------ helpers
def _loader(**kwargs):
    return TRANSFORMS.build(dict(type='CheckedLoadImageFromFile', **kwargs))


def _load(path, **kwargs):
    return _loader(**kwargs)(dict(img_path=str(path)))['img']


def _pipeline(config, split='train_pipeline'):
    return Compose([TRANSFORMS.build(t) for t in
                    Config.fromfile(str(DATASETS / config))[split]])


# ------------------------------------------------- 1-5 undecodable images
def _jpeg_bytes(h=24, w=32):
    ok, buf = cv2.imencode('.jpg', rgb_image(h, w))
    return buf.tobytes()


def _png_bytes():
    ok, buf = cv2.imencode('.png', rgb_image())
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
    gray = rgb_image()[..., 0]
    Image.fromarray(gray).save(tmp_path / 'g.png')
    img = _load(tmp_path / 'g.png')
    assert img.shape == (24, 32, 3) and img.dtype == np.uint8
    for c in range(3):
        np.testing.assert_array_equal(img[..., c], gray)


def test_07_cmyk_jpeg_matches_pillow(tmp_path):
    Image.fromarray(rgb_image()).convert('CMYK').save(tmp_path / 'c.jpg')
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
    rgb = rgb_image()
    alpha = np.random.default_rng(2).integers(0, 256, (24, 32, 1), np.uint8)
    Image.fromarray(np.concatenate([rgb, alpha], 2)).save(tmp_path / 'a.png')
    np.testing.assert_array_equal(_load(tmp_path / 'a.png'), rgb[..., ::-1])


def test_10_palette_png_matches_pillow(tmp_path):
    Image.fromarray(rgb_image()).convert('P').save(tmp_path / 'p.png')
    np.testing.assert_array_equal(_load(tmp_path / 'p.png'),
                                  _pil_bgr(tmp_path / 'p.png'))


@pytest.mark.parametrize('mode', ['L', 'CMYK', 'RGBA', 'I;16'])
def test_06_10_same_as_stock_loader_with_config_settings(tmp_path, mode):
    """The conversions are mmcv / OpenCV's (color_type='color'): the checked
    loader returns the stock loader's array on valid files."""
    rgb = rgb_image()
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
    rgb = rgb_image()
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
    cv2.imwrite(str(tmp_path / 'x.png'), rgb_image(100, 201))
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
    cv2.imwrite(str(tmp_path / 'tiny.png'), rgb_image(5, 7))
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
    cv2.imwrite(str(tmp_path / 'good.png'), rgb_image())
    (tmp_path / 'bad.jpg').write_bytes(b'')
    kwargs = json_dataset(
        tmp_path, [dict(img_path='bad.jpg', gt_label=[0]),
                   dict(img_path='good.png', gt_label=[1])])
    ds = CheckedMultiLabelDataset(
        **kwargs, pipeline=[dict(type='CheckedLoadImageFromFile',
                                 on_error='skip')])
    with LogRecords() as log:
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
