"""Crop regions from the feature map and resample them to s x s
(RARL, Chen et al. AAAI 2018, Eq. 1: crop on conv5_3 + bilinear
interpolation to a fixed size; never re-run the backbone per region).

Implemented with :func:`torchvision.ops.roi_align` (no own kernel):

* ``aligned=True``: a box coordinate ``x`` (input pixels) maps to the
  continuous feature coordinate ``x / stride``, whose cell ``i`` has its
  centre at ``i + 0.5`` (pixel-centre convention; default chosen here).
* ``sampling_ratio`` is fixed (default 2, chosen here) so that the number of
  bilinear samples per output bin does not depend on the box size.
* Border (paper: regions may cross the border; docs/method.md: samples
  outside the map read zeros). ``roi_align`` does not do that by itself: a
  sample between -1 and 0 cells outside the map is clamped to the border
  cell, and only samples further out read 0. We therefore zero-pad the map by
  ONE cell on each side and shift the boxes by one cell: every sample then
  either lies on the padded grid (exact zero-padded bilinear interpolation)
  or is clamped to / beyond a zero cell, which reads 0. One cell of padding
  is enough for any box.
"""
from typing import Tuple

import torch
import torch.nn.functional as F
from torchvision.ops import roi_align


class RegionCropper:
    """Bilinear ``s x s`` crops of boxes given in input pixels.

    Args:
        roi_size: output side ``s`` (default 7, chosen here; the paper does
            not state it).
        stride: input pixels per feature cell (16 for VGG16 conv5_3).
        sampling_ratio: bilinear samples per bin side (default 2, chosen
            here).
    """

    def __init__(self, roi_size: int = 7, stride: float = 16.,
                 sampling_ratio: int = 2) -> None:
        if roi_size < 1 or sampling_ratio < 1 or not stride > 0:
            raise ValueError(
                'RegionCropper: roi_size and sampling_ratio must be >= 1 and '
                f'stride > 0, got roi_size={roi_size}, '
                f'sampling_ratio={sampling_ratio}, stride={stride}')
        self.roi_size = int(roi_size)
        self.stride = float(stride)
        self.sampling_ratio = int(sampling_ratio)

    @staticmethod
    def pad(feats: torch.Tensor) -> torch.Tensor:
        """Zero-pad the feature map by one cell per side (do it once)."""
        return F.pad(feats, (1, 1, 1, 1))  # (B, C, H + 2, W + 2)

    def input_size(self, feats: torch.Tensor) -> Tuple[int, int]:
        """``(H_in, W_in)`` of the input crop that gives this (unpadded)
        feature map: ``feature size * stride`` (default chosen here)."""
        return (round(feats.shape[-2] * self.stride),
                round(feats.shape[-1] * self.stride))

    def __call__(self, padded: torch.Tensor,
                 boxes: torch.Tensor) -> torch.Tensor:
        """Crop every box of every image in ONE ``roi_align`` call.

        Args:
            padded: ``(B, C, H + 2, W + 2)`` map from :meth:`pad`.
            boxes: ``(B, ..., 4)`` boxes ``(x1, y1, x2, y2)`` in input pixels
                of the unpadded map's input crop; any number of middle
                dimensions (steps, regions).

        Returns:
            ``(B, ..., C, s, s)`` region features.
        """
        if boxes.shape[0] != padded.shape[0] or boxes.shape[-1] != 4:
            raise ValueError(
                'RegionCropper: boxes must have shape (B, ..., 4) with the '
                f'feature batch B={padded.shape[0]}, got {tuple(boxes.shape)}')
        batch, mid = boxes.shape[0], boxes.shape[1:-1]
        flat = boxes.reshape(batch, -1, 4) / self.stride + 1.  # (B, R, 4) padded cells
        # torchvision's CPU roi_align crashes the process (SIGSEGV) on NaN or
        # huge boxes, which NaN features produce. Keep boxes finite and
        # within a few map sizes (a box there reads only padding): a no-op
        # for every real box; the NaN features themselves still give a NaN
        # loss, which NonFiniteCheckHook reports.
        limit = 4. * max(padded.shape[-2:])
        flat = flat.nan_to_num(0.).clamp(-limit, limit)
        index = torch.arange(batch, device=boxes.device, dtype=boxes.dtype)
        index = index.view(batch, 1, 1).expand(batch, flat.shape[1], 1)
        rois = torch.cat([index, flat], dim=-1).reshape(-1, 5)  # (B*R, 5)
        out = roi_align(padded, rois.to(padded.dtype), self.roi_size,
                        spatial_scale=1., sampling_ratio=self.sampling_ratio,
                        aligned=True)  # (B*R, C, s, s)
        return out.view(batch, *mid, *out.shape[1:])
