"""Any mmpretrain backbone as a one-feature-map backbone.

The glimpse heads of RARL and RARNN need one spatial map (B, C, H, W) and
its channel count and stride. This wrapper builds any mmpretrain backbone
from its config (or takes a built one), picks one element of the tuple it
returns, and measures ``out_channels`` and ``stride`` by a dry run at
construction when the backbone does not state them. Used for the small
CPU configs (ResNet-18) and for backbones other than VGG16 (default chosen
here: neither paper uses it).
"""
import copy
import inspect
from typing import List, Optional, Tuple, Union

import torch
import torch.nn as nn
from mmengine.model import BaseModule
from mmpretrain.registry import MODELS


@MODELS.register_module()
class FeatureMapWrapper(BaseModule):
    """Return one (B, C, H, W) map of a wrapped mmpretrain backbone.

    The backbone lives under ``backbone.`` inside the wrapper, exactly as in
    an mmpretrain classifier checkpoint, so the wrapper's own Pretrained
    init loads such a checkpoint without a prefix (the checkpoint's head
    keys are reported as unexpected and ignored)::

        backbone=dict(
            type='FeatureMapWrapper',
            backbone=dict(type='ResNet', depth=18, out_indices=(2, 3)),
            out_index=0,  # stage 3: stride 16, 256 channels
            init_cfg=dict(type='Pretrained', checkpoint=URL))

    Args:
        backbone (dict or nn.Module): mmpretrain backbone config or module.
        out_index (int): Which element of the backbone's output tuple to
            return (Python indexing). mmpretrain backbones return one element
            per entry of their ``out_indices``. Defaults to -1 (the last).
        frozen_stages (int, optional): Passed to the backbone config when
            given (the backbone must accept ``frozen_stages``).
            Defaults to None (the backbone's own default).
        norm_eval (bool, optional): Passed to the backbone config when given
            (the backbone must accept ``norm_eval``). Defaults to None.
        in_channels (int): Input channels of the dry run. Defaults to 3.
        probe_size (int): Side of the dry-run input used to measure
            ``out_channels`` and ``stride``. Defaults to 224.
        init_cfg (dict or list[dict], optional): Initialisation of the
            wrapper. Defaults to None.

    Attributes:
        out_channels (int): Channels C of the returned map.
        stride (int): Input pixels per map cell.
    """

    def __init__(self,
                 backbone: Union[dict, nn.Module],
                 out_index: int = -1,
                 frozen_stages: Optional[int] = None,
                 norm_eval: Optional[bool] = None,
                 in_channels: int = 3,
                 probe_size: int = 224,
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.out_index = out_index
        passed = {k: v for k, v in (('frozen_stages', frozen_stages),
                                    ('norm_eval', norm_eval)) if v is not None}
        if isinstance(backbone, nn.Module):
            if passed:
                raise ValueError(
                    f'FeatureMapWrapper: {sorted(passed)} can only be passed '
                    'with a backbone config; set them on the built backbone '
                    f'{type(backbone).__name__} instead.')
            self.backbone = backbone
        elif isinstance(backbone, dict):
            cfg = copy.deepcopy(dict(backbone))
            if passed:
                self._check_accepts(cfg, passed)
                cfg.update(passed)
            self.backbone = MODELS.build(cfg)
        else:
            raise TypeError('FeatureMapWrapper: backbone must be a config '
                            f'dict or an nn.Module, got {type(backbone)}')
        self.out_channels, self.stride = self._probe(in_channels, probe_size)

    @staticmethod
    def _check_accepts(cfg: dict, passed: dict) -> None:
        """Fail clearly if the backbone class lacks an option we pass."""
        cls = cfg['type']
        cls = MODELS.get(cls) if isinstance(cls, str) else cls
        if cls is None:
            raise ValueError(f'FeatureMapWrapper: backbone type '
                             f'{cfg["type"]!r} is not registered in MODELS')
        params = inspect.signature(cls.__init__).parameters
        missing = [k for k in passed if k not in params]
        if missing:
            raise ValueError(
                f'FeatureMapWrapper: backbone {cls.__name__} does not accept '
                f'{missing}; leave them unset for this backbone.')

    @torch.no_grad()
    def _probe(self, in_channels: int, size: int) -> Tuple[int, int]:
        """Channels and stride of the selected map, from one dry run."""
        was_training = self.backbone.training
        self.backbone.eval()  # no batch-norm statistics update
        try:
            feat = self._select(
                self.backbone(torch.zeros(1, in_channels, size, size)))
        finally:
            self.backbone.train(was_training)
        return int(feat.shape[1]), max(1, round(size / feat.shape[-1]))

    def _select(self, outs) -> torch.Tensor:
        if isinstance(outs, torch.Tensor):
            outs = (outs, )
        feat = outs[self.out_index]
        if not isinstance(feat, torch.Tensor) or feat.dim() != 4:
            got = tuple(feat.shape) if isinstance(feat, torch.Tensor) else \
                type(feat).__name__
            raise ValueError(
                f'FeatureMapWrapper: output {self.out_index} of '
                f'{type(self.backbone).__name__} is {got}, expected a '
                '(B, C, H, W) feature map (for transformers set their '
                "out_type='featmap').")
        return feat

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor]:
        """Run the backbone and keep one map.

        Args:
            x (Tensor): Images, (B, 3, H_in, W_in).

        Returns:
            tuple[Tensor]: One map, (B, out_channels, H_in/stride,
            W_in/stride).
        """
        return (self._select(self.backbone(x)), )  # ((B, C, H, W),)
