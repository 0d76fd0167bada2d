"""RegionCropper: bilinear crops equal to roi_align on the zero-padded map, and
zeros outside the map.

The reference below samples the feature map with zero padding by a direct
bilinear formula (numpy-style loops, written independently of roi_align).
"""
import math

import pytest
import torch
from torchvision.ops import roi_align

from marl_mm.models.glimpse import RegionCropper


def _zero_padded_bilinear(fmap, y, x):
    """Bilinear value at continuous cell-index coordinates (y, x); cells
    outside the map are 0 (cell i has its centre at index i)."""
    _, h, w = fmap.shape
    y0, x0 = math.floor(y), math.floor(x)
    out = torch.zeros(fmap.shape[0])
    for yy, wy in ((y0, 1 - (y - y0)), (y0 + 1, y - y0)):
        for xx, wx in ((x0, 1 - (x - x0)), (x0 + 1, x - x0)):
            if 0 <= yy < h and 0 <= xx < w:
                out += wy * wx * fmap[:, yy, xx]
    return out


def _reference_crop(fmap, box, stride, s, ratio):
    """Average of ratio x ratio bilinear samples per bin, pixel-centre
    convention (cell i covers [i, i+1) in stride units)."""
    x1, y1, x2, y2 = [v / stride - 0.5 for v in box]
    bh, bw = (y2 - y1) / s, (x2 - x1) / s
    out = torch.zeros(fmap.shape[0], s, s)
    for i in range(s):
        for j in range(s):
            acc = torch.zeros(fmap.shape[0])
            for a in range(ratio):
                for b in range(ratio):
                    y = y1 + i * bh + (a + 0.5) * bh / ratio
                    x = x1 + j * bw + (b + 0.5) * bw / ratio
                    acc += _zero_padded_bilinear(fmap, y, x)
            out[:, i, j] = acc / ratio ** 2
    return out


