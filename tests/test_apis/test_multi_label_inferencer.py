"""MultiLabelInferencer: probabilities are the model's own pred_score on an
independently preprocessed input, label sets match a hand computation for
every rule, inputs (arrays, paths, folders) agree, and bad input is named."""
import json
from pathlib import Path

import mmcv
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from tests_conftest import assert_drawing_of

import marl_mm.apis.multi_label_inferencer as mli
from marl_mm.apis import (MultiLabelInferencer, find_config,
                          load_class_thresholds, output_names, select_labels)

REPO_ROOT = Path(__file__).resolve().parents[2]
CONFIG_DIR = REPO_ROOT / 'configs'
CLASSES = ('circle', 'square', 'triangle', 'cross', 'star', 'diamond',
           'ring', 'hexagon')
MEAN = np.array([123.675, 116.28, 103.53])
STD = np.array([58.395, 57.12, 57.375])


#: test input side: the quick-start configs at half their 128 px, for speed
SIZE = 64


def shapes_config(name: str) -> Config:
    """A quick-start config at SIZE px, with the head sized for the 8 shapes
    classes (resnet18_gap_shapes.py inherits 20 classes from its VOC base;
    reported to its owner) and RARL anchors / RARNN map scaled to match."""
    cfg = Config.fromfile(str(CONFIG_DIR / name))
    cfg.model.head.num_classes = len(CLASSES)
    for step in cfg.test_dataloader.dataset.pipeline:
        if step.type == 'Resize':
            step.scale = (SIZE, SIZE)
    head, neck = cfg.model.head, cfg.model.get('neck', None)
    if head.type == 'LSTMGlimpseHead':
        head.anchor_sizes = tuple(s * SIZE / 128 for s in head.anchor_sizes)
    if neck is not None and 'rhn' in neck:
        neck.rhn.spatial_size = SIZE // 16
    return cfg


def save_random_checkpoint(cfg: Config, path: Path, seed: int = 0) -> Path:
    """A seeded, randomly initialised model of ``cfg`` with class names."""
    from mmpretrain.registry import MODELS
    init_default_scope('mmpretrain')
    torch.manual_seed(seed)
    model = MODELS.build(cfg.model)
    torch.save({'state_dict': model.state_dict(),
                'meta': {'dataset_meta': {'classes': list(CLASSES)}}}, path)
    return path


@pytest.fixture(scope='module')
def checkpoints(tmp_path_factory):
    root = tmp_path_factory.mktemp('ckpt')
    return {
        'rarl': save_random_checkpoint(
            shapes_config('rarl_resnet18_shapes.py'), root / 'rarl.pth', 1),
        'gap': save_random_checkpoint(
            shapes_config('resnet18_gap_shapes.py'), root / 'gap.pth', 2),
    }


@pytest.fixture(scope='module')
def rarl(checkpoints):
    return MultiLabelInferencer(shapes_config('rarl_resnet18_shapes.py'),
                                pretrained=str(checkpoints['rarl']))


@pytest.fixture(scope='module')
def gap(checkpoints):
    return MultiLabelInferencer(shapes_config('resnet18_gap_shapes.py'),
                                pretrained=str(checkpoints['gap']))


def images():
    rng = np.random.RandomState(0)
    return [(rng.rand(100, 140, 3) * 255).astype(np.uint8),
            (rng.rand(128, 96, 3) * 255).astype(np.uint8)]


def hand_preprocess(img_bgr: np.ndarray) -> torch.Tensor:
    """The shapes test pipeline written out: resize to SIZE x SIZE
    (bilinear, as mmcv's Resize), BGR -> RGB, ImageNet normalisation, CHW."""
    resized = mmcv.imresize(img_bgr, (SIZE, SIZE)).astype(np.float64)
    rgb = resized[..., ::-1]
    x = (rgb - MEAN) / STD
    return torch.from_numpy(x.transpose(2, 0, 1).copy()).float()


@pytest.mark.parametrize('name', ['rarl', 'gap'])
def test_probabilities_are_model_pred_score(name, request):
    inferencer = request.getfixturevalue(name)
    imgs = images()
    results = inferencer(imgs, batch_size=2)
    batch = torch.stack([hand_preprocess(i) for i in imgs])
    with torch.no_grad():
        expected = [ds.pred_score for ds in inferencer.model.predict(batch)]
    assert inferencer.classes == CLASSES
    for res, exp in zip(results, expected):
        np.testing.assert_allclose(res['pred_scores'], exp.numpy(),
                                   rtol=0, atol=2e-5)
        assert list(res['scores']) == list(CLASSES)
        np.testing.assert_allclose(list(res['scores'].values()),
                                   res['pred_scores'], rtol=0, atol=0)
    # batch size does not change the result
    single = inferencer(imgs[1])[0]
    np.testing.assert_allclose(single['pred_scores'],
                               results[1]['pred_scores'], atol=2e-5)


