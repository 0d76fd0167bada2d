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
from tests_conftest import load_tool

REPO_ROOT = Path(__file__).resolve().parents[2]
VOC_SAMPLES = (REPO_ROOT / '..' / 'shared' / 'data' / 'voc2007_test_samples' /
               'VOCdevkit' / 'VOC2007' / 'JPEGImages')
CLASSES = ('circle', 'square', 'triangle', 'cross', 'star', 'diamond',
           'ring', 'hexagon')


@pytest.fixture(scope='module')
def vis():
    return GlimpseVisualizer(name='test_glimpse_visualizer')


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
    the image part farther than 60 px from the boxes (the step labels start
    at the locations and may stick out of the boxes by their length)."""
    out = tmp_path / 'rarl.png'
    vis.visualize_cls(image, ds, classes=CLASSES, draw_gt=False,
                      draw_pred=False, out_file=str(out))
    drawn = mmcv.imread(str(out), channel_order='rgb')
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
    >= pred_thr are listed) and with resize: the size follows the resize."""
    image = np.full((150, 200, 3), 90, dtype=np.uint8)
    ds = rarl_sample((150, 200), [[0., 0.]])
    drawn = vis.visualize_cls(image, ds, classes=CLASSES, resize=100)
    assert drawn.shape == (100, 133, 3)
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
    rng = np.random.RandomState(1)
    image = (rng.rand(120, 160, 3) * 100 + 80).astype(np.uint8)
    vis.max_cols = 2
    out = tmp_path / 'rarnn.png'
    try:
        vis.visualize_cls(image, rarnn_sample((120, 160)), classes=CLASSES,
                          draw_gt=False, draw_pred=False, out_file=str(out))
    finally:
        vis.max_cols = 5
    grid = mmcv.imread(str(out), channel_order='rgb').astype(int)
    assert grid.shape == (240, 320, 3)  # 2 x 2 panels of the image size
    panels = [grid[r * 120:(r + 1) * 120, c * 160:(c + 1) * 160]
              for r in range(2) for c in range(2)]
    # the hot cell of glimpse 0 is cell (1, 1): rows 15..30, columns 20..40
    hot = panels[0][19:26, 26:34]
    assert (hot[..., 0] - image[19:26, 26:34, 0]).mean() > 30  # red heat
    cold = panels[0][60:80, 100:140]  # a cell far from it: blue side of jet
    assert (cold[..., 2] - cold[..., 0]).mean() > 40
    # not emitted (glimpse 1): grey, darker, channels equal up to rounding
    grey = panels[1][5:60, 5:150]
    assert np.abs(grey[..., 0] - grey[..., 2]).max() <= 2
    assert grey.mean() < image[5:60, 5:150].mean()


def test_rarnn_heat_only_inside_the_crop(vis, tmp_path):
    """A centre-crop input covers part of the original image: the heat map
    changes pixels inside the crop region only."""
    image = np.full((375, 500, 3), 128, dtype=np.uint8)
    ds = rarnn_sample((375, 500))
    ds.set_metainfo(dict(img_shape=(224, 224), scale_factor=(256 / 500,
                                                             256 / 375)))
    drawn = vis.visualize_cls(image, ds, draw_gt=False, draw_pred=False)
    panel = drawn[:375, :500].astype(int)
    changed = np.abs(panel - 128).max(-1) > 8
    x1, y1, x2, y2 = map_boxes(np.array([0., 0., 224., 224.]),
                               input_to_image_frame(ds, (375, 500)))
    # crop offset 16 px of the 256 px resize: 16 * 500 / 256 = 31.25
    np.testing.assert_allclose([x1, x2], [31.25, 468.75])
    inside = np.zeros_like(changed)
    inside[int(y1) + 2:int(y2) - 2, int(x1) + 2:int(x2) - 2] = True
    outside = np.ones_like(changed)
    outside[int(y1) - 1:int(y2) + 2, int(x1) - 1:int(x2) + 2] = False
    label_band = np.zeros_like(changed)
    label_band[330:, :] = True  # the panel's label, bottom-left
    assert changed[inside & ~label_band].mean() > 0.99
    assert not changed[outside & ~label_band].any()


def test_gap_sample_gets_text_only(vis):
    image = np.full((100, 120, 3), 50, dtype=np.uint8)
    ds = DataSample().set_pred_score(torch.tensor([0.9, 0.2, 0.6]))
    drawn = vis.visualize_cls(image, ds, classes=['a', 'b', 'c'])
    assert drawn.shape == image.shape
    changed = np.abs(drawn.astype(int) - 50).max(-1) > 8
    assert changed[:30, :60].any() and not changed[60:, :].any()


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
    img = mmcv.imread(str(saved[0]), channel_order='rgb')
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
                      baseline_hidden=8, anchor_sizes=(16, 24, 32))),
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
        assert drawn.shape == image.shape == (64, 64, 3)
        changed = np.abs(drawn.astype(int) - image.astype(int)).max(-1) > 8
        assert changed.mean() > 0.01  # the regions and the path are drawn


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
