"""TenViewClassifier: RARL's ten-view test protocol on feature maps.

RARL (Chen et al., AAAI 2018, "Implementation details" / test protocol;
docs/method.md "Test protocol"): each test image is resized to N x N; five
(N - 64) x (N - 64) crops (four corners and centre) and their horizontal
flips give ten views whose scores are averaged (paper). The crops are taken
on the backbone's feature map, so the backbone runs once per image and once
per flipped image, never per crop (paper: "crops on the conv5_3 map").

Training is exactly :class:`mmpretrain.models.ImageClassifier` (subclassed,
not rewritten); only ``predict`` changes when ``test_cfg.mode='ten_view'``.

How one batch of B images (B, 3, N, N) is predicted
----------------------------------------------------
1. ``x = cat([inputs, inputs.flip(-1)])`` (2B images); ``backbone(x)`` once.
2. On every feature map ``(2B, C, h, w)`` of the backbone's output tuple,
   with stride ``s = N / h`` (inferred, or ``feat_stride``) the crop size in
   cells is ``c = floor((N - 64) / s + 0.5)`` (rounded half up; 28 for
   VGG16 conv5_3 at N = 512, 36 at N = 640). The five windows, as
   ``[top, top + c_h) x [left, left + c_w)`` in feature cells:

   ===============  =================  =================
   view             rows               columns
   ===============  =================  =================
   top-left         [0, c_h)           [0, c_w)
   top-right        [0, c_h)           [w - c_w, w)
   bottom-left      [h - c_h, h)       [0, c_w)
   bottom-right     [h - c_h, h)       [w - c_w, w)
   centre           [t, t + c_h)       [l, l + c_w)
   ===============  =================  =================

   with ``t = (h - c_h) // 2`` and ``l = (w - c_w) // 2``: when ``h - c_h``
   is odd the centre window sits half a cell up / left of the true centre
   (default chosen here). On the flipped image's map the same windows are
   the flips of the original image's crops (its top-left is the mirror of
   the original top-right), so the ten views are the paper's.
3. The 5 x 2B crops are folded into the batch (10B maps, view-major), the
   neck (if any) runs on each, then the head gives probabilities:
   ``head.predict_scores(feats)`` for marl_mm glimpse heads (paper: each
   view is classified as a whole image); for mmpretrain heads without it,
   ``sigmoid(head(feats))`` for a ``MultiLabelClsHead`` (e.g.
   ``MultiLabelLinearClsHead`` behind ``GlobalAveragePooling``) and
   ``softmax(head(feats))`` for a ``ClsHead``, as their own ``predict``
   would compute them.
4. The ten probability vectors of each image are averaged (paper) and
   written with ``DataSample.set_pred_score``; no ``pred_label`` is set
   (marl_mm's metrics read ``pred_score``).

Required test pipeline
----------------------
The input must be the whole image resized to N x N, *without* a centre
crop, e.g. for N = 512::

    test_pipeline = [
        dict(type='LoadImageFromFile'),
        dict(type='Resize', scale=(512, 512)),
        dict(type='PackInputs'),
    ]

``configs/_base_/tta/ten_view_512.py`` and ``ten_view_640.py`` hold the
model switch and this pipeline for any data base.
"""
import math
from typing import List, Optional, Sequence, Tuple, Union

import torch
from mmpretrain.models import ImageClassifier
from mmpretrain.models.heads import ClsHead, MultiLabelClsHead
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

MODES = ('single', 'ten_view')
TEST_CFG_KEYS = ('mode', 'crop_size', 'crop_margin', 'feat_stride')

#: names of the five windows, in the order they are folded into the batch
WINDOW_NAMES = ('top_left', 'top_right', 'bottom_left', 'bottom_right',
                'centre')


def _pair(value, name: str) -> Optional[Tuple[float, float]]:
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = (value, value)
    if not (isinstance(value, (tuple, list)) and len(value) == 2 and all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0
            for v in value)):
        raise ValueError(f'TenViewClassifier: test_cfg.{name} must be a '
                         f'positive number or a (h, w) pair, got {value!r}')
    return tuple(value)


