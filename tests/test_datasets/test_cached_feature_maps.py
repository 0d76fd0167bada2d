"""Feature-map cache: tools/misc/extract_feature_maps.py writes what the
backbone computes (checked against a direct forward pass), and
CachedFeatureMaps serves it to mmpretrain's transforms and the Runner."""
import json
import runpy
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.config import Config
from PIL import Image

import marl_mm  # noqa: F401
from marl_mm.datasets import CachedFeatureMaps
from mmpretrain.registry import MODELS

REPO_ROOT = Path(__file__).resolve().parents[2]
TOOL = REPO_ROOT / 'tools' / 'misc' / 'extract_feature_maps.py'
SIZE = 64
MEAN, STD = [123.675, 116.28, 103.53], [58.395, 57.12, 57.375]


def _tool():
    return runpy.run_path(str(TOOL))


@pytest.fixture(scope='module')
def cache(tmp_path_factory):
    """Three images (two train, one val), a seeded backbone saved as the
    config's pretrained weights, and the cache the tool writes."""
    root = tmp_path_factory.mktemp('cache')
    rng = np.random.default_rng(0)
    (root / 'img').mkdir()
    labels = [[0, 2], [1], [2]]
    for i in range(3):
        Image.fromarray(rng.integers(0, 255, (50, 70, 3), dtype=np.uint8)
                        ).save(root / 'img' / f'{i}.png')
    for name, idx in (('train', [0, 1]), ('val', [2])):
        (root / f'{name}.json').write_text(json.dumps(dict(
            metainfo=dict(classes=['a', 'b', 'c']),
            data_list=[dict(img_path=f'{i}.png', gt_label=labels[i])
                       for i in idx])))
    backbone = dict(type='FeatureMapWrapper',
                    backbone=dict(type='EfficientNetLite', arch='lite0'))
    torch.manual_seed(0)
    net = MODELS.build(backbone)
    net.init_weights()
    torch.save({'state_dict': net.state_dict()}, root / 'weights.pth')
    pipeline = [dict(type='LoadImageFromFile'),
                dict(type='Resize', scale=(SIZE, SIZE)),
                dict(type='PackInputs')]

    def dataset(split):
        return dict(type='MultiLabelDataset', data_root=str(root),
                    ann_file=f'{split}.json', data_prefix='img',
                    pipeline=pipeline)

    cfg = Config(dict(
        default_scope='mmpretrain',
        model=dict(
            type='ImageClassifier',
            backbone=dict(**backbone, init_cfg=dict(
                type='Pretrained', checkpoint=str(root / 'weights.pth'))),
            neck=dict(type='GlobalAveragePooling'),
            head=dict(type='MultiLabelLinearClsHead', num_classes=3,
                      in_channels=1280)),
        data_preprocessor=dict(num_classes=3, mean=MEAN, std=STD,
                               to_rgb=True, to_onehot=True),
        train_dataloader=dict(dataset=dataset('train')),
        val_dataloader=dict(dataset=dataset('val'))))
    cfg.dump(str(root / 'cfg.py'))
    _tool()['main']([str(root / 'cfg.py'), str(root / 'out'),
                     '--batch-size', '2', '--num-workers', '0'])
    return root, net.eval()


def test_cache_holds_the_backbone_maps(cache):
    root, net = cache
    feats = np.load(root / 'out' / 'train.npy')
    ann = json.loads((root / 'out' / 'train.json').read_text())
    assert feats.dtype == np.float16 and feats.shape == (2, 2, 2, 1280)
    assert ann['metainfo']['stride'] == 32
    assert ann['metainfo']['feat_shape'] == [2, 2, 1280]
    assert [e['gt_label'] for e in ann['data_list']] == [[0, 2], [1]]
    assert not list((root / 'out').glob('*.tmp*'))  # renamed when complete
    # the same maps from a direct forward pass (BGR -> RGB, mean / std)
    import mmcv
    for i in range(2):
        bgr = mmcv.imresize(mmcv.imread(str(root / 'img' / f'{i}.png')),
                            (SIZE, SIZE))
        x = (bgr[..., ::-1].astype(np.float32) - MEAN) / STD
        x = torch.from_numpy(x.copy()).permute(2, 0, 1)[None].float()
        with torch.no_grad():
            want = net(x)[0][0].permute(1, 2, 0).numpy()
        np.testing.assert_allclose(feats[i].astype(np.float32), want,
                                   rtol=2e-3, atol=2e-3)


def test_dataset_serves_maps_to_mmpretrain_transforms(cache):
    root, _ = cache
    feats = np.load(root / 'out' / 'train.npy').astype(np.float32)
    ds = CachedFeatureMaps(
        ann_file=str(root / 'out' / 'train.json'),
        pipeline=[dict(type='RandomFlip', prob=1., direction='horizontal'),
                  dict(type='PackInputs')])
    assert ds.metainfo['classes'] == ('a', 'b', 'c') or \
        list(ds.metainfo['classes']) == ['a', 'b', 'c']
    item = ds[1]
    # PackInputs: (C, H, W); RandomFlip: the map mirrored left-right
    want = torch.from_numpy(feats[1][:, ::-1].copy()).permute(2, 0, 1)
    assert torch.equal(item['inputs'], want)
    assert item['data_samples'].gt_label.tolist() == [1]
    assert ds.get_cat_ids(0) == [0, 2]


