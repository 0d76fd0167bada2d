"""The structure RARNN's necks hand to :class:`GRREHead` (Li et al., ACM MM
2018, Sec. 3.2).

mmpretrain necks return tuples; :class:`GlimpseFeatures` is a ``NamedTuple``,
so it still is one (``feats[0]`` is ``x``) while the head reads its fields by
name. ``T`` is the number of candidate glimpses, ``S`` the spatial size of the
backbone map (7 for VGG16 with pool5 at 224 px).
"""
from typing import NamedTuple, Optional

import torch


class GlimpseFeatures(NamedTuple):
    """Per-glimpse features of a batch.

    Attributes:
        x: ``(B, T, Dx)`` glimpse features ``X_t = ReLU(FC(V_t))`` (after
            Eq. 2, unnumbered).
        v: ``(B, T, C, S, S)`` highlighted maps ``V_t = V_I * A_t`` (printed
            with Eq. 2, unnumbered).
        a: ``(B, T, C, S, S)`` attention maps ``A_t`` (Eq. 2).
        c: ``(B, T, Dc)`` context features ``C_t`` of the context extractor,
            or ``None`` when no context extractor ran.
        cam: ``(B, D, S, S)`` the class-evidence keys of
            ``RHN(attention='class')`` (one map per class, trained by
            ``GRREHead(cam_weight=...)``), ``None`` otherwise.
    """

    x: torch.Tensor
    v: torch.Tensor
    a: torch.Tensor
    c: Optional[torch.Tensor] = None
    cam: Optional[torch.Tensor] = None