def hand_labels(scores, thr=None, topk=None, class_thr=None):
    """Label set by loops: sort by score (stable), take k, apply thr."""
    order = sorted(range(len(scores)), key=lambda c: (-scores[c], c))
    if topk is not None:
        order = order[:topk]
    out = []
    for c in order:
        limit = class_thr[c] if class_thr is not None else thr
        if limit is None or scores[c] >= limit:
            out.append(c)
    return out


def test_label_rules_match_hand_computation(rarl, tmp_path):
    img = images()[0]
    scores = rarl(img)[0]['pred_scores'].astype(np.float64)
    thr = float(np.median(scores))  # splits the classes
    class_thr = np.linspace(scores.min(), scores.max(), len(CLASSES))[
        np.random.RandomState(3).permutation(len(CLASSES))]
    json_file = tmp_path / 'thr.json'
    json_file.write_text(json.dumps(dict(zip(CLASSES, class_thr.tolist()))))
    txt_file = tmp_path / 'thr.txt'
    pairs = reversed(list(zip(CLASSES, class_thr)))  # order does not matter
    txt_file.write_text('# class threshold\n' + '\n'.join(
        f'{c} {float(t)!r}' for c, t in pairs))
    cases = [
        (dict(thr=thr), dict(thr=thr)),
        (dict(topk=3), dict(topk=3)),
        (dict(thr=float(scores.max()), topk=3),
         dict(thr=float(scores.max()), topk=3)),
        (dict(thr=thr, topk=2), dict(thr=thr, topk=2)),
        (dict(class_thr=str(json_file)), dict(class_thr=class_thr)),
        (dict(class_thr=str(txt_file), topk=2),
         dict(class_thr=class_thr, topk=2)),
    ]
    for rule, hand_rule in cases:
        res = rarl(img, **rule)[0]
        want = hand_labels(scores, **hand_rule)
        assert res['pred_label'] == want, rule
        assert res['pred_class'] == [CLASSES[c] for c in want]
        np.testing.assert_allclose(res['pred_score'], scores[want], atol=1e-7)
    # the cases above are not all trivially empty or full
    sizes = {len(hand_labels(scores, **h)) for _, h in cases}
    assert len(sizes) > 1 and max(sizes) < len(CLASSES)
    # no rule at all: thr 0.5
    assert rarl(img)[0]['pred_label'] == hand_labels(scores, thr=0.5)


def test_select_labels_ties_and_empty():
    scores = np.array([[0.2, 0.7, 0.7, 0.1], [0.1, 0.1, 0.1, 0.1]])
    assert select_labels(scores, topk=2) == [[1, 2], [0, 1]]
    assert select_labels(scores, topk=1) == [[1], [0]]
    assert select_labels(scores, thr=0.5) == [[1, 2], []]
    assert select_labels(scores, class_thr=np.array([0, 1, 0, 0.1])) == \
        [[2, 0, 3], [0, 2, 3]]
    with pytest.raises(ValueError, match='not both'):
        select_labels(scores, thr=0.5, class_thr=np.zeros(4))


def test_paths_folders_and_arrays_agree(rarl, tmp_path):
    folder = tmp_path / 'imgs'
    folder.mkdir()
    imgs = images()
    for name, img in zip(('b.png', 'a.png'), imgs):
        mmcv.imwrite(img, str(folder / name))
    (folder / 'notes.txt').write_text('not an image')
    by_folder = rarl(str(folder), batch_size=2)
    assert [Path(r['input']).name for r in by_folder] == ['a.png', 'b.png']
    by_array = rarl([imgs[1], imgs[0]])
    assert [r['input'] for r in by_array] == [0, 1]
    for f, a in zip(by_folder, by_array):  # PNG is lossless
        np.testing.assert_allclose(f['pred_scores'], a['pred_scores'],
                                   atol=1e-6)


def test_rarl_step_scores_from_the_same_pass(rarl):
    """glimpse_scores (T, D) = sigmoid of each step's max over regions,
    recomputed here through the head's glimpse() on the same input."""
    img = images()[0]
    ds = rarl(img, return_datasamples=True)[0]
    head = rarl.model.head
    with torch.no_grad():
        feats = rarl.model.extract_feat(hand_preprocess(img)[None])
        out = head.glimpse(feats, 'mean')
    step = torch.sigmoid(out['region_scores'][0].amax(1))  # (T, D)
    assert ds.glimpse_scores.shape == (head.num_steps, len(CLASSES))
    torch.testing.assert_close(ds.glimpse_scores, step, atol=2e-5, rtol=0)
    torch.testing.assert_close(ds.glimpse_boxes, out['boxes'][0], atol=1e-3,
                               rtol=0)
    assert ds.pred_label.tolist() == rarl(img)[0]['pred_label']


