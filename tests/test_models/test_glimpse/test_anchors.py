"""GlimpseAnchors: boxes around a location equal a hand computation."""
import math

import pytest
import torch

from marl_mm.models.glimpse import GlimpseAnchors


def test_anchor_boxes_match_hand_computation_n512():
    anchors = GlimpseAnchors((80, 160, 320), (2, 1, 0.5))
    # l = (0.5, -0.25) on a 448 x 448 crop: centre x = 1.5/2*448 = 336,
    # y = 0.75/2*448 = 168.
    boxes = anchors(torch.tensor([0.5, -0.25]), (448, 448))
    assert boxes.shape == (9, 4)
    r2 = math.sqrt(2)
    expected = []
    for s in (80, 160, 320):
        for w, h in ((s * r2, s / r2), (s, s), (s / r2, s * r2)):
            expected.append([336 - w / 2, 168 - h / 2, 336 + w / 2,
                             168 + h / 2])
    torch.testing.assert_close(boxes, torch.tensor(expected))
    # first anchor by hand: 80*sqrt(2) = 113.137..., 80/sqrt(2) = 56.568...
    torch.testing.assert_close(
        boxes[0], torch.tensor([279.4315, 139.7157, 392.5685, 196.2843]),
        atol=1e-3, rtol=0)
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    torch.testing.assert_close(
        areas, torch.tensor([80. ** 2] * 3 + [160. ** 2] * 3 + [320. ** 2] * 3))


def test_corners_and_non_square_input():
    anchors = GlimpseAnchors((10,), (1,))
    locs = torch.tensor([[[-1., -1.], [1., 1.]]])  # (1, 2, 2)
    boxes = anchors(locs, (100, 200))  # H=100, W=200
    torch.testing.assert_close(boxes[0, 0, 0], torch.tensor([-5., -5., 5., 5.]))
    torch.testing.assert_close(boxes[0, 1, 0],
                               torch.tensor([195., 95., 205., 105.]))


def test_bad_arguments():
    with pytest.raises(ValueError, match='sizes'):
        GlimpseAnchors((0,))
    with pytest.raises(ValueError, match='locations'):
        GlimpseAnchors()(torch.zeros(3), (10, 10))
