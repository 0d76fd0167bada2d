"""Anchor regions around one glimpse location (RARL, Chen et al. AAAI 2018,
"Proposed Method", the anchor strategy of Faster R-CNN applied to Eq. 1).

At every iteration RARL looks at ``k = len(sizes) * len(ratios)`` regions
centred on one location ``l = (l_x, l_y)`` in ``[-1, 1]^2``.

Coordinate convention (default chosen here; the paper does not spell it out):
``l`` is normalised over the network's *input crop* of ``H_in x W_in`` pixels,
with ``(-1, -1)`` its top-left corner and ``(1, 1)`` its bottom-right corner::

    x_pix = (l_x + 1) / 2 * W_in        y_pix = (l_y + 1) / 2 * H_in

A region of side ``size`` and aspect ratio ``r = width / height`` has
``width = size * sqrt(r)`` and ``height = size / sqrt(r)``, so its area is
``size^2`` whatever ``r`` (paper: areas 80^2, 160^2, 320^2 for N = 512 and
96^2, 192^2, 384^2 for N = 640; ratios 2:1, 1:1, 1:2). Boxes are returned as
``(x1, y1, x2, y2)`` in input pixels and may cross the crop's border.
"""
import math
from typing import Sequence, Tuple

import torch


class GlimpseAnchors:
    """Boxes of the k anchor regions centred at normalised locations.

    Anchor order: sizes vary slowest, ratios fastest (anchor ``i`` has size
    ``sizes[i // len(ratios)]`` and ratio ``ratios[i % len(ratios)]``).

    Args:
        sizes: square roots of the region areas, in input pixels
            (paper, N = 512: ``(80, 160, 320)``).
        ratios: aspect ratios ``width / height`` (paper: ``(2, 1, 0.5)``).
    """

    def __init__(self, sizes: Sequence[float] = (80., 160., 320.),
                 ratios: Sequence[float] = (2., 1., 0.5)) -> None:
        if len(sizes) == 0 or any(not s > 0 for s in sizes):
            raise ValueError(f'GlimpseAnchors: sizes must be positive, got '
                             f'{sizes!r}')
        if len(ratios) == 0 or any(not r > 0 for r in ratios):
            raise ValueError(f'GlimpseAnchors: ratios must be positive, got '
                             f'{ratios!r}')
        self.sizes = tuple(float(s) for s in sizes)
        self.ratios = tuple(float(r) for r in ratios)
        widths = [s * math.sqrt(r) for s in self.sizes for r in self.ratios]
        heights = [s / math.sqrt(r) for s in self.sizes for r in self.ratios]
        self._wh = torch.tensor([widths, heights]).t()  # (k, 2)

    @property
    def num_anchors(self) -> int:
        """k, the number of regions per location."""
        return self._wh.shape[0]

    def centres(self, locations: torch.Tensor,
                input_size: Tuple[int, int]) -> torch.Tensor:
        """Map normalised locations ``(..., 2)`` to input pixels ``(x, y)``."""
        h_in, w_in = input_size
        scale = locations.new_tensor([w_in, h_in])
        return (locations + 1) / 2 * scale  # (..., 2)

    def __call__(self, locations: torch.Tensor,
                 input_size: Tuple[int, int]) -> torch.Tensor:
        """Anchor boxes around each location.

        Args:
            locations: ``(..., 2)`` locations ``(l_x, l_y)`` in ``[-1, 1]``.
            input_size: ``(H_in, W_in)`` of the input crop in pixels.

        Returns:
            ``(..., k, 4)`` boxes ``(x1, y1, x2, y2)`` in input pixels.
        """
        if locations.shape[-1] != 2:
            raise ValueError('GlimpseAnchors: locations must end in a '
                             f'dimension of 2, got shape {tuple(locations.shape)}')
        centre = self.centres(locations, input_size).unsqueeze(-2)  # (..., 1, 2)
        half = self._wh.to(locations) / 2  # (k, 2)
        return torch.cat([centre - half, centre + half], dim=-1)  # (..., k, 4)
