"""GlimpseVisualizer: the input-to-image mapping by hand, RARL regions and
RARNN heat maps drawn where they belong (pixels change on the drawn boxes /
inside the network input, and nowhere far from them), on a generated image
and on a real VOC image, and the VisualizationHook path used in validation."""
import json
import math
from pathlib import Path

import mmcv
import numpy as np
import pytest
import torch
from mmengine.visualization import Visualizer

from mmpretrain.registry import VISUALIZERS
from mmpretrain.structures import DataSample

from marl_mm.visualization import (GlimpseVisualizer, input_to_image_frame,
                                   map_boxes)
from marl_mm.visualization.glimpse_visualizer import STEP_COLOURS
from tests_conftest import load_tool

REPO_ROOT = Path(__file__).resolve().parents[2]
VOC_SAMPLES = (REPO_ROOT / '..' / 'shared' / 'data' / 'voc2007_test_samples' /
               'VOCdevkit' / 'VOC2007' / 'JPEGImages')
CLASSES = ('circle', 'square', 'triangle', 'cross', 'star', 'diamond',
           'ring', 'hexagon')


@pytest.fixture(scope='module')
def vis():
    # min_side=0: drawn at the image's own size (pixel checks by hand)
    return GlimpseVisualizer(name='test_glimpse_visualizer', min_side=0)


def image_part(vis, drawn, i=0):
    """The ``i``-th image / panel of the last drawing (text lies outside)."""
    x, y, w, h = vis.last_layout['image_boxes'][i]
    return drawn[y:y + h, x:x + w]


def crop_sample(ori_hw, n=512, crop=448, flip=False) -> DataSample:
    """Meta of the RARL test pipeline: resize to n x n, centre crop."""
    h, w = ori_hw
    return DataSample(metainfo=dict(
        ori_shape=(h, w), img_shape=(crop, crop),
        scale_factor=(n / w, n / h), flip=flip,
        flip_direction='horizontal' if flip else None))


def test_frame_by_hand():
    ds = crop_sample((375, 500))
    sx, sy = 512 / 500, 512 / 375
    # resized 512 x 512, crop offset (512 - 448) / 2 = 32 on both axes
    box = np.array([10., 20., 110., 220.])
    want = [(10 + 32) / sx, (20 + 32) / sy, (110 + 32) / sx, (220 + 32) / sy]
    frame = input_to_image_frame(ds, (375, 500))
    np.testing.assert_allclose(map_boxes(box, frame), want, rtol=1e-12)
    # the input frame itself: identity
    assert input_to_image_frame(ds, (448, 448)) == (1., 0., 1., 0.)
    # flipped input: x mirrored inside the crop before mapping back
    frame = input_to_image_frame(crop_sample((375, 500), flip=True),
                                 (375, 500))
    want_flip = [(448 - 110 + 32) / sx, want[1], (448 - 10 + 32) / sx,
                 want[3]]
    np.testing.assert_allclose(map_boxes(box, frame), want_flip, rtol=1e-12)
    # any other size: plain rescale of the input frame
    frame = input_to_image_frame(ds, (224, 224))
    np.testing.assert_allclose(map_boxes(box, frame), box / 2)


def rarl_sample(ori_hw, locations) -> DataSample:
    """3 steps, each 9 anchors (sizes 40/60/80, ratios 2:1, 1:1, 1:2) in
    the 448 px input frame of ``crop_sample``."""
    ds = crop_sample(ori_hw)
    loc = torch.tensor(locations, dtype=torch.float32)  # (T, 2)
    centre = (loc + 1) / 2 * 448  # (T, 2)
    wh = torch.tensor([[s * math.sqrt(r), s / math.sqrt(r)]
                       for s in (40, 60, 80) for r in (2, 1, .5)])  # (9, 2)
    boxes = torch.cat([centre[:, None] - wh / 2, centre[:, None] + wh / 2],
                      -1)  # (T, 9, 4)
    ds.set_field(loc, 'glimpse_locations')
    ds.set_field(boxes, 'glimpse_boxes')
    scores = torch.full((len(locations), len(CLASSES)), 0.1)
    scores[torch.arange(len(locations)), torch.arange(len(locations))] = 0.9
    ds.set_field(scores, 'glimpse_scores')
    ds.set_pred_score(torch.linspace(0.05, 0.95, len(CLASSES)))
    return ds


