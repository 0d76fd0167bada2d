"""Drawing what the glimpse heads looked at.

* RARL (:class:`LSTMGlimpseHead`, Chen et al. AAAI 2018): the k regions of
  every step ``t = 1..T`` (one colour per step), the path of the locations
  ``l_1 -> ... -> l_T`` and, beside each location, the step's top label and
  probability.
* RARNN (:class:`GRREHead`, Li et al. ACM MM 2018): one panel per candidate
  glimpse with its attention ``A_t`` (channel mean, as stored by the head)
  upsampled to the image as a heat map and the glimpse's top label; glimpses
  the emission indicator did not emit are greyed out.
* anything else (GAP baselines): mmpretrain's prediction text only.
"""
import math
from typing import Optional, Sequence, Tuple, Union

import mmcv
import numpy as np
import torch
from mmengine.dist import master_only
from mmengine.registry import VISUALIZERS as MMENGINE_VISUALIZERS

from mmpretrain.registry import VISUALIZERS
from mmpretrain.structures import DataSample
from mmpretrain.visualization import UniversalVisualizer
from mmpretrain.visualization.utils import get_adaptive_scale

from ..evaluation.metrics.functional import check_topk_thr, topk_thr_binarize

#: one colour per RARL step (matplotlib's tab10, RGB)
STEP_COLOURS = ((31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40),
                (148, 103, 189), (140, 86, 75), (227, 119, 194),
                (127, 127, 127), (188, 189, 34), (23, 190, 207))

#: affine map ``x_image = ax * x_input + bx`` (same for y) of one axis pair
Frame = Tuple[float, float, float, float]


def input_to_image_frame(data_sample: DataSample,
                         image_hw: Tuple[int, int]) -> Frame:
    """How network-input pixels map onto the image being drawn.

    The heads report boxes and attention in the frame of the network input
    (``img_shape`` of the DataSample: after ``Resize`` and any
    ``CenterCrop``). Cases, by the shape of the image drawn on:

    * ``img_shape`` (e.g. the inputs the ``VisualizationHook`` passes):
      identity;
    * ``ori_shape`` (the original file): undo the crop, then the resize:
      ``x_ori = (x_in + ox) / scale_factor[0]`` with ``ox`` the centre-crop
      offset ``round((ori_w * scale_factor[0] - img_w) / 2)`` (0 without a
      crop; mmcv's ``CenterCrop`` does not record its offset, so a centred
      crop is assumed), same for y; a horizontal ``flip`` is undone first;
    * any other shape: a plain rescale from ``img_shape``.

    Returns:
        ``(ax, bx, ay, by)``.
    """
    h, w = image_hw
    in_h, in_w = data_sample.get('img_shape', image_hw)
    ori = data_sample.get('ori_shape', None)
    scale = data_sample.get('scale_factor', None)
    if (h, w) == (in_h, in_w):
        return 1., 0., 1., 0.
    if ori is not None and scale is not None and (h, w) == tuple(ori):
        sx, sy = scale
        ox = max(round((ori[1] * sx - in_w) / 2), 0)
        oy = max(round((ori[0] * sy - in_h) / 2), 0)
        if data_sample.get('flip', False) and \
                data_sample.get('flip_direction', None) == 'horizontal':
            return -1. / sx, (in_w + ox) / sx, 1. / sy, oy / sy
        return 1. / sx, ox / sx, 1. / sy, oy / sy
    return w / in_w, 0., h / in_h, 0.


def map_boxes(boxes: np.ndarray, frame: Frame) -> np.ndarray:
    """``(..., 4)`` input-frame boxes ``(x1, y1, x2, y2)`` -> image frame."""
    ax, bx, ay, by = frame
    xs = boxes[..., 0::2] * ax + bx  # (..., 2)
    ys = boxes[..., 1::2] * ay + by  # (..., 2)
    return np.stack([xs.min(-1), ys.min(-1), xs.max(-1), ys.max(-1)], -1)