def five_windows(h: int, w: int, ch: int,
                 cw: int) -> List[Tuple[int, int]]:
    """``(top, left)`` of the five ``ch x cw`` windows of an ``h x w`` map.

    Order: :data:`WINDOW_NAMES`. The centre window is floored (see the module
    docstring).
    """
    return [(0, 0), (0, w - cw), (h - ch, 0), (h - ch, w - cw),
            ((h - ch) // 2, (w - cw) // 2)]


def feature_crop_size(input_size: int, feat_size: int, crop_px: float,
                      stride: Optional[float] = None) -> int:
    """Crop size in feature cells: ``floor(crop_px / stride + 0.5)``.

    Args:
        input_size: Input side in pixels (N).
        feat_size: Feature-map side in cells (h or w).
        crop_px: Crop side in input pixels (N - 64).
        stride: Pixels per cell; ``None`` infers ``input_size / feat_size``.

    Returns:
        int: The crop side in cells, in ``[1, feat_size]``.
    """
    stride = input_size / feat_size if stride is None else stride
    cells = int(math.floor(crop_px / stride + 0.5))
    if not 1 <= cells <= feat_size:
        raise ValueError(
            f'TenViewClassifier: a {crop_px:g}-pixel crop at stride '
            f'{stride:g} is {cells} feature cells, outside [1, {feat_size}] '
            f'for an input of {input_size} pixels; check test_cfg.crop_size '
            '/ crop_margin and that the test pipeline resizes to N x N '
            'without a centre crop')
    return cells


@MODELS.register_module()
class TenViewClassifier(ImageClassifier):
    """ImageClassifier with RARL's ten-view test on feature maps.

    Args:
        backbone, neck, head, pretrained, train_cfg, data_preprocessor,
            init_cfg: As for :class:`mmpretrain.models.ImageClassifier`.
        test_cfg: ``dict(mode='single')`` (default: plain ImageClassifier
            predict) or ``dict(mode='ten_view', crop_size=None,
            crop_margin=64, feat_stride=None)``. ``crop_size``: crop side
            (or (h, w)) in input pixels; ``None`` uses the input size minus
            ``crop_margin`` (paper: N - 64). ``feat_stride``: input pixels per
            feature cell (or (h, w)); ``None`` infers it per feature map as
            input size / map size.
    """

    def __init__(self,
                 backbone: dict,
                 neck: Optional[dict] = None,
                 head: Optional[dict] = None,
                 pretrained: Optional[str] = None,
                 train_cfg: Optional[dict] = None,
                 test_cfg: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(backbone=backbone, neck=neck, head=head,
                         pretrained=pretrained, train_cfg=train_cfg,
                         data_preprocessor=data_preprocessor,
                         init_cfg=init_cfg)
        self.test_cfg = self._check_test_cfg(test_cfg)

    @staticmethod
    def _check_test_cfg(test_cfg: Optional[dict]) -> dict:
        cfg = dict(mode='single', crop_size=None, crop_margin=64,
                   feat_stride=None)
        if test_cfg is None:
            return cfg
        if not isinstance(test_cfg, dict):
            raise TypeError('TenViewClassifier: test_cfg must be a dict, got '
                            f'{type(test_cfg).__name__}')
        unknown = set(test_cfg) - set(TEST_CFG_KEYS)
        if unknown:
            raise ValueError(f'TenViewClassifier: test_cfg has unknown keys '
                             f'{sorted(unknown)}; allowed: {TEST_CFG_KEYS}')
        cfg.update(test_cfg)
        if cfg['mode'] not in MODES:
            raise ValueError(f'TenViewClassifier: test_cfg.mode must be one '
                             f'of {MODES}, got {cfg["mode"]!r}')
        cfg['crop_size'] = _pair(cfg['crop_size'], 'crop_size')
        cfg['feat_stride'] = _pair(cfg['feat_stride'], 'feat_stride')
        margin = cfg['crop_margin']
        if isinstance(margin, bool) or not isinstance(margin, int) \
                or margin < 0:
            raise ValueError('TenViewClassifier: test_cfg.crop_margin must be '
                             f'an int >= 0, got {margin!r}')
        return cfg

    # ------------------------------------------------------------ predict
    def predict(self,
                inputs: torch.Tensor,
                data_samples: Optional[List[DataSample]] = None,
                **kwargs) -> List[DataSample]:
        """Single-view (ImageClassifier) or ten-view prediction.

        Args:
            inputs: ``(B, 3, N, N)`` preprocessed images.
            data_samples: One per image, or ``None``.

        Returns:
            list[DataSample]: With ``pred_score`` (averaged probabilities in
            ten-view mode).
        """
        if self.test_cfg['mode'] == 'single':
            return super().predict(inputs, data_samples, **kwargs)
        scores = self.ten_view_scores(inputs)  # (B, D)
        if data_samples is None:
            data_samples = [DataSample() for _ in range(scores.shape[0])]
        for ds, score in zip(data_samples, scores):
            ds.set_pred_score(score)
        return data_samples

    def ten_view_scores(self, inputs: torch.Tensor) -> torch.Tensor:
        """Probabilities averaged over the ten views (module docstring).

        Args:
            inputs: ``(B, 3, H, W)`` images resized to N x N.

        Returns:
            torch.Tensor: ``(B, D)``.
        """
        if inputs.dim() != 4:
            raise ValueError('TenViewClassifier: ten-view inputs must be '
                             f'(B, C, H, W), got shape {tuple(inputs.shape)}')
        num_images, in_h, in_w = inputs.shape[0], inputs.shape[-2], \
            inputs.shape[-1]
        x = torch.cat([inputs, inputs.flip(-1)])  # (2B, 3, H, W)
        maps = self.backbone(x)
        maps = maps if isinstance(maps, (tuple, list)) else (maps, )
        views = tuple(self._crop_views(m, in_h, in_w) for m in maps)
        if self.with_neck:
            views = self.neck(views)  # on each of the 10B crops
        scores = self._head_scores(views)  # (10B, D)
        return scores.view(len(WINDOW_NAMES), 2, num_images,
                           -1).mean((0, 1))  # (B, D)

    def _crop_views(self, fmap: torch.Tensor, in_h: int,
                    in_w: int) -> torch.Tensor:
        """Five windows of ``(2B, C, h, w)`` folded to ``(10B, C, ch, cw)``."""
        h, w = fmap.shape[-2:]
        crop = self.test_cfg['crop_size'] or (
            in_h - self.test_cfg['crop_margin'],
            in_w - self.test_cfg['crop_margin'])
        stride = self.test_cfg['feat_stride'] or (None, None)
        ch = feature_crop_size(in_h, h, crop[0], stride[0])
        cw = feature_crop_size(in_w, w, crop[1], stride[1])
        crops = [fmap[..., t:t + ch, l:l + cw]
                 for t, l in five_windows(h, w, ch, cw)]  # 5 x (2B, C, ch, cw)
        return torch.cat(crops)  # (10B, C, ch, cw), view-major

    def _head_scores(self, feats: Sequence[torch.Tensor]) -> torch.Tensor:
        """``(10B, D)`` probabilities from the head (module docstring)."""
        if hasattr(self.head, 'predict_scores'):
            return self.head.predict_scores(feats)
        if isinstance(self.head, MultiLabelClsHead):
            return self.head(feats).sigmoid()
        if isinstance(self.head, ClsHead):
            return self.head(feats).softmax(-1)
        raise TypeError(
            f'TenViewClassifier: head {type(self.head).__name__} has no '
            'predict_scores(feats) and is not an mmpretrain ClsHead / '
            'MultiLabelClsHead, so its probabilities are unknown; add '
            'predict_scores (B, D) to the head')