def test_inside_crop_equals_roi_align():
    torch.manual_seed(0)
    feats = torch.randn(2, 3, 5, 6)
    cropper = RegionCropper(roi_size=4, stride=8, sampling_ratio=2)
    boxes = torch.tensor([[[4., 4., 36., 28.]], [[10., 8., 40., 36.]]])
    out = cropper(cropper.pad(feats), boxes)  # (2, 1, 3, 4, 4)
    rois = torch.tensor([[0, 4., 4., 36., 28.], [1, 10., 8., 40., 36.]])
    expected = roi_align(feats, rois, 4, spatial_scale=1 / 8,
                         sampling_ratio=2, aligned=True)
    torch.testing.assert_close(out[:, 0], expected, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(
        out[0, 0], _reference_crop(feats[0], boxes[0, 0].tolist(), 8, 4, 2),
        atol=1e-5, rtol=1e-5)


def test_border_reads_zeros_like_zero_padded_bilinear():
    torch.manual_seed(1)
    feats = torch.rand(1, 2, 4, 4) + 1  # strictly positive map
    cropper = RegionCropper(roi_size=5, stride=16, sampling_ratio=2)
    boxes = torch.tensor([[[-40., -24., 30., 40.],      # crosses top-left
                           [40., 30., 90., 100.],       # crosses bottom-right
                           [-100., -100., -70., -60.]]])  # fully outside
    out = cropper(cropper.pad(feats), boxes)  # (1, 3, 2, 5, 5)
    for r in range(3):
        ref = _reference_crop(feats[0], boxes[0, r].tolist(), 16, 5, 2)
        torch.testing.assert_close(out[0, r], ref, atol=1e-5, rtol=1e-5)
    assert out[0, 2].abs().max() == 0
    # plain roi_align clamps near the border instead: it differs here
    plain = roi_align(feats, torch.tensor([[0, -40., -24., 30., 40.]]), 5,
                      spatial_scale=1 / 16, sampling_ratio=2, aligned=True)
    assert not torch.allclose(plain[0], out[0, 0], atol=1e-3)


def test_batched_over_steps_and_regions():
    torch.manual_seed(2)
    feats = torch.randn(2, 3, 6, 6)
    cropper = RegionCropper(roi_size=3, stride=4, sampling_ratio=2)
    boxes = torch.rand(2, 4, 5, 4) * 20
    boxes[..., 2:] += boxes[..., :2] + 1
    out = cropper(cropper.pad(feats), boxes)  # (2, 4, 5, 3, 3, 3)
    assert out.shape == (2, 4, 5, 3, 3, 3)
    torch.testing.assert_close(
        out[1, 2, 3], _reference_crop(feats[1], boxes[1, 2, 3].tolist(), 4,
                                      3, 2), atol=1e-5, rtol=1e-5)


def _roi_align_on_padded(feats, boxes, cropper):
    """What RegionCropper computed with roi_align until issue 13: the map
    zero-padded by one cell, the boxes shifted by one cell (and clamped to
    +-4 padded map sizes, NaN read as 0), aligned=True."""
    batch = feats.shape[0]
    padded = torch.nn.functional.pad(feats, (1, 1, 1, 1))
    flat = boxes.reshape(batch, -1, 4) / cropper.stride + 1.
    limit = 4. * max(padded.shape[-2:])
    flat = flat.nan_to_num(0.).clamp(-limit, limit)
    index = torch.arange(batch, dtype=feats.dtype)[:, None, None].expand(
        batch, flat.shape[1], 1)
    out = roi_align(padded, torch.cat([index, flat], -1).reshape(-1, 5),
                    cropper.roi_size, spatial_scale=1.,
                    sampling_ratio=cropper.sampling_ratio, aligned=True)
    return out.view(*boxes.shape[:-1], *out.shape[1:])


def test_matrix_crop_equals_roi_align_on_the_padded_map():
    """The separable interpolation matrices give roi_align's numbers and
    input gradients (float64: to rounding) for several s, sampling ratios
    and strides, boxes inside, across the border, outside, huge and NaN."""
    torch.manual_seed(3)
    for s, ratio, stride, (h, w) in ((7, 2, 16., (6, 7)),
                                     (1, 4, 32., (12, 12)),
                                     (3, 3, 8., (5, 4)), (5, 1, 4., (9, 11))):
        cropper = RegionCropper(roi_size=s, stride=stride,
                                sampling_ratio=ratio)
        feats = torch.randn(3, 4, h, w, dtype=torch.float64)
        size = torch.tensor([w, h, w, h], dtype=torch.float64) * stride
        boxes = (torch.rand(3, 2, 9, 4, dtype=torch.float64) * 1.6 - .3) * size
        boxes[..., 2:] = boxes[..., :2] + torch.rand(
            3, 2, 9, 2, dtype=torch.float64) * size[:2] * 1.2
        boxes[0, 0, 0] = torch.tensor([-1e9, 5., 1e9, 40.])  # huge
        boxes[0, 0, 1] = torch.tensor([float('nan'), 5., 30., 40.])
        x_new = feats.clone().requires_grad_()
        x_old = feats.clone().requires_grad_()
        new = cropper(cropper.pad(x_new), boxes)  # (3, 2, 9, 4, s, s)
        old = _roi_align_on_padded(x_old, boxes, cropper)
        torch.testing.assert_close(new, old, atol=1e-12, rtol=0)
        torch.testing.assert_close(cropper.crop(feats, boxes), old,
                                   atol=1e-12, rtol=0)
        grad = torch.randn_like(old)
        (new * grad).sum().backward()
        (old * grad).sum().backward()
        torch.testing.assert_close(x_new.grad, x_old.grad, atol=1e-12, rtol=0)
        # float32 to float32 rounding
        new32 = cropper.crop(feats.float(), boxes.float())
        torch.testing.assert_close(new32.double(), old, atol=2e-5, rtol=0)


def test_no_gradient_reaches_the_boxes():
    cropper = RegionCropper(roi_size=2, stride=4)
    boxes = torch.tensor([[[0., 0., 8., 8.]]], requires_grad=True)
    out = cropper.crop(torch.randn(1, 2, 3, 3, requires_grad=True), boxes)
    assert out.requires_grad and boxes.grad is None
    out.sum().backward()
    assert boxes.grad is None


def test_row_channel_column_layout_is_the_same_crop():
    cropper = RegionCropper(roi_size=3, stride=4)
    feats = torch.randn(2, 4, 5, 6)
    boxes = torch.tensor([[[0., 2., 14., 20.]], [[-4., 3., 9., 30.]]])
    ycx = cropper.crop(feats, boxes, layout='ycx')  # (2, 1, 3, 4, 3)
    torch.testing.assert_close(ycx.transpose(-3, -2),
                               cropper.crop(feats, boxes))
    with pytest.raises(ValueError, match='layout'):
        cropper.crop(feats, boxes, layout='xyc')