@MMENGINE_VISUALIZERS.register_module()  # also found without mmpretrain
@VISUALIZERS.register_module()
class GlimpseVisualizer(UniversalVisualizer):
    """mmpretrain's :class:`UniversalVisualizer` that also draws glimpses.

    :meth:`visualize_cls` keeps the parent's signature (so mmpretrain's
    ``VisualizationHook`` and ``tools/test.py --show-dir`` use it unchanged):
    it draws the glimpses found in the DataSample (RARL ``glimpse_boxes``
    ``(T, k, 4)`` / ``glimpse_locations`` / optional ``glimpse_scores``
    ``(T, D)``; RARNN ``attention_maps`` ``(T, S, S)`` / ``emission_mask`` /
    ``emission_prob`` / ``glimpse_scores``), then the parent's label text.
    Coordinates are mapped from the network input to the image drawn on by
    :func:`input_to_image_frame` (``img_shape``, ``ori_shape``,
    ``scale_factor``, ``flip`` of the DataSample).

    The drawn label set. A sample that has a ``pred_label`` (the
    inferencer's) is drawn with it. Samples from the Runner's
    validation / test loop have only ``pred_score`` (the paper heads set no
    label set); for them the "Prediction" text lists the labels chosen by
    the rule of :class:`MultiLabelTopKMetric`: the ``pred_topk`` highest,
    minus those below ``pred_thr`` (the same function,
    :func:`~marl_mm.evaluation.metrics.functional.topk_thr_binarize`, ties
    to the lower class index, and, as in the metric, possibly no label).
    Choice made here: the picture follows the evaluator, so
    ``tools/test.py`` copies ``topk`` / ``thr`` of the first
    ``MultiLabelTopKMetric`` in the config's ``test_evaluator`` (RARL
    configs: top-3 above 0.1; RARNN: top-3) into the visualiser unless the
    config sets ``pred_topk`` / ``pred_thr`` itself
    (:func:`label_protocol_from_evaluator`); an evaluator without one (mAP
    only) keeps the defaults, labels ``>= 0.5``.

    Glimpses in TensorBoard during validation: add to the config ::

        custom_imports = dict(imports=['marl_mm', 'marl_mm.visualization'],
                              allow_failed_imports=False)
        visualizer = dict(
            type='GlimpseVisualizer',
            vis_backends=[dict(type='LocalVisBackend'),
                          dict(type='TensorboardVisBackend')])
        default_hooks = dict(visualization=dict(
            type='VisualizationHook', enable=True, interval=50,
            input_bgr=True))

    (``interval``: every 50th validation image; ``input_bgr=True`` because
    the hook passes the loaded BGR pixels; ``pip install tensorboard``.) The
    hook draws on the network input, so no coordinate mapping is involved.

    Registered in mmpretrain's ``VISUALIZERS`` (so ``default_scope=
    'mmpretrain'`` configs build it) and in mmengine's root ``VISUALIZERS``
    (so ``mmengine.registry.VISUALIZERS.get('GlimpseVisualizer')`` and
    configs in other scopes, which fall back to the root, find it too).

    Args:
        pred_topk: labels kept per image for the text when the sample has no
            ``pred_label`` (None: no top-k cut).
        pred_thr: probability threshold of that text (None: none); at least
            one of ``pred_topk`` / ``pred_thr`` must be set.
        heat_alpha: opacity of the RARNN heat maps.
        max_cols: RARNN panels per row.
        **kwargs: :class:`UniversalVisualizer` arguments (``name``,
            ``vis_backends``, ``save_dir``, ...).
    """

    def __init__(self,
                 name: str = 'visualizer',
                 pred_thr: Optional[float] = 0.5,
                 heat_alpha: float = 0.5,
                 max_cols: int = 5,
                 pred_topk: Optional[int] = None,
                 **kwargs) -> None:
        super().__init__(name=name, **kwargs)
        try:
            check_topk_thr(pred_topk, pred_thr)
        except (TypeError, ValueError) as err:
            raise type(err)(f'GlimpseVisualizer: pred_topk / pred_thr: {err}'
                            ) from None
        if not 0. <= heat_alpha <= 1.:
            raise ValueError('GlimpseVisualizer: heat_alpha must be in '
                             f'[0, 1], got {heat_alpha}')
        if max_cols < 1:
            raise ValueError(f'GlimpseVisualizer: max_cols must be >= 1, got '
                             f'{max_cols}')
        self.pred_thr = pred_thr
        self.pred_topk = pred_topk
        self.heat_alpha = heat_alpha
        self.max_cols = max_cols

    # ------------------------------------------------------------- public
    @master_only
    def visualize_cls(self,
                      image: np.ndarray,
                      data_sample: DataSample,
                      classes: Optional[Sequence[str]] = None,
                      draw_gt: bool = True,
                      draw_pred: bool = True,
                      draw_score: bool = True,
                      resize: Optional[int] = None,
                      rescale_factor: Optional[float] = None,
                      text_cfg: dict = dict(),
                      show: bool = False,
                      wait_time: float = 0,
                      out_file: Optional[str] = None,
                      name: str = '',
                      step: int = 0,
                      draw_glimpses: bool = True,
                      input_bgr: bool = False) -> np.ndarray:
        """Glimpses, then the parent's label text (see its docstring).

        Args:
            image: RGB ``(H, W, 3)`` uint8 image, the network input or the
                original image (see :func:`input_to_image_frame`).
            data_sample: the model's prediction.
            draw_glimpses: draw the glimpses (False: parent's drawing only).
            input_bgr: ``image`` is BGR (the ``VisualizationHook``'s inputs).
            others: as :meth:`UniversalVisualizer.visualize_cls`.

        Returns:
            the drawn RGB image.
        """
        if self.dataset_meta is not None:
            classes = classes or self.dataset_meta.get('classes', None)
        image = np.ascontiguousarray(image[..., ::-1] if input_bgr else image)
        frame = input_to_image_frame(data_sample, image.shape[:2])
        if resize is not None or rescale_factor is not None:
            h, w = image.shape[:2]
            if resize is not None:
                size = ((resize, resize * h // w) if w < h else
                        (resize * w // h, resize))
                image = mmcv.imresize(image, size)
            else:
                image = mmcv.imrescale(image, rescale_factor)
            rx, ry = image.shape[1] / w, image.shape[0] / h
            frame = (frame[0] * rx, frame[1] * rx, frame[2] * ry,
                     frame[3] * ry)
        if draw_glimpses and 'glimpse_boxes' in data_sample:
            image = self.draw_rarl(image, data_sample, frame, classes)
        elif draw_glimpses and 'attention_maps' in data_sample:
            image = self.draw_rarnn(image, data_sample, frame, classes)
        return super().visualize_cls(
            image, self._with_pred_label(data_sample), classes=classes,
            draw_gt=draw_gt, draw_pred=draw_pred, draw_score=draw_score,
            text_cfg=text_cfg, show=show, wait_time=wait_time,
            out_file=out_file, name=name, step=step)

    def draw_rarl(self, image: np.ndarray, data_sample: DataSample,
                  frame: Frame,
                  classes: Optional[Sequence[str]] = None) -> np.ndarray:
        """RARL: the k regions of each step, the location path and each
        step's top label; returns the drawn RGB image (same size)."""
        h, w = image.shape[:2]
        boxes = map_boxes(_numpy(data_sample.glimpse_boxes), frame)  # (T,k,4)
        num_steps = boxes.shape[0]
        centres = (boxes[..., :2] + boxes[..., 2:]).mean(1) / 2  # (T, 2)
        step_scores = data_sample.get('glimpse_scores', None)
        if step_scores is not None:
            step_scores = _numpy(step_scores)
            if step_scores.ndim == 3:  # (T, k, D) region scores
                step_scores = step_scores.max(1)
        scale = get_adaptive_scale((h, w))
        width = max(1., 1.5 * scale)

        self.set_image(image)
        clipped = boxes.copy()
        clipped[..., 0::2] = clipped[..., 0::2].clip(0, w - 1)
        clipped[..., 1::2] = clipped[..., 1::2].clip(0, h - 1)
        for t in range(num_steps):
            colour = STEP_COLOURS[t % len(STEP_COLOURS)]
            self.draw_bboxes(clipped[t], edge_colors=colour,
                             line_widths=width)
        inside = centres.clip([0, 0], [w - 1, h - 1])  # (T, 2)
        if num_steps > 1:
            segments = np.stack([inside[:-1], inside[1:]], 1)  # (T-1, 2, 2)
            self.draw_lines(segments[..., 0], segments[..., 1],
                            colors='white', line_widths=width * 1.5)
        texts, positions, colours = [], [], []
        for t in range(num_steps):
            text = f'{t + 1}'
            if step_scores is not None:
                c = int(step_scores[t].argmax())
                label = classes[c] if classes is not None else str(c)
                text += f' {label} {step_scores[t, c]:.2f}'
            texts.append(text)
            # stacked one line apart: steps at one location stay readable
            positions.append(inside[t] + [3 * scale, (3 + 9 * t) * scale])
            colours.append(STEP_COLOURS[t % len(STEP_COLOURS)])
        self.draw_points(inside, colors=colours, sizes=np.full(
            num_steps, 20 * scale))
        self.draw_texts(texts, np.array(positions), colors='white',
                        font_sizes=int(6 * scale) + 1,
                        bboxes=[dict(facecolor=c, alpha=0.7, pad=1,
                                     edgecolor='none')
                                for c in _matplotlib_colours(colours)])
        return self.get_image()

    def draw_rarnn(self, image: np.ndarray, data_sample: DataSample,
                   frame: Frame,
                   classes: Optional[Sequence[str]] = None) -> np.ndarray:
        """RARNN: a grid of one panel per candidate glimpse (row-major,
        ``max_cols`` per row), each the image with ``A_t`` as a heat map and
        the glimpse's top label; non-emitted glimpses in grey."""
        import matplotlib
        h, w = image.shape[:2]
        maps = _numpy(data_sample.attention_maps).astype(np.float64)
        num = maps.shape[0]
        emitted = (_numpy(data_sample.emission_mask).astype(bool)
                   if 'emission_mask' in data_sample else np.ones(num, bool))
        prob = (_numpy(data_sample.emission_prob)
                if 'emission_prob' in data_sample else None)
        scores = (_numpy(data_sample.glimpse_scores)
                  if 'glimpse_scores' in data_sample else None)
        cols = min(num, self.max_cols)
        rows = math.ceil(num / cols)
        grid = np.zeros((rows * h, cols * w, 3), dtype=np.uint8)
        jet = matplotlib.colormaps['jet']
        in_hw = tuple(data_sample.get('img_shape', (h, w)))
        grey_image = image.astype(np.float64) @ [0.299, 0.587, 0.114]  # (H,W)
        for t in range(num):
            heat, mask = self._paste_heat(maps[t], frame, in_hw,
                                          (h, w))  # (H, W) each
            if emitted[t]:
                base = image.astype(np.float64)
                colour = jet(heat)[..., :3] * 255  # (H, W, 3)
            else:
                base = np.repeat(grey_image[..., None], 3, -1) * 0.6
                colour = np.repeat(heat[..., None], 3, -1) * 160
            alpha = self.heat_alpha * mask[..., None]  # (H, W, 1)
            panel = base * (1 - alpha) + colour * alpha
            r, c = divmod(t, cols)
            grid[r * h:(r + 1) * h, c * w:(c + 1) * w] = panel.clip(
                0, 255).astype(np.uint8)

        self.set_image(grid)
        scale = get_adaptive_scale((h, w))
        texts, positions, colours = [], [], []
        for t in range(num):
            text = f'{t + 1}'
            if scores is not None:
                k = int(scores[t].argmax())
                label = classes[k] if classes is not None else str(k)
                text += f' {label} {scores[t, k]:.2f}'
            if not emitted[t]:
                text += ' (not emitted)'
            if prob is not None:
                text += f' e={prob[t]:.2f}'
            r, c = divmod(t, cols)
            texts.append(text)
            positions.append((c * w + 2 * scale, (r + 1) * h - 2 * scale))
            colours.append('white' if emitted[t] else 'lightgrey')
        self.draw_texts(texts, np.array(positions), colors=colours,
                        font_sizes=int(6 * scale) + 1,
                        vertical_alignments='bottom',
                        bboxes=dict(facecolor='black', alpha=0.6, pad=1,
                                    edgecolor='none'))
        return self.get_image()

    # ------------------------------------------------------------ helpers
    @staticmethod
    def _paste_heat(att: np.ndarray, frame: Frame, in_hw: Tuple[int, int],
                    image_hw: Tuple[int, int]
                    ) -> Tuple[np.ndarray, np.ndarray]:
        """A ``(S, S)`` map covering the network input, min-max normalised
        and resized (bilinear) onto the image: ``(heat, mask)``, both
        ``(H, W)`` in [0, 1] (mask: 1 where the network input lies)."""
        h, w = image_hw
        lo, hi = att.min(), att.max()
        att = (att - lo) / (hi - lo) if hi > lo else np.full_like(att, 0.5)
        if frame[0] < 0:  # the input was flipped horizontally
            att = att[:, ::-1]
        x1, y1, x2, y2 = map_boxes(
            np.array([0., 0., in_hw[1], in_hw[0]]), frame)
        ox, oy = round(x1), round(y1)
        rw, rh = max(round(x2 - x1), 1), max(round(y2 - y1), 1)
        big = mmcv.imresize(np.ascontiguousarray(att, dtype=np.float32),
                            (rw, rh), interpolation='bilinear')  # (rh, rw)
        heat = np.zeros((h, w))
        mask = np.zeros((h, w))
        xa, ya, xb, yb = max(ox, 0), max(oy, 0), min(ox + rw, w), min(
            oy + rh, h)
        if xb > xa and yb > ya:
            heat[ya:yb, xa:xb] = big[ya - oy:yb - oy, xa - ox:xb - ox]
            mask[ya:yb, xa:xb] = 1.
        return heat, mask

    def _with_pred_label(self, data_sample: DataSample) -> DataSample:
        """A copy with ``pred_label`` if the sample has scores but no label
        set: the metric's rule with ``pred_topk`` / ``pred_thr`` (see the
        class docstring), highest score first; possibly empty."""
        if 'pred_label' in data_sample or 'pred_score' not in data_sample:
            return data_sample
        score = _numpy(data_sample.pred_score).astype(np.float64)  # (D,)
        keep = topk_thr_binarize(score[None], self.pred_topk,
                                 self.pred_thr)[0]  # (D,)
        label = np.flatnonzero(keep)
        label = label[np.argsort(-score[label], kind='stable')]
        out = data_sample.clone()
        out.set_pred_label(torch.as_tensor(label, dtype=torch.long))
        return out


def label_protocol_from_evaluator(
        evaluator: Union[dict, Sequence[dict], None]) -> Optional[dict]:
    """``dict(pred_topk=..., pred_thr=...)`` of the first
    ``MultiLabelTopKMetric`` in an evaluator config, None if it has none.

    Args:
        evaluator: a config's ``val_evaluator`` / ``test_evaluator``: one
            metric dict, a list of them, or a dict with ``metrics``.

    Returns:
        The visualiser arguments that draw the metric's label set (defaults
        of the metric where it leaves ``topk`` / ``thr`` unset).
    """
    if evaluator is None:
        return None
    if isinstance(evaluator, dict):
        evaluator = evaluator.get('metrics', evaluator)
    metrics = [evaluator] if isinstance(evaluator, dict) else list(evaluator)
    for metric in metrics:
        if str(metric.get('type', '')).split('.')[-1] == \
                'MultiLabelTopKMetric':
            return dict(pred_topk=metric.get('topk', 3),
                        pred_thr=metric.get('thr', None))
    return None


def _numpy(x) -> np.ndarray:
    return x.detach().float().cpu().numpy() if isinstance(
        x, torch.Tensor) else np.asarray(x)


def _matplotlib_colours(colours) -> list:
    return [tuple(v / 255 for v in c) if isinstance(c, tuple) else c
            for c in colours]