def check_rarl_drawing(vis, image, ds, tmp_path):
    """Render to PNG; pixels change on every mapped box edge and nowhere in
    the image part farther than 60 px from the boxes (all text lies in the
    margins)."""
    out = tmp_path / 'rarl.png'
    vis.visualize_cls(image, ds, classes=CLASSES, draw_gt=False,
                      draw_pred=False, out_file=str(out))
    drawn = image_part(vis, mmcv.imread(str(out), channel_order='rgb'))
    h, w = image.shape[:2]
    assert drawn.shape == image.shape
    changed = np.abs(drawn.astype(int) - image.astype(int)).max(-1) > 8
    boxes = map_boxes(ds.glimpse_boxes.numpy(),
                      input_to_image_frame(ds, (h, w)))  # (T, 9, 4)
    for x1, y1, x2, y2 in boxes.reshape(-1, 4):
        x1, x2 = np.clip([x1, x2], 0, w - 1)
        y1, y2 = np.clip([y1, y2], 0, h - 1)
        xm, ym = int((x1 + x2) / 2), int((y1 + y2) / 2)
        for x, y in ((xm, y1), (xm, y2), (x1, ym), (x2, ym)):
            x, y = int(round(x)), int(round(y))
            near = changed[max(y - 1, 0):y + 2, max(x - 1, 0):x + 2]
            assert near.any(), (x, y)
    far = np.ones((h, w), dtype=bool)
    lo = np.floor(boxes.reshape(-1, 4).min(0)).astype(int) - 60
    hi = np.ceil(boxes.reshape(-1, 4).max(0)).astype(int) + 60
    far[max(lo[1], 0):max(hi[3], 0), max(lo[0], 0):max(hi[2], 0)] = False
    assert far.sum() > 0.2 * h * w  # the check covers a real area
    assert not changed[far].any()
    return drawn


def test_rarl_on_generated_image(vis, tmp_path):
    rng = np.random.RandomState(0)
    image = (rng.rand(300, 400, 3) * 120 + 60).astype(np.uint8)
    ds = rarl_sample((300, 400), [[-0.6, -0.5], [-0.4, -0.55], [-0.5, -0.3]])
    check_rarl_drawing(vis, image, ds, tmp_path)


def test_rarl_on_real_voc_image(vis, tmp_path):
    files = sorted(VOC_SAMPLES.glob('*.jpg')) if VOC_SAMPLES.is_dir() else []
    if not files:
        pytest.skip(f'no VOC2007 sample images under {VOC_SAMPLES}')
    image = mmcv.imread(str(files[0]), channel_order='rgb')
    ds = rarl_sample(image.shape[:2], [[0.5, 0.4], [0.6, 0.55], [0.4, 0.6]])
    check_rarl_drawing(vis, image, ds, tmp_path)


def test_rarl_text_and_resize(vis, tmp_path):
    """With the label text (validation samples have no pred_label: labels
    >= pred_thr are listed) and with resize: the size follows the resize
    (enlarged x3 to reach min_side = 256 with the default visualiser)."""
    image = np.full((150, 200, 3), 90, dtype=np.uint8)
    ds = rarl_sample((150, 200), [[0., 0.]])
    drawn = vis.visualize_cls(image, ds, classes=CLASSES, resize=100)
    assert image_part(vis, drawn).shape == (100, 133, 3)
    big = GlimpseVisualizer(name='test_resize_min_side')
    drawn = big.visualize_cls(image, ds, classes=CLASSES, resize=100)
    assert big.last_layout['scale'] == 3
    assert image_part(big, drawn).shape == (300, 399, 3)
    # the header wraps to the drawing's width; names, best first
    header = ' '.join(big.last_layout['texts'][:2])
    assert header.startswith(
        'Prediction: hexagon 0.95, ring 0.82, diamond 0.69, star 0.56')
    labelled = vis._with_pred_label(ds)
    # scores 0.05..0.95 over 8 classes: >= 0.5 are classes 4..7, best first
    assert labelled.pred_label.tolist() == [7, 6, 5, 4]
    assert 'pred_label' not in ds


