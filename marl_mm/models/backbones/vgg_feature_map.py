"""VGG16 feature map for RARL and RARNN.

RARL (Chen et al., AAAI 2018, Sec. "Feature extraction"): VGG16 up to
conv5_3 + ReLU, no pool5, stride 16 - a 448 x 448 crop gives a
28 x 28 x 512 map on which the glimpses are cropped (paper).
RARNN (Li et al., ACM MM 2018, Sec. 3.1): VGG16 with pool5, a 224 x 224
image gives V_I in R^{7 x 7 x 512} (paper).

This is mmpretrain's ``VGG`` configured, not rewritten: ``out_indices=(4,)``
returns the last stage, ``with_last_pool`` keeps or drops pool5, and no
classifier is built. Parameter names are therefore mmpretrain's
(``features.<i>.conv.weight``), so mmpretrain's ImageNet checkpoint loads
with ``init_cfg=dict(type='Pretrained', checkpoint=..., prefix='backbone.')``
(its classifier weights are ignored); torchvision weights go through
``tools/model_converters/torchvision_vgg16.py`` first.
"""
from typing import List, Optional, Union

from mmpretrain.models.backbones import VGG
from mmpretrain.registry import MODELS

#: mmpretrain's public VGG16 ImageNet checkpoint (top-1 71.62; from
#: mmpretrain's configs/vgg/metafile.yml, model vgg16_8xb32_in1k).
VGG16_IMAGENET_URL = ('https://download.openmmlab.com/mmclassification/v0/'
                      'vgg/vgg16_batch256_imagenet_20210208-db26f1a5.pth')


@MODELS.register_module()
class VGGFeatureMap(VGG):
    """VGG conv5_3 feature map, with or without pool5.

    Args:
        depth (int): VGG depth, one of 11, 13, 16, 19. Defaults to 16
            (paper, both methods).
        with_pool5 (bool): Keep the last max-pooling. False (RARL, stride 16)
            or True (RARNN, stride 32). Defaults to False.
        frozen_stages (int): Number of leading stages (of 5) whose
            parameters are frozen and kept in eval mode; -1 freezes none.
            Defaults to -1.
        norm_cfg (dict, optional): Norm layer after each conv (for the
            ``_bn`` variants); None as in the papers. Defaults to None.
        norm_eval (bool): Keep norm layers in eval mode while training.
            Defaults to False.
        init_cfg (dict or list[dict], optional): Initialisation, e.g.
            ``dict(type='Pretrained', checkpoint=VGG16_IMAGENET_URL,
            prefix='backbone.')``. None uses mmpretrain VGG's default
            (Kaiming for convs). Defaults to None.

    Attributes:
        out_channels (int): 512.
        stride (int): 16 without pool5, 32 with it.
    """

    def __init__(self,
                 depth: int = 16,
                 with_pool5: bool = False,
                 frozen_stages: int = -1,
                 norm_cfg: Optional[dict] = None,
                 norm_eval: bool = False,
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        kwargs = {} if init_cfg is None else dict(init_cfg=init_cfg)
        super().__init__(
            depth=depth,
            num_classes=-1,
            num_stages=5,
            out_indices=(4, ),
            frozen_stages=frozen_stages,
            norm_cfg=norm_cfg,
            norm_eval=norm_eval,
            with_last_pool=with_pool5,
            **kwargs)
        self.with_pool5 = with_pool5
        self.out_channels = 512
        self.stride = 32 if with_pool5 else 16

    def train(self, mode: bool = True) -> 'VGGFeatureMap':
        """Set train/eval mode (frozen stages stay in eval mode).

        mmpretrain's ``VGG.train`` returns None; this returns ``self`` as
        ``nn.Module.train`` does, so ``VGGFeatureMap().eval()`` chains.
        """
        super().train(mode)
        return self
