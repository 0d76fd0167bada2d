"""Drawing what the glimpse heads looked at.

Every drawing is a header (ground truth and predicted labels), the image
and a legend, the text in dark margins outside the image (it never covers
an object) and sized to the image (``font_fraction`` of its short side;
images smaller than ``min_side`` are enlarged by an integer factor first).

* RARL (:class:`LSTMGlimpseHead`, Chen et al. AAAI 2018): the k regions of
  every step ``t = 1..T`` (one colour per step), the path between the step
  centres ``l_1 -> ... -> l_T`` and numbered centre markers; the legend
  gives per step its colour, centre and top label.
* RARNN (:class:`GRREHead`, Li et al. ACM MM 2018): one panel per *emitted*
  glimpse, each with that glimpse's attention ``A_t`` (channel mean, as
  stored by the head) as a heat map and a title with its top label and
  emission probability; the legend explains them and counts the glimpses
  not emitted.
* anything else (GAP baselines): header and image only.
"""
import math
import textwrap
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

#: background of the header, title and legend margins (RGB)
MARGIN_COLOUR = (32, 32, 32)

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
    ``self.last_layout`` keeps where the last drawing put things:
    ``image_boxes`` (``(x, y, w, h)`` of the image / each panel in the
    output), ``panels`` (RARNN: the glimpse index of each panel),
    ``font_px``, ``texts``, ``scale`` (the enlargement factor).
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
        min_side: an image whose short side is below this is enlarged by an
            integer factor before drawing (a 128 px image is drawn at
            256 px), so that its text is readable.
        font_fraction: text height as a fraction of the drawn image's short
            side (0.045: 11.5 px at 256 px, 22.5 px at 500 px).
        **kwargs: :class:`UniversalVisualizer` arguments (``name``,
            ``vis_backends``, ``save_dir``, ...).
    """

    def __init__(self,
                 name: str = 'visualizer',
                 pred_thr: Optional[float] = 0.5,
                 heat_alpha: float = 0.5,
                 max_cols: int = 5,
                 pred_topk: Optional[int] = None,
                 min_side: int = 256,
                 font_fraction: float = 0.045,
                 **kwargs) -> None:
        super().__init__(name=name, **kwargs)
        if min_side < 0 or not 0. < font_fraction < 1.:
            raise ValueError('GlimpseVisualizer: min_side must be >= 0 and '
                             'font_fraction in (0, 1), got '
                             f'{min_side}, {font_fraction}')
        self.min_side = min_side
        self.font_fraction = font_fraction
        self.last_layout: dict = {}
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
        """Draw the image with its glimpses, a header with the labels in a
        margin above it and a legend below it.

        The image is enlarged by an integer factor where its short side is
        below ``min_side``; text is ``font_fraction`` of the drawn image's
        short side high. Where each part went is kept in
        ``self.last_layout`` (see the class docstring).

        Args:
            image (np.ndarray): RGB ``(H, W, 3)`` uint8 image, the network
                input or the original image (see
                :func:`input_to_image_frame`).
            data_sample (DataSample): The model's prediction.
            classes (Sequence[str], optional): Class names (default: the
                visualiser's ``dataset_meta``).
            draw_gt (bool): Write the ground-truth labels in the header.
            draw_pred (bool): Write the predicted labels in the header.
            draw_score (bool): Write each predicted label's probability.
            resize (int, optional): Short side to resize the image to first.
            rescale_factor (float, optional): Or a factor to rescale it by.
            text_cfg (dict): Unused; kept for the parent's signature.
            show (bool): Show the drawing in a window.
            wait_time (float): Seconds the window stays open.
            out_file (str, optional): Write the drawing there (else to the
                visualiser's backends).
            name (str): Image name for the backends.
            step (int): Step for the backends.
            draw_glimpses (bool): Draw the glimpses (False: header only).
            input_bgr (bool): ``image`` is BGR (the ``VisualizationHook``'s
                inputs).

        Returns:
            np.ndarray: The drawn RGB image (header + image + legend).
        """
        if self.dataset_meta is not None:
            classes = classes or self.dataset_meta.get('classes', None)
        image = np.ascontiguousarray(image[..., ::-1] if input_bgr else image)
        frame = input_to_image_frame(data_sample, image.shape[:2])
        h, w = image.shape[:2]
        if resize is not None:
            size = ((resize, resize * h // w) if w < h else
                    (resize * w // h, resize))
            image = mmcv.imresize(image, size)
        elif rescale_factor is not None:
            image = mmcv.imrescale(image, rescale_factor)
        up = max(1, math.ceil(self.min_side / min(image.shape[:2])))
        if up > 1:
            image = mmcv.imresize(
                image, (image.shape[1] * up, image.shape[0] * up),
                interpolation='nearest')
        rx, ry = image.shape[1] / w, image.shape[0] / h
        frame = (frame[0] * rx, frame[1] * rx, frame[2] * ry, frame[3] * ry)
        font_px = self.font_fraction * min(image.shape[:2])
        header = self._header_lines(self._with_pred_label(data_sample),
                                    classes, draw_gt, draw_pred, draw_score)
        if draw_glimpses and 'glimpse_boxes' in data_sample:
            drawn = self.draw_rarl(image, data_sample, frame, classes,
                                   header, font_px)
        elif draw_glimpses and 'attention_maps' in data_sample:
            drawn = self.draw_rarnn(image, data_sample, frame, classes,
                                    header, font_px)
        else:
            drawn = self._compose([image], [None], header, [], font_px,
                                  cols=1)
        self.last_layout['scale'] = up
        if show:
            self.show(drawn, win_name=name, wait_time=wait_time)
        if out_file is not None:
            mmcv.imwrite(drawn[..., ::-1], out_file)
        else:
            self.add_image(name, drawn, step=step)
        return drawn

    def draw_rarl(self, image: np.ndarray, data_sample: DataSample,
                  frame: Frame, classes: Optional[Sequence[str]] = None,
                  header: Sequence[str] = (),
                  font_px: Optional[float] = None) -> np.ndarray:
        """RARL: the k regions of every step in the step's colour, the path
        between the step centres and numbered centre markers on the image;
        per step a legend line (colour, centre, top label).

        Args:
            image (np.ndarray): RGB ``(H, W, 3)`` image to draw on.
            data_sample (DataSample): With ``glimpse_boxes`` ``(T, k, 4)``
                (network-input pixels) and optionally ``glimpse_scores``.
            frame (Frame): Input-to-image map (:func:`input_to_image_frame`).
            classes (Sequence[str], optional): Class names.
            header (Sequence[str]): Header lines (labels).
            font_px (float, optional): Text height in pixels (default:
                ``font_fraction`` of the short side).

        Returns:
            np.ndarray: header + drawn image + legend, RGB.
        """
        h, w = image.shape[:2]
        font_px = font_px or self.font_fraction * min(h, w)
        boxes = map_boxes(_numpy(data_sample.glimpse_boxes), frame)  # (T,k,4)
        num_steps, k = boxes.shape[:2]
        centres = (boxes[..., :2] + boxes[..., 2:]).mean(1) / 2  # (T, 2)
        step_scores = data_sample.get('glimpse_scores', None)
        if step_scores is not None:
            step_scores = _numpy(step_scores)
            if step_scores.ndim == 3:  # (T, k, D) region scores
                step_scores = step_scores.max(1)
        width = max(1., font_px / 8)
        colours = [STEP_COLOURS[t % len(STEP_COLOURS)]
                   for t in range(num_steps)]
        legend = [(None, f'Colour = glimpse step (1..{num_steps}): its '
                   f'{k} regions and numbered centre; white line: the '
                   'path between the step centres.')]
        for t in range(num_steps):
            # centre as a share of the image, the same at any drawing size
            text = (f'step {t + 1} at ({100 * centres[t, 0] / w:.0f}%, '
                    f'{100 * centres[t, 1] / h:.0f}%)')
            if step_scores is not None:
                c = int(step_scores[t].argmax())
                label = classes[c] if classes is not None else str(c)
                text += f': {label} {step_scores[t, c]:.2f}'
            legend.append((colours[t], text))
        if num_steps > 1 and np.ptp(centres, 0).max() < 2:
            legend.append((None, 'All steps looked at the same place.'))
        drawn = self._compose([image], [None], header, legend, font_px,
                              cols=1)
        ox, oy = self.last_layout['image_boxes'][0][:2]
        self.set_image(drawn)
        clipped = boxes.copy()
        clipped[..., 0::2] = clipped[..., 0::2].clip(0, w - 1) + ox
        clipped[..., 1::2] = clipped[..., 1::2].clip(0, h - 1) + oy
        for t in range(num_steps):
            self.draw_bboxes(clipped[t], edge_colors=colours[t],
                             line_widths=width)
        inside = centres.clip([0, 0], [w - 1, h - 1]) + [ox, oy]  # (T, 2)
        if num_steps > 1:
            segments = np.stack([inside[:-1], inside[1:]], 1)  # (T-1, 2, 2)
            self.draw_lines(segments[..., 0], segments[..., 1],
                            colors='black', line_widths=width * 3)
            self.draw_lines(segments[..., 0], segments[..., 1],
                            colors='white', line_widths=width * 1.5)
        self.draw_circles(inside, np.full(num_steps, font_px * 0.6),
                          edge_colors='white', face_colors=colours,
                          line_widths=width * 0.5, alpha=1.0)
        self.draw_texts([str(t + 1) for t in range(num_steps)], inside,
                        colors='white', font_sizes=self._points(font_px * .8),
                        vertical_alignments='center',
                        horizontal_alignments='center')
        return self.get_image()

    def draw_rarnn(self, image: np.ndarray, data_sample: DataSample,
                   frame: Frame, classes: Optional[Sequence[str]] = None,
                   header: Sequence[str] = (),
                   font_px: Optional[float] = None) -> np.ndarray:
        """RARNN: one panel per *emitted* glimpse (row-major, ``max_cols``
        per row), each the image with that glimpse's attention ``A_t`` as a
        heat map and a title with its top label and emission probability;
        a legend explains both and counts the glimpses not emitted.

        Args:
            image (np.ndarray): RGB ``(H, W, 3)`` image.
            data_sample (DataSample): With ``attention_maps`` ``(T, S, S)``
                and optionally ``emission_mask``, ``emission_prob``,
                ``glimpse_scores`` ``(T, D)``.
            frame (Frame): Input-to-image map (:func:`input_to_image_frame`).
            classes (Sequence[str], optional): Class names.
            header (Sequence[str]): Header lines (labels).
            font_px (float, optional): Text height in pixels.

        Returns:
            np.ndarray: header + panels + legend, RGB.
        """
        import matplotlib
        h, w = image.shape[:2]
        font_px = font_px or self.font_fraction * min(h, w)
        maps = _numpy(data_sample.attention_maps).astype(np.float64)
        num = maps.shape[0]
        emitted = (_numpy(data_sample.emission_mask).astype(bool)
                   if 'emission_mask' in data_sample else np.ones(num, bool))
        prob = (_numpy(data_sample.emission_prob)
                if 'emission_prob' in data_sample else None)
        scores = (_numpy(data_sample.glimpse_scores)
                  if 'glimpse_scores' in data_sample else None)
        jet = matplotlib.colormaps['jet']
        in_hw = tuple(data_sample.get('img_shape', (h, w)))
        panels, titles = [], []
        for t in np.flatnonzero(emitted):
            heat, mask = self._paste_heat(maps[t], frame, in_hw, (h, w))
            alpha = self.heat_alpha * mask[..., None]  # (H, W, 1)
            panel = image * (1 - alpha) + jet(heat)[..., :3] * 255 * alpha
            panels.append(panel.clip(0, 255).astype(np.uint8))
            title = f'glimpse {t + 1}'
            if scores is not None:
                c = int(scores[t].argmax())
                label = classes[c] if classes is not None else str(c)
                title += f': {label} {scores[t, c]:.2f}'
            if prob is not None:
                title += f', p(emit) {prob[t]:.2f}'
            titles.append(title)
        legend = [(None, f'{len(panels)} of the {num} candidate glimpses '
                   'were emitted; one panel each (glimpses not emitted are '
                   'not shown).'),
                  (None, 'Heat map: the glimpse\'s attention A_t over the '
                   'image (red high, blue low; each map scaled to its own '
                   'range).'),
                  (None, 'Title: the glimpse\'s top label and its '
                   'probability' + ('; p(emit): probability the emission '
                                    'indicator gave it.' if prob is not None
                                    else '.'))]
        kept = maps[emitted]
        if len(kept) > 1 and np.ptp(kept, 0).max() <= 1e-6 * max(
                np.abs(kept).max(), 1e-12):
            legend.append((None, 'All emitted glimpses have the same '
                           'attention map.'))
        if not panels:
            panels, titles = [image], ['no glimpse emitted']
        drawn = self._compose(panels, titles, header, legend, font_px,
                              cols=min(len(panels), self.max_cols))
        self.last_layout['panels'] = [int(t) for t in np.flatnonzero(emitted)]
        return drawn

    # ------------------------------------------------------------ helpers
    def _points(self, px: float) -> float:
        """Font size in points for a text ``px`` pixels high."""
        return px * 72. / self.dpi

    @staticmethod
    def _wrap(text: str, width_px: float, font_px: float) -> list:
        """``text`` split into lines that fit ``width_px``."""
        chars = max(8, int(width_px / (0.58 * font_px)))
        return textwrap.wrap(text, chars) or ['']

    def _header_lines(self, data_sample: DataSample,
                      classes: Optional[Sequence[str]], draw_gt: bool,
                      draw_pred: bool, draw_score: bool) -> list:
        """The header: ground truth and predicted labels by name."""

        def name(i):
            return classes[i] if classes is not None else str(i)

        lines = []
        if draw_gt and 'gt_label' in data_sample:
            lines.append('Ground truth: ' + ', '.join(
                name(i) for i in data_sample.gt_label.tolist()))
        if draw_pred and 'pred_label' in data_sample:
            idx = data_sample.pred_label.tolist()
            if draw_score and 'pred_score' in data_sample:
                score = _numpy(data_sample.pred_score)
                labels = [f'{name(i)} {score[i]:.2f}' for i in idx]
            else:
                labels = [name(i) for i in idx]
            lines.append('Prediction: ' + (', '.join(labels) or 'none'))
        return lines

    def _compose(self, images: Sequence[np.ndarray],
                 titles: Sequence[Optional[str]], header: Sequence[str],
                 legend: Sequence[Tuple[Optional[tuple], str]],
                 font_px: float, cols: int) -> np.ndarray:
        """Lay out header, a grid of images (each with an optional title
        strip above it) and the legend on a dark canvas; draw the text.

        Args:
            images (Sequence[np.ndarray]): Equal-sized RGB images.
            titles (Sequence[str or None]): One per image.
            header (Sequence[str]): Header lines.
            legend (Sequence[tuple]): ``(RGB swatch colour or None, text)``.
            font_px (float): Text height in pixels.
            cols (int): Images per row.

        Returns:
            np.ndarray: The canvas (also the visualiser's current image);
            ``self.last_layout`` gets ``image_boxes`` ``[(x, y, w, h)]``,
            ``font_px`` and ``texts``.
        """
        h, w = images[0].shape[:2]
        gap = max(2, round(font_px / 3))
        line = round(font_px * 1.35)
        width = cols * w + (cols - 1) * gap
        head = [x for text in header for x in self._wrap(text, width - 2 * gap,
                                                         font_px)]
        swatch = round(font_px)
        legend_lines = []  # (colour or None, text)
        for colour, text in legend:
            for j, part in enumerate(self._wrap(
                    text, width - 3 * gap - swatch, font_px)):
                legend_lines.append((colour if j == 0 else None, part))
        title_h = line + gap if any(t is not None for t in titles) else 0
        rows = math.ceil(len(images) / cols)
        top = (len(head) * line + 2 * gap) if head else 0
        grid_h = rows * (title_h + h) + (rows - 1) * gap
        bottom = (len(legend_lines) * line + 2 * gap) if legend_lines else 0
        canvas = np.full((top + grid_h + bottom, width, 3), MARGIN_COLOUR,
                         dtype=np.uint8)
        boxes, texts, positions, colours = [], [], [], []
        for i, (img, title) in enumerate(zip(images, titles)):
            r, c = divmod(i, cols)
            x, y = c * (w + gap), top + r * (title_h + h + gap) + title_h
            canvas[y:y + h, x:x + w] = img
            boxes.append((x, y, w, h))
            if title is not None:
                texts.append(self._wrap(title, w, font_px)[0])
                positions.append((x + gap, y - title_h + gap / 2))
                colours.append('white')
        for j, text in enumerate(head):
            texts.append(text)
            positions.append((gap, gap + j * line))
            colours.append('white')
        y0 = top + grid_h + gap
        for j, (colour, text) in enumerate(legend_lines):
            y = y0 + j * line
            if colour is not None:
                canvas[y + 1:y + swatch, gap:gap + swatch] = colour
            texts.append(text)
            positions.append((2 * gap + swatch, y))
            colours.append('lightgrey')
        self.set_image(canvas)
        if texts:
            self.draw_texts(texts, np.array(positions, dtype=float),
                            colors=colours,
                            font_sizes=self._points(font_px))
        self.last_layout = dict(image_boxes=boxes, font_px=font_px,
                                texts=texts, header_lines=len(head),
                                legend_lines=len(legend_lines))
        return self.get_image()

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