def rarnn_sample(ori_hw) -> DataSample:
    """4 glimpses on an 8 x 8 map over a 224 px input (resize, no crop);
    each map hot in one cell; glimpses 0 and 2 emitted."""
    h, w = ori_hw
    ds = DataSample(metainfo=dict(ori_shape=(h, w), img_shape=(224, 224),
                                  scale_factor=(224 / w, 224 / h)))
    maps = torch.zeros(4, 8, 8)
    for t, (r, c) in enumerate(((1, 1), (6, 6), (2, 5), (5, 2))):
        maps[t, r, c] = 1.
    ds.set_field(maps, 'attention_maps')
    ds.set_field(torch.tensor([True, False, True, False]), 'emission_mask')
    ds.set_field(torch.tensor([0.9, 0.2, 0.7, 0.4]), 'emission_prob')
    scores = torch.full((4, len(CLASSES)), 0.05)
    scores[:, 3] = 0.65
    ds.set_field(scores, 'glimpse_scores')
    ds.set_pred_score(torch.tensor([0.1] * 3 + [0.65] + [0.1] * 4))
    return ds


def test_rarnn_panels(vis, tmp_path):
    """One panel per emitted glimpse (0 and 2 of 4), each with its own
    attention map and title; the legend explains what is shown."""
    rng = np.random.RandomState(1)
    image = (rng.rand(120, 160, 3) * 100 + 80).astype(np.uint8)
    out = tmp_path / 'rarnn.png'
    vis.visualize_cls(image, rarnn_sample((120, 160)), classes=CLASSES,
                      draw_gt=False, draw_pred=False, out_file=str(out))
    drawn = mmcv.imread(str(out), channel_order='rgb').astype(int)
    layout = vis.last_layout
    assert layout['panels'] == [0, 2]
    assert len(layout['image_boxes']) == 2
    panels = [image_part(vis, drawn, i) for i in range(2)]
    assert all(p.shape == image.shape for p in panels)
    # glimpse 0 is hot in cell (1, 1): rows 15..30, columns 20..40
    hot = panels[0][19:26, 26:34]
    assert (hot[..., 0] - image[19:26, 26:34, 0]).mean() > 30  # red heat
    cold = panels[0][60:80, 100:140]  # a cell far from it: blue side of jet
    assert (cold[..., 2] - cold[..., 0]).mean() > 40
    # glimpse 2 is hot in cell (2, 5): rows 30..45, columns 100..120
    assert (panels[1][34:41, 104:116, 0] -
            image[34:41, 104:116, 0]).mean() > 30
    assert (panels[1][19:26, 26:34, 2] - panels[1][19:26, 26:34, 0]
            ).mean() > 40  # glimpse 0's hot cell is cold here
    titles = layout['texts'][:2]
    assert titles == ['glimpse 1: cross 0.65, p(emit) 0.90',
                      'glimpse 3: cross 0.65, p(emit) 0.70']
    legend = ' '.join(layout['texts'][2:])
    assert '2 of the 4 candidate glimpses were emitted' in legend
    assert 'attention' in legend and 'p(emit): probability' in legend
    assert not any(t.startswith('e=') or ' e=' in t
                   for t in layout['texts'])


def test_rarnn_heat_only_inside_the_crop(vis, tmp_path):
    """A centre-crop input covers part of the original image: the heat map
    changes pixels inside the crop region only."""
    image = np.full((375, 500, 3), 128, dtype=np.uint8)
    ds = rarnn_sample((375, 500))
    ds.set_metainfo(dict(img_shape=(224, 224), scale_factor=(256 / 500,
                                                             256 / 375)))
    drawn = vis.visualize_cls(image, ds, draw_gt=False, draw_pred=False)
    panel = image_part(vis, drawn).astype(int)
    changed = np.abs(panel - 128).max(-1) > 8
    x1, y1, x2, y2 = map_boxes(np.array([0., 0., 224., 224.]),
                               input_to_image_frame(ds, (375, 500)))
    # crop offset 16 px of the 256 px resize: 16 * 500 / 256 = 31.25
    np.testing.assert_allclose([x1, x2], [31.25, 468.75])
    inside = np.zeros_like(changed)
    inside[int(y1) + 2:int(y2) - 2, int(x1) + 2:int(x2) - 2] = True
    outside = np.ones_like(changed)
    outside[int(y1) - 1:int(y2) + 2, int(x1) - 1:int(x2) + 2] = False
    assert changed[inside].mean() > 0.99
    assert not changed[outside].any()  # titles are outside the panel


