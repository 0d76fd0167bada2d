"""Every shipped config reads its files without running code from them.

* ``runner_type='MarlRunner'``: ``load_from`` / ``--resume`` / testing read
  checkpoints with ``weights_only=True`` and the allowlist, whatever the
  scheme (``docs/host.md``).
* Every ``Pretrained`` ``init_cfg`` names its weights with the ``safe:``
  scheme (read by ``marl_mm.utils.load_checkpoint_safe``, not mmengine's
  plain ``torch.load``).
* Every dataset is one of marl_mm's checked readers (mmpretrain's
  ``MultiLabelDataset`` runs code from a ``.pkl`` / ``.yaml`` ann_file).
"""
from pathlib import Path

import pytest
from mmengine.config import Config

import marl_mm  # noqa: F401  (registers components)
from mmpretrain.registry import DATASETS

REPO_ROOT = Path(__file__).resolve().parents[2]
CONFIGS = sorted(
    p for p in list((REPO_ROOT / 'configs').rglob('*.py')) +
    list((REPO_ROOT / 'projects').glob('*/configs/**/*.py'))
    if '_base_' not in p.parts)


def _walk(cfg, found):
    """Collect ``(init_cfg checkpoint, dataset type)`` entries."""
    if isinstance(cfg, dict):
        init = cfg.get('init_cfg')
        if isinstance(init, dict) and init.get('type') == 'Pretrained':
            found['checkpoints'].append(init.get('checkpoint'))
        dataset = cfg.get('dataset')
        if isinstance(dataset, dict) and 'type' in dataset:
            found['datasets'].append(dataset['type'])
        for value in cfg.values():
            _walk(value, found)
    elif isinstance(cfg, (list, tuple)):
        for value in cfg:
            _walk(value, found)
    return found


@pytest.mark.parametrize('path', CONFIGS, ids=lambda p: str(
    p.relative_to(REPO_ROOT)))
def test_config_reads_files_safely(path):
    cfg = Config.fromfile(str(path))
    assert cfg.get('runner_type') == 'MarlRunner', path.name
    found = _walk(cfg.to_dict(), dict(checkpoints=[], datasets=[]))
    for checkpoint in found['checkpoints']:
        assert str(checkpoint).startswith('safe:'), (path.name, checkpoint)
    assert found['datasets'], path.name
    for dataset in found['datasets']:
        cls = DATASETS.get(dataset)
        assert cls is not None and cls.__module__.startswith('marl_mm.'), (
            f'{path.name}: dataset {dataset} is not a marl_mm checked reader')
