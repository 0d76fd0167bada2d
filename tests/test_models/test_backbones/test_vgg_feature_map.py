"""VGGFeatureMap: shapes and strides of both papers, numbers vs. the layers."""
import pytest
import torch
import torch.nn.functional as F
from mmpretrain.models.backbones import VGG
from mmpretrain.registry import MODELS

import marl_mm  # noqa: F401
from marl_mm.models.backbones import VGGFeatureMap


@pytest.mark.parametrize('with_pool5,size,cells,stride', [
    (False, 448, 28, 16),  # RARL: 448 crop -> 28 x 28 x 512
    (True, 224, 7, 32),  # RARNN: 224 image -> 7 x 7 x 512
    (False, 576, 36, 16),  # RARL N = 640 model
])
def test_paper_shapes(with_pool5, size, cells, stride):
    with torch.device('meta'):  # shapes only: no memory, no compute
        model = VGGFeatureMap(with_pool5=with_pool5)
        outs = model(torch.empty(2, 3, size, size))
    assert isinstance(outs, tuple) and len(outs) == 1
    assert outs[0].shape == (2, 512, cells, cells)
    assert model.out_channels == 512 and model.stride == stride


def _reference(model, x, with_pool5):
    """Conv/ReLU/pool written out from VGG16's layout and the weights."""
    convs = [m.conv for m in model.features if hasattr(m, 'conv')]
    assert len(convs) == 13
    blocks = (2, 2, 3, 3, 3)
    i = 0
    for stage, n in enumerate(blocks):
        for _ in range(n):
            x = F.relu(F.conv2d(x, convs[i].weight, convs[i].bias, padding=1))
            i += 1
        if stage < 4 or with_pool5:
            x = F.max_pool2d(x, 2)
    return x


@pytest.mark.parametrize('with_pool5', [False, True])
def test_numbers_match_the_vgg_layers(with_pool5):
    torch.manual_seed(0)
    model = MODELS.build(dict(type='VGGFeatureMap', with_pool5=with_pool5))
    model.init_weights()
    model.eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        out, = model(x)
        ref = _reference(model, x, with_pool5)
    assert out.shape == (2, 512, 2, 2) if with_pool5 else (2, 512, 4, 4)
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-6)
    assert out.min() >= 0  # ends with conv5_3's ReLU (or pool5 of it)


def test_keys_match_mmpretrain_vgg16_checkpoint_layout():
    with torch.device('meta'):
        ours = VGGFeatureMap().state_dict()
        # the architecture of mmpretrain's VGG16 ImageNet checkpoint
        theirs = VGG(depth=16, num_classes=1000).state_dict()
    feature_keys = {k: v.shape for k, v in theirs.items()
                    if k.startswith('features.')}
    assert {k: v.shape for k, v in ours.items()} == feature_keys
    assert len(ours) == 26  # 13 convs x (weight, bias)


def test_frozen_stages_and_pool5_options():
    model = VGGFeatureMap(frozen_stages=2)
    model.train()
    frozen = [p.requires_grad for m in model.features[:6]
              for p in m.parameters()]
    free = [p.requires_grad for m in model.features[6:]
            for p in m.parameters()]
    assert frozen and not any(frozen)
    assert all(free)
    assert len(VGGFeatureMap(with_pool5=True).features) == 18
    assert len(VGGFeatureMap(with_pool5=False).features) == 17