def test_rarnn_config_when_present(tmp_path):
    config = CONFIG_DIR / 'rarnn_resnet18_shapes.py'
    if not config.is_file():
        pytest.skip('configs/rarnn_resnet18_shapes.py not written yet')
    cfg = shapes_config(config.name)
    ckpt = save_random_checkpoint(cfg, tmp_path / 'rarnn.pth')
    inferencer = MultiLabelInferencer(cfg, pretrained=str(ckpt))
    img = images()[0]
    res = inferencer(img, topk=2)[0]
    assert len(res['pred_label']) == 2
    ds = inferencer(img, return_datasamples=True)[0]
    for field in ('emission_mask', 'glimpse_scores', 'attention_maps'):
        assert field in ds, field
    # pred_score: max over emitted glimpses of their probabilities
    expected = (ds.glimpse_scores * ds.emission_mask[:, None]).amax(0)
    np.testing.assert_allclose(res['pred_scores'], expected.numpy(),
                               atol=1e-6)


def test_find_config_and_errors(checkpoints, tmp_path):
    assert find_config('rarl_resnet18_shapes').resolve() == \
        (CONFIG_DIR / 'rarl_resnet18_shapes.py').resolve()
    assert 'rarl_vgg16_voc07' in MultiLabelInferencer.list_models('rarl_*')
    # by config name, as a user would
    by_name = MultiLabelInferencer('rarl_resnet18_shapes',
                                   pretrained=str(checkpoints['rarl']))
    assert Path(by_name.config.filename).name == 'rarl_resnet18_shapes.py'
    assert by_name.classes == CLASSES  # from the checkpoint's dataset_meta
    with pytest.raises(ValueError, match='rarl_resnet18_shapes'):
        find_config('no_such_model')
    with pytest.raises(FileNotFoundError, match='nowhere.pth'):
        MultiLabelInferencer('rarl_resnet18_shapes',
                             pretrained=str(tmp_path / 'nowhere.pth'))
    with pytest.raises(FileNotFoundError, match='missing.py'):
        MultiLabelInferencer(str(tmp_path / 'missing.py'))


def test_find_config_searches_projects(tmp_path, monkeypatch):
    path = find_config('rarl_convnext_atto_shapes')
    assert path.resolve() == (REPO_ROOT / 'projects' / 'glimpse_backbones' /
                              'configs' / 'rarl_convnext_atto_shapes.py')
    assert 'rarl_convnext_atto_shapes' in MultiLabelInferencer.list_models(
        'rarl_*')
    # a checkout where a project reuses a main config's name: ambiguous
    # (both named), not silently one of them
    for folder in ('configs', 'projects/demo/configs', 'configs/_base_'):
        (tmp_path / folder).mkdir(parents=True)
        (tmp_path / folder / 'same.py').write_text('')
    (tmp_path / 'projects/demo/configs/only_here.py').write_text('')
    monkeypatch.setattr(mli, 'PACKAGE_DIR', tmp_path / 'marl_mm')
    monkeypatch.setattr(mli, 'CHECKOUT_DIR', tmp_path)
    assert find_config('only_here') == \
        tmp_path / 'projects/demo/configs/only_here.py'
    with pytest.raises(ValueError, match=r"ambiguous: \['projects/demo/"
                       r"configs/same.py', 'same.py'\]"):
        find_config('same')
    assert MultiLabelInferencer.list_models() == ['only_here', 'same']


def test_output_names_are_distinct():
    arr = np.zeros((4, 4, 3), np.uint8)
    assert output_names(['a/one.png', 'b/two.jpg', arr]) == \
        ['one', 'two', '2']
    assert output_names(['a/one.png', 'b/one.png', 'c/two.png',
                         Path('d/One.jpg')]) == \
        ['one_0', 'one_1', 'two', 'One_3']
    # the suffixed name is itself taken by a real file: suffixed again
    assert output_names(['a/x.png', 'b/x.png', 'c/x_1.png']) == \
        ['x_0', 'x_1', 'x_1_2']
    # an array's index against a file called 0.png
    assert output_names([arr, 'a/0.png']) == ['0_0', '0_1']


