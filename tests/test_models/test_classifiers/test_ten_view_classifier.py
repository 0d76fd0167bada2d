"""TenViewClassifier: ten views cropped on feature maps equal the ten views
computed one by one (one image, one flip, one window at a time, windows
written out by hand), for a glimpse-style head, an mmpretrain GAP + linear
head and the real LSTMGlimpseHead; single mode is plain ImageClassifier."""
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.model import BaseModule
from torch import nn

import marl_mm  # noqa: F401  (registers components)
from marl_mm.models.classifiers import TenViewClassifier
from marl_mm.models.classifiers.ten_view_classifier import (
    feature_crop_size, five_windows)
from mmpretrain.models import ImageClassifier
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

REPO_ROOT = Path(__file__).resolve().parents[3]
NUM_CLASSES = 3


class TinyBackbone(BaseModule):
    """Two stride-2 convs: stride 4, 5 channels, one map in a tuple."""

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(3, 4, 3, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(4, 5, 3, stride=2, padding=1), nn.ReLU())
        self.calls = []

    def forward(self, x):
        self.calls.append(x.shape[0])
        return (self.net(x), )


class MaxPoolSoftmaxHead(BaseModule):
    """A glimpse-style head: position-sensitive, provides predict_scores."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(5, NUM_CLASSES)
        self.pos = nn.Parameter(torch.randn(5, 1, 1))

    def predict_scores(self, feats):
        x = feats[-1]  # (B, C, h, w)
        h, w = x.shape[-2:]
        ramp = torch.linspace(0, 1, h * w).view(1, 1, h, w)
        pooled = (x + self.pos * ramp).amax((2, 3))  # (B, C)
        return self.fc(pooled).softmax(-1)

    def predict(self, feats, data_samples=None):
        scores = self.predict_scores(feats)
        samples = data_samples or [DataSample() for _ in scores]
        return [ds.set_pred_score(s) for ds, s in zip(samples, scores)]


def _classifier(head='maxpool', mode='ten_view', **test_cfg):
    torch.manual_seed(0)
    if head == 'maxpool':
        kwargs = dict(head=MaxPoolSoftmaxHead())
    else:
        kwargs = dict(
            neck=dict(type='GlobalAveragePooling'),
            head=dict(type='MultiLabelLinearClsHead',
                      num_classes=NUM_CLASSES, in_channels=5))
    model = TenViewClassifier(backbone=TinyBackbone(),
                              test_cfg=dict(mode=mode, **test_cfg), **kwargs)
    return model.eval()  # PyTorch's default init: scores differ per view


def _one_by_one(model, images, windows, crop_cells, head='maxpool'):
    """Reference: every view separately, windows given as literal offsets."""
    ch, cw = crop_cells
    out = []
    for img in images:
        views = []
        for flipped in (False, True):
            x = img.flip(-1) if flipped else img
            fmap = model.backbone(x[None])[0]  # (1, C, h, w)
            for top, left in windows:
                crop = (fmap[..., top:top + ch, left:left + cw], )
                if model.with_neck:
                    logits = model.head(model.neck(crop))
                    views.append(torch.sigmoid(logits)[0])
                else:
                    views.append(model.head.predict_scores(crop)[0])
        out.append(torch.stack(views).mean(0))
    return torch.stack(out)


# input 36 -> map 9 x 9 (stride 4); crop 36 - 12 = 24 px -> 6 cells;
# 9 - 6 = 3 is odd: centre window floored to (1, 1)
WINDOWS_9_6 = [(0, 0), (0, 3), (3, 0), (3, 3), (1, 1)]


@pytest.mark.parametrize('head', ['maxpool', 'gap_linear'])
def test_ten_view_equals_views_one_by_one(head):
    model = _classifier(head, crop_margin=12)
    images = torch.randn(2, 3, 36, 36, generator=torch.Generator()
                         .manual_seed(1))
    with torch.no_grad():
        model.backbone.calls.clear()
        preds = model.predict(images)
        assert model.backbone.calls == [4]  # one pass on 2 images + 2 flips
        ref = _one_by_one(model, images, WINDOWS_9_6, (6, 6), head)
    got = torch.stack([p.pred_score for p in preds])
    torch.testing.assert_close(got, ref, rtol=1e-5, atol=1e-6)
    # the views differ, so the average is not one view's score
    single = _one_by_one(model, images, [(0, 0)], (6, 6), head)
    assert (got - single).abs().max() > 1e-4


def test_rectangular_input_and_explicit_crop_and_stride():
    # 36 x 44 input -> 9 x 11 map; crop (20, 28) px at stride 4 -> 5 x 7
    model = _classifier(crop_size=(20, 28), feat_stride=4)
    images = torch.randn(1, 3, 36, 44, generator=torch.Generator()
                         .manual_seed(2))
    windows = [(0, 0), (0, 4), (4, 0), (4, 4), (2, 2)]
    with torch.no_grad():
        got = model.predict(images)[0].pred_score
        ref = _one_by_one(model, images, windows, (5, 7))[0]
    torch.testing.assert_close(got, ref, rtol=1e-5, atol=1e-6)


def test_single_mode_is_image_classifier():
    model = _classifier(mode='single')
    plain = ImageClassifier(backbone=TinyBackbone(),
                            head=MaxPoolSoftmaxHead()).eval()
    plain.load_state_dict(model.state_dict())
    images = torch.randn(2, 3, 36, 36, generator=torch.Generator()
                         .manual_seed(3))
    samples = [DataSample().set_gt_label([0]) for _ in range(2)]
    with torch.no_grad():
        got = model.predict(images, samples)
        ref = plain.predict(images)
    for g, r in zip(got, ref):
        torch.testing.assert_close(g.pred_score, r.pred_score)
    assert got[0].gt_label.tolist() == [0]  # the given samples are filled


def test_training_loss_is_image_classifier():
    model = _classifier(head='gap_linear').train()
    plain = ImageClassifier(
        backbone=TinyBackbone(), neck=dict(type='GlobalAveragePooling'),
        head=dict(type='MultiLabelLinearClsHead', num_classes=NUM_CLASSES,
                  in_channels=5))
    plain.load_state_dict(model.state_dict())
    images = torch.randn(2, 3, 36, 36)
    samples = [DataSample().set_gt_label([0, 2]),
               DataSample().set_gt_label([1])]
    torch.testing.assert_close(
        model.loss(images, samples)['loss'],
        plain.loss(images, samples)['loss'])


def test_lstm_glimpse_head_ten_view():
    head = MODELS.build(dict(
        type='LSTMGlimpseHead', num_classes=NUM_CLASSES, in_channels=5,
        feat_stride=4., num_steps=2, anchor_sizes=(8., 16.),
        anchor_ratios=(1., ), roi_size=2, embed_dims=8, hidden_dims=8))
    torch.manual_seed(0)
    model = TenViewClassifier(backbone=TinyBackbone(), head=head,
                              test_cfg=dict(mode='ten_view', crop_margin=12))
    model.init_weights()
    model.eval()
    images = torch.randn(2, 3, 36, 36, generator=torch.Generator()
                         .manual_seed(4))
    with torch.no_grad():
        got = torch.stack([p.pred_score for p in model.predict(images)])
        ref = _one_by_one(model, images, WINDOWS_9_6, (6, 6))
    torch.testing.assert_close(got, ref, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(got.sum(-1), torch.ones(2))


def test_window_helpers():
    # VGG16 conv5_3 (stride 16): 512 -> 32 x 32 map, 448 px -> 28 cells
    assert feature_crop_size(512, 32, 448) == 28
    assert feature_crop_size(640, 40, 576) == 36
    # 500 px input -> 31 cells (stride 16.13): 436 / 16.13 = 27.03 -> 27
    assert feature_crop_size(500, 31, 436) == 27
    # rounding half up: 2.5 cells -> 3
    assert feature_crop_size(20, 10, 5) == 3
    assert five_windows(32, 32, 28, 28) == [(0, 0), (0, 4), (4, 0), (4, 4),
                                            (2, 2)]
    with pytest.raises(ValueError, match='outside'):
        feature_crop_size(36, 9, 40)


@pytest.mark.parametrize('test_cfg,error,match', [
    (dict(mode='five_view'), ValueError, 'mode must be one of'),
    (dict(mode='ten_view', crop=3), ValueError, 'unknown keys'),
    (dict(mode='ten_view', crop_size=0), ValueError, 'crop_size'),
    (dict(mode='ten_view', crop_size=(1, 2, 3)), ValueError, 'crop_size'),
    (dict(mode='ten_view', crop_margin=-64), ValueError, 'crop_margin'),
    (dict(mode='ten_view', feat_stride='16'), ValueError, 'feat_stride'),
    ('ten_view', TypeError, 'test_cfg must be a dict'),
])
def test_bad_test_cfg(test_cfg, error, match):
    with pytest.raises(error, match=match):
        TenViewClassifier(backbone=TinyBackbone(), head=MaxPoolSoftmaxHead(),
                          test_cfg=test_cfg)


def test_head_without_probabilities_raises():

    class RawHead(BaseModule):

        def forward(self, feats):
            return feats[-1].mean((2, 3))

    model = TenViewClassifier(backbone=TinyBackbone(), head=RawHead(),
                              test_cfg=dict(mode='ten_view', crop_margin=12))
    with pytest.raises(TypeError, match='RawHead has no predict_scores'):
        model.predict(torch.randn(1, 3, 36, 36))


@pytest.mark.parametrize('size', [512, 640])
def test_tta_snippet_switches_model_and_pipeline(tmp_path, size):
    base = tmp_path / 'base.py'
    base.write_text(
        "model = dict(type='ImageClassifier', backbone=dict(type='ResNet', "
        "depth=18), neck=dict(type='GlobalAveragePooling'), "
        "head=dict(type='MultiLabelLinearClsHead', num_classes=3, "
        "in_channels=512))\n"
        "test_dataloader = dict(batch_size=2, dataset=dict(type='VOC', "
        "pipeline=[dict(type='LoadImageFromFile'), dict(type='ResizeEdge', "
        "scale=256), dict(type='CenterCrop', crop_size=224), "
        "dict(type='PackInputs')]))\n")
    snippet = REPO_ROOT / 'configs' / '_base_' / 'tta' / f'ten_view_{size}.py'
    leaf = tmp_path / 'leaf.py'
    leaf.write_text(
        f"_base_ = ['./base.py', '{snippet}']\n"
        'model = _base_.ten_view_model\n'
        'test_dataloader = _base_.ten_view_test_dataloader\n')
    cfg = Config.fromfile(str(leaf))
    assert cfg.model.type == 'TenViewClassifier'
    assert cfg.model.test_cfg == dict(mode='ten_view', crop_size=size - 64)
    assert cfg.model.backbone.depth == 18  # the rest of the model is kept
    assert cfg.test_dataloader.batch_size == 2
    pipeline = cfg.test_dataloader.dataset.pipeline
    assert [t['type'] for t in pipeline] == [
        'CheckedLoadImageFromFile', 'Resize', 'PackInputs']
    assert pipeline[1]['scale'] == (size, size)
    assert 'gt_label_difficult' in pipeline[2]['meta_keys']
    model = MODELS.build(cfg.model.to_dict())
    assert isinstance(model, TenViewClassifier)
    # ResNet-18 is stride 32: (N - 64) / 32 cells on an N / 32 map
    cells = [feature_crop_size(size, size // 32, size - 64)]
    assert cells == [(size - 64) // 32]