def test_gap_sample_gets_text_only(vis):
    image = np.full((100, 120, 3), 50, dtype=np.uint8)
    ds = DataSample().set_pred_score(torch.tensor([0.9, 0.2, 0.6]))
    drawn = vis.visualize_cls(image, ds, classes=['a', 'b', 'c'])
    # the header lies above the image: the image itself is untouched
    np.testing.assert_array_equal(image_part(vis, drawn), image)
    x, y, w, h = vis.last_layout['image_boxes'][0]
    assert (x, y + h) == (0, drawn.shape[0]) and y > 0
    header = drawn[:y].astype(int)
    assert (np.abs(header - header[0, -1]).max(-1) > 60).any()  # text
    assert vis.last_layout['texts'] == ['Prediction: a 0.90, c 0.60']


def test_validation_hook_path(tmp_path):
    """The config switch: VISUALIZERS builds it, mmpretrain's
    VisualizationHook draws the BGR network inputs through it into the
    visualiser's backends (TensorBoard in the documented config; the local
    backend here)."""
    from mmpretrain.engine.hooks import VisualizationHook
    visualizer = VISUALIZERS.build(dict(
        type='GlimpseVisualizer', name='test_hook_visualizer',
        vis_backends=[dict(type='LocalVisBackend')],
        save_dir=str(tmp_path)))
    assert Visualizer.get_current_instance() is visualizer
    hook = VisualizationHook(enable=True, interval=1, input_bgr=True)
    ds = rarl_sample((448, 448), [[0., 0.], [0.3, 0.3]])
    ds.set_metainfo(dict(ori_shape=(448, 448), scale_factor=(1., 1.)))
    bgr = np.zeros((448, 448, 3), dtype=np.uint8)
    bgr[..., 0] = 200  # blue in BGR
    inputs = [torch.from_numpy(bgr).permute(2, 0, 1)]
    hook._draw_samples(0, dict(inputs=inputs), [ds], step=3)
    saved = list((tmp_path / 'vis_data' / 'vis_image').glob('*.png'))
    assert len(saved) == 1 and saved[0].name == '0_3.png'
    img = image_part(visualizer, mmcv.imread(str(saved[0]),
                                             channel_order='rgb'))
    assert img.shape == (448, 448, 3)
    assert img[440, 5, 2] == 200 and img[440, 5, 0] == 0  # shown as blue


def test_registered_in_mmpretrain_and_mmengine_root():
    """Issue 5: 'a visualiser registered in mmengine's visualiser registry':
    found from mmengine's root registry (any scope) and from mmpretrain's
    child registry (configs with default_scope='mmpretrain')."""
    from mmengine.registry import VISUALIZERS as ROOT
    from mmengine.registry import DefaultScope
    assert ROOT.get('GlimpseVisualizer') is GlimpseVisualizer
    assert VISUALIZERS.get('GlimpseVisualizer') is GlimpseVisualizer
    assert ROOT.get('mmpretrain.GlimpseVisualizer') is GlimpseVisualizer
    assert isinstance(ROOT.build(dict(type='GlimpseVisualizer',
                                      name='test_root_registry')),
                      GlimpseVisualizer)
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        built = ROOT.build(dict(type='GlimpseVisualizer',
                                name='test_mmpretrain_scope'))
    assert isinstance(built, GlimpseVisualizer)


def _tiny_shapes(root: Path) -> Path:
    """2 generated 64 px validation images of the shapes data."""
    gen = load_tool('tools/dataset_converters/generate_shapes.py')
    gen.generate(str(root), num_train=1, num_val=2, size=64,
                 max_objects=2, min_obj=10, max_obj=16)
    return root