def test_dataset_errors_name_the_file(cache, tmp_path):
    root, _ = cache
    with pytest.raises(FileNotFoundError, match='extract_feature_maps'):
        CachedFeatureMaps(ann_file=str(tmp_path / 'none.json'))
    ann = json.loads((root / 'out' / 'train.json').read_text())
    ann['data_list'].append(dict(ann['data_list'][0], feat_index=2))
    bad = tmp_path / 'train.json'
    bad.write_text(json.dumps(ann))
    np.save(tmp_path / 'train.npy', np.load(root / 'out' / 'train.npy'))
    with pytest.raises(ValueError, match=r'describes\s+3 maps'):
        CachedFeatureMaps(ann_file=str(bad))


def test_cached_gap_config_trains_through_the_runner(cache, tmp_path):
    """The shipped GAP cache config, pointed at this cache (1280 channels,
    2 x 2 maps), trains one epoch and validates through mmengine's Runner."""
    from mmengine.runner import Runner
    root, _ = cache
    cfg = Config.fromfile(str(
        REPO_ROOT / 'configs' / 'efficientnet_lite' /
        'gap_effnet-lite0_voc07_cached.py'))
    cfg.model.head.num_classes = 3
    cfg.data_preprocessor.num_classes = 3
    # the ten views of 2 x 2 maps: 1-cell crops (the config: 12 of 14)
    assert cfg.model.test_cfg.mode == 'ten_view'
    cfg.model.test_cfg.crop_size = 32
    for split in ('train', 'val'):
        loader = cfg[f'{split}_dataloader']
        loader.dataset.ann_file = str(root / 'out' / f'{split}.json')
        loader.num_workers = 0
        loader.persistent_workers = False
        loader.batch_size = 2
    cfg.test_dataloader = cfg.test_evaluator = cfg.test_cfg = None
    cfg.train_cfg.max_epochs = cfg.train_cfg.val_interval = 1
    cfg.default_hooks.checkpoint = None
    cfg.work_dir = str(tmp_path)
    runner = Runner.from_cfg(cfg)
    runner.train()
    metrics = runner.val_loop.run()
    assert any(k.startswith('multi-label') or 'mAP' in k for k in metrics)


def test_attach_backbone_gives_the_cached_model_on_images(cache, tmp_path):
    """A head trained on cached maps + the real backbone
    (tools/misc/attach_backbone.py) predicts on an image what the cached
    model predicts on that image's cached map."""
    root, _ = cache
    head = dict(type='MultiLabelLinearClsHead', num_classes=3,
                in_channels=1280)
    cached = MODELS.build(dict(
        type='ImageClassifier',
        backbone=dict(type='PrecomputedFeatureMap', out_channels=1280,
                      stride=32),
        neck=dict(type='GlobalAveragePooling'), head=head))
    torch.manual_seed(1)
    cached.init_weights()
    torch.save({'state_dict': cached.state_dict()}, tmp_path / 'head.pth')
    image_cfg = Config.fromfile(str(root / 'cfg.py'))
    image_cfg.model.head = head
    image_cfg.dump(str(tmp_path / 'image_cfg.py'))
    tool = runpy.run_path(str(REPO_ROOT / 'tools' / 'misc' /
                              'attach_backbone.py'))
    out = str(tmp_path / 'image.pth')
    counts = tool['main']([str(tmp_path / 'image_cfg.py'),
                           str(tmp_path / 'head.pth'), out])
    assert counts['from_checkpoint'] == 2  # head.fc weight and bias
    state = torch.load(out, weights_only=True)['state_dict']
    weights = torch.load(root / 'weights.pth', weights_only=True)
    assert torch.equal(state['head.fc.weight'],
                       cached.state_dict()['head.fc.weight'])
    assert torch.equal(state['backbone.backbone.layers.0.conv.weight'],
                       weights['state_dict']['backbone.layers.0.conv.weight'])
    # the same scores from the image and from its cached map
    from mmpretrain.registry import MODELS as M
    image_model = M.build(Config.fromfile(
        str(tmp_path / 'image_cfg.py')).model).eval()
    image_model.load_state_dict(state)
    import mmcv
    bgr = mmcv.imresize(mmcv.imread(str(root / 'img' / '2.png')),
                        (SIZE, SIZE))
    x = (bgr[..., ::-1].astype(np.float32) - MEAN) / STD
    x = torch.from_numpy(x.copy()).permute(2, 0, 1)[None].float()
    fmap = torch.from_numpy(np.load(root / 'out' / 'val.npy')[0].astype(
        np.float32)).permute(2, 0, 1)[None]
    with torch.no_grad():
        torch.testing.assert_close(
            image_model(x, mode='tensor'), cached.eval()(fmap, mode='tensor'),
            rtol=1e-2, atol=1e-2)
    # a head of another shape is refused, naming the checkpoint
    other = dict(head, num_classes=4)
    image_cfg.model.head = other
    image_cfg.dump(str(tmp_path / 'other_cfg.py'))
    with pytest.raises(ValueError, match='head.pth'):
        tool['main']([str(tmp_path / 'other_cfg.py'),
                      str(tmp_path / 'head.pth'), str(tmp_path / 'x.pth')])
