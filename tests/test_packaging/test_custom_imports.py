"""The plain mmpretrain path: a fresh interpreter that never imports marl_mm
itself loads a config whose only link to the plugin is ``custom_imports``,
then builds marl_mm's model, transforms, dataset, metric and hook through
mmpretrain's registries and runs them."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

REPO_ROOT = Path(__file__).resolve().parents[2]

CONFIG = '''
custom_imports = dict(imports=['marl_mm'], allow_failed_imports=False)
model = dict(
    type='ImageClassifier',
    data_preprocessor=dict(num_classes=4, mean=[128.] * 3, std=[64.] * 3,
                           to_onehot=True),
    backbone=dict(
        type='FeatureMapWrapper',
        backbone=dict(type='ResNet', depth=18, num_stages=3,
                      strides=(1, 2, 2), dilations=(1, 1, 1),
                      out_indices=(2, ))),
    head=dict(type='LSTMGlimpseHead', num_classes=4, in_channels=256,
              feat_stride=16, num_steps=2, anchor_sizes=(16, 32, 48),
              embed_dims=32, hidden_dims=32, baseline=dict(hidden_dims=16),
              loss_type='bce'))
dataset = dict(
    type='CheckedMultiLabelDataset', data_root={root!r}, ann_file='ann.json',
    data_prefix=dict(img_path='images'),
    pipeline=[dict(type='CheckedLoadImageFromFile'),
              dict(type='Resize', scale=(64, 64)),
              dict(type='PackInputs')])
metric = dict(type='MultiLabelTopKMetric', topk=2, thr=0.1)
hook = dict(type='PolicyGradientHook')
'''

SCRIPT = r'''
import sys
config = sys.argv[1]
from mmengine.config import Config
assert 'marl_mm' not in sys.modules
cfg = Config.fromfile(config)  # imports marl_mm through custom_imports
assert 'marl_mm' in sys.modules
import torch
from mmengine.dataset import pseudo_collate
from mmpretrain.registry import DATASETS, HOOKS, METRICS, MODELS

torch.manual_seed(0)
model = MODELS.build(cfg.model)
dataset = DATASETS.build(cfg.dataset)
metric = METRICS.build(cfg.metric)
hook = HOOKS.build(cfg.hook)
batch = model.data_preprocessor(pseudo_collate([dataset[0], dataset[1]]),
                                True)
losses = model(**batch, mode='loss')
loss = sum(v for k, v in losses.items() if k.startswith('loss'))
loss.backward()
model.eval()
with torch.no_grad():
    preds = model(**model.data_preprocessor(
        pseudo_collate([dataset[0], dataset[1]]), False), mode='predict')
metric.process(None, [p.to_dict() for p in preds])
results = metric.evaluate(len(dataset))
print('RESULT', type(model.head).__name__, type(dataset).__name__,
      type(metric).__name__, type(hook).__name__, len(dataset),
      tuple(preds[0].pred_score.shape), bool(torch.isfinite(loss)),
      'multi-label/CF1' in results)
'''


def test_plain_mmpretrain_pipeline_with_custom_imports(tmp_path):
    rng = np.random.default_rng(0)
    (tmp_path / 'images').mkdir()
    data_list = []
    for i, labels in enumerate([[0, 2], [1], [3]]):
        Image.fromarray(rng.integers(0, 255, (40, 48, 3), dtype=np.uint8)
                        ).save(tmp_path / 'images' / f'{i}.png')
        data_list.append(dict(img_path=f'{i}.png', gt_label=labels))
    (tmp_path / 'ann.json').write_text(json.dumps(dict(
        metainfo=dict(classes=['a', 'b', 'c', 'd']), data_list=data_list)))
    config = tmp_path / 'plain_mmpretrain.py'
    config.write_text(CONFIG.format(root=str(tmp_path)))
    # run outside the checkout, so the installed marl_mm is what is imported
    proc = subprocess.run([sys.executable, '-c', SCRIPT, str(config)],
                          capture_output=True, text=True, timeout=300,
                          cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout.split('RESULT', 1)[1].split()
    assert out == ['LSTMGlimpseHead', 'CheckedMultiLabelDataset',
                   'MultiLabelTopKMetric', 'PolicyGradientHook', '3',
                   '(4,)', 'True', 'True'], proc.stdout