def test_validation_loop_writes_glimpse_png(tmp_path):
    """The config switch in a real validation loop: a Runner with
    val_cfg, the VisualizationHook enabled and GlimpseVisualizer with
    LocalVisBackend; runner.val() writes one PNG per validation image with
    the RARL regions drawn on the loaded 64 px image."""
    from mmengine.config import Config
    from mmengine.runner import Runner
    data = _tiny_shapes(tmp_path / 'shapes')
    pipeline = [dict(type='LoadImageFromFile'), dict(type='PackInputs')]
    cfg = Config.fromfile(str(REPO_ROOT / 'configs' /
                              'rarl_resnet18_shapes.py'))
    cfg.merge_from_dict(dict(
        work_dir=str(tmp_path / 'work'),
        model=dict(
            backbone=dict(backbone=dict(base_channels=8, stem_channels=8)),
            head=dict(in_channels=32, embed_dims=16, hidden_dims=16,
                      baseline=dict(hidden_dims=8),
                      anchor_sizes=(16, 24, 32))),
        val_dataloader=dict(
            batch_size=2, num_workers=0, persistent_workers=False,
            dataset=dict(data_root=str(data), pipeline=pipeline)),
        visualizer=dict(type='GlimpseVisualizer',
                        vis_backends=[dict(type='LocalVisBackend')]),
        default_hooks=dict(visualization=dict(
            type='VisualizationHook', enable=True, interval=1,
            input_bgr=True)),
        custom_hooks=[]))
    for key in ('train_dataloader', 'train_cfg', 'optim_wrapper',
                'param_scheduler', 'test_dataloader', 'test_cfg',
                'test_evaluator'):
        cfg.pop(key, None)
    runner = Runner.from_cfg(cfg)
    assert isinstance(runner.visualizer, GlimpseVisualizer)
    metrics = runner.val()
    assert metrics['multi-label/mAP_noninterp'] >= 0
    saved = sorted(Path(runner.log_dir).glob('vis_data/vis_image/*.png'))
    val = json.loads((data / 'val.json').read_text())['data_list']
    files = sorted(data / 'images' / item['img_path'] for item in val)
    assert len(files) == 2
    assert [p.name for p in saved] == [f'{f.name}_0.png' for f in files]
    for png, file in zip(saved, files):
        drawn = mmcv.imread(str(png), channel_order='rgb')
        image = mmcv.imread(str(file), channel_order='rgb')
        assert image.shape == (64, 64, 3)
        # enlarged x4 (min_side 256), header above, legend below
        assert drawn.shape[1] == 256 and drawn.shape[0] > 256
        for colour in STEP_COLOURS[:3]:  # the 3 steps, each its colour
            assert (np.abs(drawn.astype(int) - colour).max(-1) < 4).any()


def test_drawn_label_set_follows_the_metric_rule():
    """pred_topk / pred_thr choose the drawn labels as MultiLabelTopKMetric
    does (top-k AND >= thr, possibly none); the protocol is read from an
    evaluator config (the first MultiLabelTopKMetric)."""
    from marl_mm.visualization import label_protocol_from_evaluator
    ds = DataSample().set_pred_score(
        torch.tensor([0.05, 0.3, 0.12, 0.08, 0.45]))
    rarl = GlimpseVisualizer(name='test_protocol_rarl', pred_topk=3,
                             pred_thr=0.1)
    assert rarl._with_pred_label(ds).pred_label.tolist() == [4, 1, 2]
    rarnn = GlimpseVisualizer(name='test_protocol_rarnn', pred_topk=2,
                              pred_thr=None)
    assert rarnn._with_pred_label(ds).pred_label.tolist() == [4, 1]
    # the metric may predict nothing; the old rule forced the top label
    none = GlimpseVisualizer(name='test_protocol_none', pred_thr=0.5)
    assert none._with_pred_label(ds).pred_label.tolist() == []
    with pytest.raises(ValueError, match='pred_topk / pred_thr'):
        GlimpseVisualizer(name='test_protocol_bad', pred_topk=None,
                          pred_thr=None)

    from mmengine.config import Config
    cfgs = REPO_ROOT / 'configs'
    cpu = Config.fromfile(str(cfgs / 'voc07_cpu' /
                              'rarl_resnet18_voc07_cpu.py'))
    assert label_protocol_from_evaluator(cpu.test_evaluator) == dict(
        pred_topk=3, pred_thr=0.1)  # the first of its two protocols
    assert label_protocol_from_evaluator(
        [dict(type='MultiLabelTopKMetric', topk=3, naming='rarnn')]) == \
        dict(pred_topk=3, pred_thr=None)
    assert label_protocol_from_evaluator(
        dict(type='MultiLabelAP', mode='voc07_11point')) is None