def test_same_stem_in_two_folders_gives_two_drawings(gap, tmp_path):
    imgs = images()
    for folder, img in zip(('a', 'b'), imgs):
        (tmp_path / folder).mkdir()
        mmcv.imwrite(img, str(tmp_path / folder / 'one.png'))
    out = tmp_path / 'out'
    gap([str(tmp_path / 'a' / 'one.png'), str(tmp_path / 'b' / 'one.png')],
        show_dir=str(out))
    assert sorted(p.name for p in out.iterdir()) == ['one_0.png',
                                                     'one_1.png']
    for name, img in zip(('one_0.png', 'one_1.png'), imgs):
        assert_drawing_of(mmcv.imread(str(out / name)).shape[:2],
                          img.shape[:2])


def test_bad_inputs_are_named(gap, tmp_path):
    with pytest.raises(FileNotFoundError, match='nope.jpg'):
        gap(str(tmp_path / 'nope.jpg'))
    with pytest.raises(ValueError, match=r'inputs\[1\].*HxWx3'):
        gap([images()[0], np.zeros((4, 4))])
    with pytest.raises(TypeError, match=r'inputs\[0\]'):
        gap([3])
    (tmp_path / 'empty').mkdir()
    with pytest.raises(ValueError, match='no image files'):
        gap(str(tmp_path / 'empty'))


def test_class_count_mismatch(checkpoints):
    inferencer = MultiLabelInferencer(
        shapes_config('resnet18_gap_shapes.py'),
        pretrained=str(checkpoints['gap']), classes=['a', 'b'])
    with pytest.raises(ValueError, match='8 classes but 2 class names'):
        inferencer(images()[0])


@pytest.mark.parametrize('text,suffix,message', [
    ('{"circle": 0.5}', '.json', r"missing: \['square'"),
    (json.dumps({**{c: 0.5 for c in CLASSES}, 'dog': 0.5}), '.json',
     r"unknown: \['dog'\]"),
    (json.dumps({**{c: 0.5 for c in CLASSES}, 'star': 1.5}), '.json',
     'must be in'),
    ('[0.5, 0.5]', '.json', 'JSON object'),
    ('{"circle": ', '.json', 'not valid JSON'),
    ('\n'.join(f'{c} 0.5' for c in CLASSES) + '\ncircle 0.4', '.txt',
     r"line 9: class 'circle' is given twice"),
    ('\n'.join(f'{c} 0.5' for c in CLASSES[:-1]) + '\nhexagon high',
     '.txt', 'line 8: threshold must be a number'),
    ('0.5', '.txt', r'thr.txt:1: expected "<class name> <threshold>"'),
])
def test_class_threshold_file_errors(tmp_path, text, suffix, message):
    path = tmp_path / f'thr{suffix}'
    path.write_text(text)
    with pytest.raises(ValueError, match=message) as info:
        load_class_thresholds(path, CLASSES)
    assert str(path) in str(info.value)


def test_class_threshold_file_names_with_spaces(tmp_path):
    classes = ('cell phone', 'dining table', 'cat')
    path = tmp_path / 'thr.txt'
    path.write_text('cat 0.3\n\ncell phone 0.25\ndining table\t0.7\n')
    np.testing.assert_array_equal(load_class_thresholds(path, classes),
                                  [0.25, 0.7, 0.3])
    with pytest.raises(FileNotFoundError, match='absent.json'):
        load_class_thresholds(tmp_path / 'absent.json', classes)


def test_array_inputs_must_be_bgr_uint8(gap, tmp_path):
    """Arrays are read as mmcv.imread gives them (HxWx3 BGR uint8): an RGB
    float image in [0, 1] (which used to run, with other scores than the
    same picture as a file) and other dtypes are refused with the expected
    format and a conversion; a BGR uint8 array equals the file."""
    bgr = images()[0]
    path = tmp_path / 'bgr.png'
    mmcv.imwrite(bgr, str(path))
    by_file = gap(str(path))[0]['pred_scores']
    np.testing.assert_allclose(gap(bgr)[0]['pred_scores'], by_file,
                               atol=1e-6)
    rgb01 = bgr[..., ::-1].astype(np.float32) / 255
    with pytest.raises(ValueError) as err:
        gap([bgr, rgb01])
    message = str(err.value)
    assert message.startswith('inputs[1]: expected an HxWx3 BGR uint8 array')
    assert 'got dtype float32 with values in [0, 0.996]' in message
    assert '[..., ::-1]' in message  # how to convert
    with pytest.raises(ValueError, match='got dtype int64 with values in '
                       r'\[0, 254\]'):
        gap(bgr.astype(np.int64))
    # the documented conversion gives the file's prediction back
    converted = (rgb01 * 255).round().clip(0, 255).astype(np.uint8)[..., ::-1]
    np.testing.assert_allclose(gap(converted)[0]['pred_scores'], by_file,
                               atol=1e-6)
