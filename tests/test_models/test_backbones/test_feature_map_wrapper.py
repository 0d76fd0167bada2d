"""FeatureMapWrapper: the selected stage of a wrapped mmpretrain backbone."""
import pytest
import torch
import torch.nn as nn
from mmpretrain.registry import MODELS

import marl_mm  # noqa: F401
from marl_mm.models.backbones import FeatureMapWrapper

RESNET18 = dict(type='ResNet', depth=18, out_indices=(1, 2, 3))


def _stage_by_hand(resnet, x, last_layer):
    """ResNet stem and layers called one by one (not via forward)."""
    x = resnet.maxpool(resnet.relu(resnet.norm1(resnet.conv1(x))))
    for name in ('layer1', 'layer2', 'layer3', 'layer4')[:last_layer]:
        x = getattr(resnet, name)(x)
    return x


@pytest.mark.parametrize('out_index,layer,channels,stride', [
    (0, 2, 128, 8), (1, 3, 256, 16), (-1, 4, 512, 32)])
def test_selected_stage_equals_backbone(out_index, layer, channels, stride):
    torch.manual_seed(0)
    wrapper = MODELS.build(dict(type='FeatureMapWrapper', backbone=RESNET18,
                                out_index=out_index))
    wrapper.init_weights()
    wrapper.eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        outs = wrapper(x)
        direct = wrapper.backbone(x)[out_index]
        by_hand = _stage_by_hand(wrapper.backbone, x, layer)
    assert isinstance(outs, tuple) and len(outs) == 1
    assert outs[0].shape == (2, channels, 64 // stride, 64 // stride)
    torch.testing.assert_close(outs[0], direct, rtol=0, atol=0)
    torch.testing.assert_close(outs[0], by_hand, rtol=1e-5, atol=1e-6)
    assert wrapper.out_channels == channels and wrapper.stride == stride


def test_dry_run_does_not_touch_batchnorm_statistics():
    torch.manual_seed(0)
    resnet = MODELS.build(dict(type='ResNet', depth=18))
    resnet.bn1.running_mean.fill_(1.0)  # a train-mode probe would move it
    wrapper = FeatureMapWrapper(resnet)
    torch.testing.assert_close(wrapper.backbone.bn1.running_mean,
                               torch.ones(64), rtol=0, atol=0)
    assert wrapper.backbone.training  # mode restored


def test_options_passed_through():
    wrapper = FeatureMapWrapper(dict(type='ResNet', depth=18),
                                frozen_stages=1, norm_eval=True)
    wrapper.train()
    backbone = wrapper.backbone
    assert backbone.frozen_stages == 1 and backbone.norm_eval
    assert not any(p.requires_grad for p in backbone.layer1.parameters())
    assert all(p.requires_grad for p in backbone.layer2.parameters())
    assert not backbone.layer2[0].bn1.training  # norm_eval
    with pytest.raises(ValueError, match='does not accept'):
        FeatureMapWrapper(dict(type='_NoOptionsNet'), frozen_stages=1)
    with pytest.raises(ValueError, match='built backbone'):
        FeatureMapWrapper(nn.Conv2d(3, 4, 3), frozen_stages=1)


@MODELS.register_module(force=True)
class _NoOptionsNet(nn.Module):
    """A backbone without frozen_stages/norm_eval, returning a 2-D tensor."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, stride=2)

    def forward(self, x):
        return self.conv(x).mean((2, 3))  # (B, 4): not a map


def test_non_map_output_is_a_clear_error():
    with pytest.raises(ValueError, match=r'expected a \(B, C, H, W\)'):
        FeatureMapWrapper(dict(type='_NoOptionsNet'))


def test_plain_module_returning_a_tensor():
    conv = nn.Conv2d(3, 5, 3, stride=4, padding=1)
    wrapper = FeatureMapWrapper(conv, probe_size=32)
    x = torch.randn(1, 3, 32, 32)
    out, = wrapper(x)
    torch.testing.assert_close(out, conv(x), rtol=0, atol=0)
    assert wrapper.out_channels == 5 and wrapper.stride == 4