def _text_rows(drawn, y0, y1):
    """Rows of ``drawn[y0:y1]`` holding light text on the dark margin."""
    band = drawn[y0:y1].astype(int)
    return np.flatnonzero((band.min(-1) > 150).any(1))


def test_text_height_proportional_to_the_image():
    """The header's text is the same share of the drawn image at 128 px
    (enlarged to 256) and at 500 px, and readable at 128 px (>= 9 px)."""
    heights = {}
    for side in (128, 500):
        vis = GlimpseVisualizer(name=f'test_text_{side}')
        image = np.full((side, side, 3), 90, dtype=np.uint8)
        ds = DataSample().set_pred_score(torch.tensor([0.9, 0.2]))
        drawn = vis.visualize_cls(image, ds, classes=['Hg', 'b'])
        x, y, w, h = vis.last_layout['image_boxes'][0]
        rows = _text_rows(drawn, 0, y)
        heights[side] = (rows.max() - rows.min() + 1, w)
    (h128, w128), (h500, w500) = heights[128], heights[500]
    assert w128 == 256 and w500 == 500
    assert h128 >= 9  # 'Hg' ascender to descender
    assert abs(h500 / w500 - h128 / w128) < 0.2 * h128 / w128


def test_rarl_steps_in_distinct_colours_with_the_path():
    """On a 128 px shapes-like image: each step's colour is drawn, the
    step centres are joined by the white path, and the legend names every
    step (colour swatch + location + label), all outside the image."""
    vis = GlimpseVisualizer(name='test_rarl_colours')
    image = np.full((128, 128, 3), 40, dtype=np.uint8)
    ds = DataSample(metainfo=dict(img_shape=(128, 128)))
    centres = torch.tensor([[30., 30.], [90., 40.], [60., 100.]])
    half = torch.tensor([6., 6.])
    ds.set_field(torch.cat([centres - half, centres + half], -1)[:, None],
                 'glimpse_boxes')  # (T=3, k=1, 4)
    ds.set_field(torch.eye(3, len(CLASSES)) * 0.8, 'glimpse_scores')
    drawn = vis.visualize_cls(image, ds, classes=CLASSES, draw_pred=False)
    part = image_part(vis, drawn).astype(int)  # enlarged x2
    for colour in STEP_COLOURS[:3]:
        near = np.abs(part - colour).max(-1) < 4
        assert near.sum() > 20, colour
    # the path: white pixels at the midpoints between consecutive centres
    for a, b in ((0, 1), (1, 2)):
        mx, my = ((centres[a] + centres[b]) / 2 * 2).round().int().tolist()
        assert (part[my - 2:my + 3, mx - 2:mx + 3].min(-1) > 200).any()
    legend = vis.last_layout['texts']
    assert 'white line: the path between the step centres' in ' '.join(legend)
    text = ' '.join(legend)  # lines wrap to the drawing's width
    for step in ('step 1 at (23%, 23%): circle 0.80',
                 'step 2 at (70%, 31%): square 0.80',
                 'step 3 at (47%, 78%): triangle 0.80'):
        assert step in text
    # the swatches: each step colour also lies in the legend margin
    x, y, w, h = vis.last_layout['image_boxes'][0]
    below = drawn[y + h:].astype(int)
    for colour in STEP_COLOURS[:3]:
        assert (np.abs(below - colour).max(-1) == 0).sum() > 20


def test_rarnn_identical_maps_are_said_and_none_emitted():
    vis = GlimpseVisualizer(name='test_rarnn_same', min_side=0)
    image = np.full((64, 64, 3), 100, dtype=np.uint8)
    ds = DataSample(metainfo=dict(img_shape=(64, 64)))
    ds.set_field(torch.ones(3, 4, 4), 'attention_maps')
    ds.set_field(torch.tensor([True, True, False]), 'emission_mask')
    vis.visualize_cls(image, ds, draw_pred=False)
    assert vis.last_layout['panels'] == [0, 1]
    assert 'All emitted glimpses have the same attention map.' in \
        ' '.join(vis.last_layout['texts'])
    ds.set_field(torch.zeros(3, dtype=torch.bool), 'emission_mask')
    drawn = vis.visualize_cls(image, ds, draw_pred=False)
    assert vis.last_layout['panels'] == []
    assert vis.last_layout['texts'][0] == 'no glimpse emitted'
    np.testing.assert_array_equal(image_part(vis, drawn), image)
