"""tools/model_converters/torchvision_vgg16.py: torchvision VGG16 weights
loaded into VGGFeatureMap give torchvision's conv5_3 output."""
import sys
from pathlib import Path

import pytest
import torch
import torchvision
from mmpretrain.models.backbones import VGG

import marl_mm  # noqa: F401
from marl_mm.models.backbones import VGGFeatureMap
from tests_conftest import load_tool

REPO_ROOT = Path(__file__).resolve().parents[3]
converter = load_tool('tools/model_converters/torchvision_vgg16.py')


@pytest.fixture(scope='module')
def tv_features():
    """Randomly initialised torchvision VGG16 ``features`` (no classifier:
    vgg16(weights=None).features is built by the same make_layers)."""
    torch.manual_seed(0)
    features = torchvision.models.vgg.make_layers(
        torchvision.models.vgg.cfgs['D'])
    for m in features:  # torchvision's own VGG init for convs
        if isinstance(m, torch.nn.Conv2d):
            torch.nn.init.kaiming_normal_(m.weight, nonlinearity='relu')
            torch.nn.init.normal_(m.bias, std=0.1)
    return features.eval()


def test_converted_weights_give_torchvision_conv5_3(tv_features):
    state = {f'features.{k}': v for k, v in tv_features.state_dict().items()}
    converted = converter.convert_torchvision_vgg16(state, prefix='')
    model = VGGFeatureMap().eval()
    missing, unexpected = model.load_state_dict(converted, strict=True)
    assert not missing and not unexpected
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        ours, = model(x)
        theirs = tv_features[:30](x)  # up to conv5_3 + ReLU
    assert ours.shape == theirs.shape == (2, 512, 4, 4)
    torch.testing.assert_close(ours, theirs, rtol=0, atol=0)


def test_full_vgg16_keys_map_onto_mmpretrain_layout():
    with torch.device('meta'):
        tv = torchvision.models.vgg16(weights=None).state_dict()
        mm = VGG(depth=16, num_classes=1000).state_dict()
    converted = converter.convert_torchvision_vgg16(tv)
    assert {k: v.shape for k, v in converted.items()} == \
        {f'backbone.{k}': v.shape for k, v in mm.items()}
    assert converter.feature_index_map()[28] == 16  # conv5_3
    with pytest.raises(KeyError, match='features.1.running_mean'):
        converter.convert_torchvision_vgg16(
            {'features.1.running_mean': torch.zeros(1)})


def test_cli_output_loads_through_init_cfg(tv_features, tmp_path,
                                           monkeypatch):
    src, dst = tmp_path / 'tv.pth', tmp_path / 'mm.pth'
    torch.save({f'features.{k}': v
                for k, v in tv_features.state_dict().items()}, str(src))
    monkeypatch.setattr(sys, 'argv', ['torchvision_vgg16.py', str(src),
                                      str(dst)])
    converter.main()
    model = VGGFeatureMap(
        with_pool5=True,
        init_cfg=dict(type='Pretrained', checkpoint=str(dst),
                      prefix='backbone.')).eval()
    model.init_weights()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        ours, = model(x)
        theirs = tv_features(x)  # with pool5
    torch.testing.assert_close(ours, theirs, rtol=0, atol=0)
