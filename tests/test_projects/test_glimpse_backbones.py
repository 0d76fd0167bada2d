"""projects/glimpse_backbones: what is specific to the glimpse heads on other
backbones. (tests/test_configs/test_all_configs.py already builds every
project config and runs one training iteration and one prediction.)

* the map the wrapper measures (channels, stride) is the one the head or
  neck is configured for, and a real forward gives that map;
* the glimpse boxes of RARL land in the input's pixel frame (a wrong stride
  would move them);
* an mmpretrain classifier checkpoint of the full backbone loads into the
  wrapper through the config's own Pretrained init (no prefix), the cut
  stages being skipped.
"""
import copy
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

import marl_mm  # noqa: F401  (registers components)
from mmpretrain.registry import MODELS

REPO_ROOT = Path(__file__).resolve().parents[2]
PROJECT = REPO_ROOT / 'projects' / 'glimpse_backbones'
CONFIGS = sorted((PROJECT / 'configs').glob('*.py'))

#: config -> (channels, stride) of the map the glimpses read
EXPECTED = {
    'rarl_resnet101_voc07.py': (1024, 16),  # stage 3
    'rarl_convnext_t_voc07.py': (384, 16),  # stage 3
    'rarnn_resnet101_coco.py': (2048, 32),  # stage 4
    'rarnn_convnext_t_coco.py': (768, 32),  # stage 4
    'rarl_convnext_atto_shapes.py': (160, 16),  # stage 3, from scratch
}


def _strip_pretrained(cfg):
    if isinstance(cfg, dict):
        init = cfg.get('init_cfg')
        if isinstance(init, dict) and init.get('type') == 'Pretrained':
            cfg['init_cfg'] = None
        for v in cfg.values():
            _strip_pretrained(v)
    elif isinstance(cfg, (list, tuple)):
        for v in cfg:
            _strip_pretrained(v)
    return cfg


def _model_cfg(name):
    cfg = Config.fromfile(str(PROJECT / 'configs' / name)).model.to_dict()
    # the wrapper's dry run at 64 px instead of 224 (stride 32 still fits)
    cfg['backbone']['probe_size'] = 64
    return cfg


def _build(name):
    init_default_scope('mmpretrain')
    torch.manual_seed(0)
    model = MODELS.build(_strip_pretrained(copy.deepcopy(_model_cfg(name))))
    model.init_weights()  # e.g. the zero-initialised location output
    return model


def test_every_config_is_listed():
    assert {p.name for p in CONFIGS} == set(EXPECTED)
    assert (PROJECT / 'README.md').is_file()


@pytest.mark.parametrize('name', sorted(EXPECTED))
def test_feature_map_matches_head(name):
    """The wrapper alone is built (the heads' large FC layers are not needed
    to compare the measured map with the configured head / neck)."""
    init_default_scope('mmpretrain')
    cfg = _strip_pretrained(_model_cfg(name))
    backbone = MODELS.build(cfg['backbone'])
    channels, stride = EXPECTED[name]
    assert (backbone.out_channels, backbone.stride) == (channels, stride)
    with torch.no_grad():
        (fmap, ) = backbone.eval()(torch.zeros(1, 3, 64, 64))
    assert fmap.shape == (1, channels, 64 // stride, 64 // stride)
    if name.startswith('rarl'):
        assert cfg['head']['in_channels'] == channels
        assert cfg['head']['feat_stride'] == stride
    else:  # RHN and context extractor read the map; 7 x 7 at 224 px
        rhn = cfg['neck']['rhn']
        assert rhn['in_channels'] == channels
        assert cfg['neck']['context']['in_channels'] == channels
        assert 224 // stride == rhn['spatial_size'] == 7
        assert rhn['adaptive_pool'] is True  # other sizes are pooled to 7


@pytest.mark.parametrize('name', ['rarl_convnext_t_voc07.py'])
def test_rarl_glimpses_in_pixel_frame(name):
    model = _build(name).eval()
    size = 96
    with torch.no_grad():
        feats = model.extract_feat(torch.randn(2, 3, size, size))
        (sample, _) = model.head.predict(feats)
    boxes = sample.glimpse_boxes  # (T, k, 4) in input pixels
    # policy zero_init: the first location is the image centre
    centre = (boxes[0, :, :2] + boxes[0, :, 2:]) / 2  # (k, 2)
    torch.testing.assert_close(centre, torch.full_like(centre, size / 2))
    # anchor areas as configured (paper: 80^2, 160^2, 320^2 px)
    area = (boxes[0, :, 2] - boxes[0, :, 0]) * (boxes[0, :, 3] -
                                                 boxes[0, :, 1])  # (k,)
    expected = torch.tensor([80., 160., 320.]).pow(2).repeat_interleave(3)
    torch.testing.assert_close(area.sort().values, expected.sort().values,
                               rtol=1e-4, atol=1e-2)


def test_classifier_checkpoint_loads_without_prefix(tmp_path):
    """An mmpretrain ConvNeXt-T classifier checkpoint (random weights here)
    loads into the cut ConvNeXt of the RARL config."""
    init_default_scope('mmpretrain')
    torch.manual_seed(1)
    full = MODELS.build(dict(
        type='ImageClassifier',
        backbone=dict(type='ConvNeXt', arch='tiny'),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LinearClsHead', num_classes=1000, in_channels=768)))
    ckpt = tmp_path / 'convnext_tiny.pth'
    torch.save(dict(state_dict=full.state_dict()), ckpt)

    cfg = _model_cfg('rarl_convnext_t_voc07.py')['backbone']
    assert cfg['init_cfg']['type'] == 'Pretrained'
    cfg['init_cfg']['checkpoint'] = str(ckpt)
    wrapper = MODELS.build(cfg)
    wrapper.init_weights()
    source = full.state_dict()
    loaded = wrapper.state_dict()
    matched = [k for k in loaded if k in source]
    # stages 1-3 load; only norm2 (the cut stage's output norm) is new
    assert sorted(set(loaded) - set(matched)) == [
        'backbone.norm2.bias', 'backbone.norm2.weight']
    assert len(matched) > 100
    for k in matched:
        torch.testing.assert_close(loaded[k], source[k], msg=k)
