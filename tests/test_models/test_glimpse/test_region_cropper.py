"""RegionCropper: roi_align crops, and zeros outside the map.

The reference below samples the feature map with zero padding by a direct
bilinear formula (numpy-style loops, written independently of roi_align).
"""
import math

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
