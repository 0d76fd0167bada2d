"""Crop regions from the feature map and resample them to s x s
(RARL, Chen et al. AAAI 2018, Eq. 1: crop on conv5_3 + bilinear
interpolation to a fixed size; never re-run the backbone per region).

The numbers are those of :func:`torchvision.ops.roi_align` with
``aligned=True`` and a fixed ``sampling_ratio`` on the map zero-padded by one
cell (what this module called until issue 13), computed as two small matrix
products instead of torchvision's CPU kernel (docs/benchmarks.md, "Head
speed per FLOP (issue 13)": its backward was 58 % of the RARL head's
training step):

* ``aligned=True``: a box coordinate ``x`` (input pixels) maps to the
  continuous feature coordinate ``x / stride``, whose cell ``i`` has its
  centre at ``i + 0.5`` (pixel-centre convention; default chosen here).
* ``sampling_ratio`` is fixed (default 2, chosen here): each of the ``s``
  bins per side averages ``sampling_ratio`` equally spaced samples per side,
  so the number of samples does not depend on the box size.
* Border (paper: regions may cross the border; docs/method.md: samples
  outside the map read zeros): a sample reads the map as bilinear
  interpolation over an infinite plane that is zero outside the map.
  (``roi_align`` alone clamps samples within one cell of the border to the
  border cell; on the map padded by one zero cell it gives exactly this.)

Bilinear interpolation with a tent kernel is separable: the sample at
``(y, x)`` is ``sum_ij w(y - i) w(x - j) F_ij`` with
``w(d) = max(0, 1 - |d|)``, and so is the average over a bin's samples. Per
region, with ``A_y`` (s, H) and ``A_x`` (s, W) the averaged weights of its
rows and columns of samples, the crop of every channel is

    crop_c = A_y F_c A_x^T                                    (s x s)

which is one batched product over the rows of all regions of an image and
one over the columns (``R`` regions: ``R s H C W + R s C W s``
multiply-adds per image), dense and differentiable in ``F`` (no gradient
reaches the boxes, as with ``roi_align``).
"""
from typing import Optional, Tuple

