"""Load precomputed object proposals for RARL's proposal ablation (Chen et
al. AAAI 2018, Table 3: top-5 EdgeBox proposals after NMS 0.7 replace the
attended regions; here a stand-in made by
``tools/misc/generate_proposals.py``).
"""
import json
from pathlib import Path
from typing import Dict, Optional

import numpy as np
import torch
from mmcv.transforms import BaseTransform
from torchvision.ops import nms

from mmpretrain.registry import TRANSFORMS


@TRANSFORMS.register_module()
class LoadProposals(BaseTransform):
    """Put the top proposals of an image, in pixels of the network input,
    into ``results['proposals']`` (``(n, 4)`` float32, best first).

    The json file maps ``image_id`` (the image file name without extension)
    to boxes ``[x1, y1, x2, y2]`` in original-image pixels, best first
    (the layout ``tools/misc/generate_proposals.py`` writes). The boxes are
    suppressed with ``torchvision.ops.nms`` at ``nms_iou`` (paper: 0.7; rank
    order as the score) and the best ``num_proposals`` (paper: 5) kept.

    Place it AFTER the geometric transforms and before ``PackInputs``
    (with ``algorithm_keys=('proposals',)``). It maps the boxes with what
    those transforms record: ``scale_factor`` of mmcv's ``Resize``, a
    centre crop of the resized image down to ``img_shape`` (the offset
    mmcv's ``CenterCrop`` uses), and ``flip`` / ``flip_direction`` of
    ``RandomFlip`` (horizontal only). Random crops are NOT supported
    (mmpretrain's ``RandomCrop`` does not record its offset): the proposal
    configs train on centre crops (default chosen here). Boxes are clipped
    to the input.

    Args:
        proposal_file: path of the json file.
        num_proposals: how many boxes to keep (paper: 5).
        nms_iou: NMS threshold (paper: 0.7); ``None`` skips NMS.
        allow_missing: if True, an image absent from the file gets no
            boxes (the head then uses the whole image, with a warning);
            default False raises.
    """

    def __init__(self, proposal_file: str, num_proposals: int = 5,
                 nms_iou: Optional[float] = 0.7,
                 allow_missing: bool = False) -> None:
        path = Path(proposal_file)
        if not path.is_file():
            raise FileNotFoundError(
                f'LoadProposals: proposal_file {path} does not exist; make '
                'it with tools/misc/generate_proposals.py')
        table = json.loads(path.read_text())
        if not isinstance(table, dict):
            raise ValueError(f'LoadProposals: {path} must hold a json object '
                             '{image_id: [[x1, y1, x2, y2], ...]}')
        if num_proposals < 1:
            raise ValueError('LoadProposals: num_proposals must be >= 1, got '
                             f'{num_proposals}')
        self.proposal_file = str(path)
        self.num_proposals = num_proposals
        self.nms_iou = nms_iou
        self.allow_missing = allow_missing
        self.table: Dict[str, np.ndarray] = {}
        for key, boxes in table.items():
            arr = np.asarray(boxes, dtype=np.float32).reshape(-1, 4) \
                if len(boxes) else np.zeros((0, 4), np.float32)
            if arr.ndim != 2 or arr.shape[1] != 4:
                raise ValueError(f'LoadProposals: {path}, image {key!r}: '
                                 'expected a list of [x1, y1, x2, y2]')
            self.table[key] = arr

    def _top(self, boxes: np.ndarray) -> np.ndarray:
        if self.nms_iou is not None and len(boxes):
            t = torch.from_numpy(boxes)
            rank = -torch.arange(len(boxes), dtype=torch.float32)
            boxes = boxes[nms(t, rank, self.nms_iou).numpy()]
        return boxes[:self.num_proposals]

    def transform(self, results: dict) -> dict:
        key = Path(results['img_path']).stem
        if key not in self.table:
            if not self.allow_missing:
                raise KeyError(f'LoadProposals: image id {key!r} (from '
                               f"{results['img_path']}) is not in "
                               f'{self.proposal_file}')
            results['proposals'] = np.zeros((0, 4), np.float32)
            return results
        boxes = self._top(self.table[key]).astype(np.float64)  # (n, 4)
        h0, w0 = results['ori_shape'][:2]
        sw, sh = results.get('scale_factor', (1., 1.))[:2]
        rw, rh = int(round(w0 * sw)), int(round(h0 * sh))  # resized size
        h, w = results['img_shape'][:2]
        x0 = max(0, int(round((rw - w) / 2.)))  # mmcv CenterCrop offset
        y0 = max(0, int(round((rh - h) / 2.)))
        boxes = boxes * [sw, sh, sw, sh] - [x0, y0, x0, y0]
        if results.get('flip', False):
            if results.get('flip_direction') != 'horizontal':
                raise ValueError('LoadProposals: only horizontal flips are '
                                 'supported, got '
                                 f"{results.get('flip_direction')!r}")
            boxes[:, [0, 2]] = w - boxes[:, [2, 0]]
        boxes[:, 0::2] = boxes[:, 0::2].clip(0, w)
        boxes[:, 1::2] = boxes[:, 1::2].clip(0, h)
        results['proposals'] = boxes.astype(np.float32)
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(proposal_file='
                f'{self.proposal_file!r}, num_proposals={self.num_proposals}, '
                f'nms_iou={self.nms_iou})')