import torch
import torch.nn.functional as F


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
        """Zero-pad the feature map by one cell per side: the input of
        :meth:`__call__` (:meth:`crop` takes the map as it is)."""
        return F.pad(feats, (1, 1, 1, 1))  # (B, C, H + 2, W + 2)

    def input_size(self, feats: torch.Tensor) -> Tuple[int, int]:
        """``(H_in, W_in)`` of the input crop that gives this (unpadded)
        feature map: ``feature size * stride`` (default chosen here)."""
        return (round(feats.shape[-2] * self.stride),
                round(feats.shape[-1] * self.stride))

    def weights(self, starts: torch.Tensor, ends: torch.Tensor,
                size: int) -> torch.Tensor:
        """Averaged bilinear weights of the bins along one axis.

        Args:
            starts, ends: ``(...)`` box edges in feature cells of the
                unpadded map (``pixels / stride``).
            size: the map's length along this axis.

        Returns:
            ``(..., s, size)``: row ``p`` holds the weight of each cell in
            the mean of bin ``p``'s ``sampling_ratio`` samples.
        """
        s, ratio = self.roi_size, self.sampling_ratio
        # sample offsets within the box in bins: p + (i + 0.5) / ratio
        steps = (torch.arange(s * ratio, device=starts.device,
                              dtype=starts.dtype) + 0.5) / ratio  # (s*r,)
        bin_size = ((ends - starts) / s)[..., None]  # (..., 1)
        # aligned=True: cell i has its centre at coordinate i + 0.5
        coords = (starts - 0.5)[..., None] + steps * bin_size  # (..., s*r)
        cells = torch.arange(size, device=starts.device, dtype=starts.dtype)
        tent = (1 - (coords[..., None] - cells).abs()).clamp(min=0)
        return tent.unflatten(-2, (s, ratio)).mean(-2)  # (..., s, size)

    @staticmethod
    def by_row(feats: torch.Tensor) -> torch.Tensor:
        """``(B, C, H, W) -> (B, H, C*W)``: the map laid out for the product
        with the row weights (a copy; make it once per map when cropping
        it several times, e.g. once per glimpse step)."""
        return feats.transpose(1, 2).reshape(feats.shape[0], feats.shape[2],
                                             -1)

    def crop(self, feats: torch.Tensor, boxes: torch.Tensor,
             by_row: Optional[torch.Tensor] = None,
             layout: str = 'cyx') -> torch.Tensor:
        """Crop every box of every image, zeros outside the map.

        Args:
            feats: ``(B, C, H, W)`` feature map (not padded).
            boxes: ``(B, ..., 4)`` boxes ``(x1, y1, x2, y2)`` in input
                pixels of the map's input crop; any number of middle
                dimensions (steps, regions).
            by_row: :meth:`by_row` of ``feats`` if already made (else it
                is made here).
            layout: 'cyx' (channels first, as ``roi_align``) or 'ycx'
                (rows, channels, columns: the order the products leave,
                without the copy into 'cyx').

        Returns:
            ``(B, ..., C, s, s)`` region features ('cyx'), or
            ``(B, ..., s, C, s)`` ('ycx').
        """
        if layout not in ('cyx', 'ycx'):
            raise ValueError("RegionCropper: layout must be 'cyx' or 'ycx', "
                             f'got {layout!r}')
        if boxes.shape[0] != feats.shape[0] or boxes.shape[-1] != 4:
            raise ValueError(
                'RegionCropper: boxes must have shape (B, ..., 4) with the '
                f'feature batch B={feats.shape[0]}, got {tuple(boxes.shape)}')
        (batch, channels, height, width), s = feats.shape, self.roi_size
        mid = boxes.shape[1:-1]
        flat = boxes.detach().reshape(batch, -1, 4).to(feats.dtype)
        # NaN features give NaN boxes; keep them finite and within a few
        # map sizes (a box there reads only zeros): a no-op for every real
        # box, and the limit roi_align on the padded map had (its CPU kernel
        # crashed on NaN boxes); the NaN features themselves still give a
        # NaN loss, which NonFiniteCheckHook reports.
        limit = 4. * (max(height, width) + 2)
        flat = (flat / self.stride + 1.).nan_to_num(0.).clamp(
            -limit, limit) - 1.  # (B, R, 4) cells of the unpadded map
        rows = self.weights(flat[..., 1], flat[..., 3], height)  # (B, R, s, H)
        cols = self.weights(flat[..., 0], flat[..., 2], width)  # (B, R, s, W)
        regions = rows.shape[1]
        # rows of all regions at once: (B, R*s, H) @ (B, H, C*W)
        if by_row is None:
            by_row = self.by_row(feats)
        out = rows.flatten(1, 2) @ by_row  # (B, R*s, C*W)
        # then the columns of each region: (B*R, s*C, W) @ (B*R, W, s)
        out = out.view(batch * regions, s * channels, width) @ \
            cols.flatten(0, 1).transpose(1, 2)  # (B*R, s*C, s): (y, c, x)
        if layout == 'ycx':
            return out.view(batch, *mid, s, channels, s)  # (B, ..., s, C, s)
        out = out.view(batch, regions, s, channels, s).transpose(2, 3)
        return out.reshape(batch, *mid, channels, s, s)  # (B, ..., C, s, s)

    def __call__(self, padded: torch.Tensor,
                 boxes: torch.Tensor) -> torch.Tensor:
        """:meth:`crop` of the map that :meth:`pad` padded.

        Args:
            padded: ``(B, C, H + 2, W + 2)`` map from :meth:`pad`.
            boxes: ``(B, ..., 4)`` boxes in input pixels of the unpadded
                map's input crop.

        Returns:
            ``(B, ..., C, s, s)`` region features.
        """
        return self.crop(padded[..., 1:-1, 1:-1], boxes)
