"""Same seed and config, same result on CPU: a tiny 1-epoch run of RARL and
of RARNN (the quick-start configs with a narrow ResNet-18 on 64 px shapes)
done twice gives bit-identical weights and identical validation metrics.

RARL loads its data in 2 dataloader workers (random flips drawn in the
workers, which the quick-start data config seeds with
``resumable_worker_init_fn`` from the main torch generator, itself seeded by
``randomness.seed``), RARNN in the main process. A third RARNN run with another seed differs, so the check can
fail.
"""
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.runner import Runner

import marl_mm  # noqa: F401
from mmpretrain.registry import HOOKS
from tests_conftest import load_tool

REPO_ROOT = Path(__file__).resolve().parents[2]
RESULTS = {}

TINY_BACKBONE = dict(
    type='FeatureMapWrapper',
    backbone=dict(type='ResNet', depth=18, stem_channels=16,
                  base_channels=16, num_stages=3, strides=(1, 2, 2),
                  dilations=(1, 1, 1), out_indices=(2, )),
    out_index=-1)  # (B, 64, 4, 4) at 64 px
SETUPS = {
    'rarl': ('rarl_resnet18_shapes.py', 2, dict(
        backbone=TINY_BACKBONE,
        head=dict(in_channels=64, num_steps=2, anchor_sizes=(16, 32),
                  roi_size=3, embed_dims=16, hidden_dims=16,
                  baseline=dict(hidden_dims=8)))),
    'rarnn': ('rarnn_resnet18_shapes.py', 0, dict(
        backbone=TINY_BACKBONE,
        neck=dict(rhn=dict(in_channels=64, feat_dims=16, spatial_size=4,
                           num_glimpses=3),
                  context=dict(in_channels=64, branch_channels=8)),
        head=dict(in_channels=16, context_channels=16, relation_channels=16,
                  num_samples=2, baseline_hidden=8))),
}


@HOOKS.register_module(force=True)
class _DeterminismRecordHook(Hook):
    priority = 'LOWEST'

    def after_val_epoch(self, runner, metrics=None) -> None:
        RESULTS[runner.work_dir] = dict(
            metrics=dict(metrics),
            weights={k: v.detach().clone()
                     for k, v in runner.model.state_dict().items()
                     if torch.is_tensor(v)})


@pytest.fixture(scope='module')
def data_root(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('determinism')
    gen = load_tool('tools/dataset_converters/generate_shapes.py')
    gen.generate(str(tmp / 'shapes'), num_train=8, num_val=4, size=64,
                 max_objects=2, min_obj=8, max_obj=14)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield tmp
    torch.set_num_threads(threads)


def _run(data_root: Path, model: str, seed: int, tag: str) -> dict:
    config, workers, model_cfg = SETUPS[model]
    cfg = Config.fromfile(str(REPO_ROOT / 'configs' / config))
    cfg.merge_from_dict(dict(
        model=model_cfg,
        work_dir=str(data_root / f'{model}_{tag}'),
        experiment_name=f'{model}_{tag}',
        randomness=dict(seed=seed),
        train_cfg=dict(max_epochs=1, val_interval=1),
        param_scheduler=[],
        custom_hooks=[dict(type='PolicyGradientHook'),
                      dict(type='_DeterminismRecordHook')],
        default_hooks=dict(checkpoint=dict(interval=100)),
        log_level='WARNING'))
    for split in ('train_dataloader', 'val_dataloader'):
        loader = cfg[split]
        loader.update(batch_size=4, num_workers=workers,
                      persistent_workers=False)
        loader.dataset.data_root = str(data_root / 'shapes')
        loader.dataset.pipeline = [
            step for step in loader.dataset.pipeline if step.type != 'Resize']
    Runner.from_cfg(cfg).train()
    return RESULTS[str(data_root / f'{model}_{tag}')]


@pytest.mark.parametrize('model', list(SETUPS))
def test_same_seed_same_result(data_root, model):
    first = _run(data_root, model, 0, 'a')
    second = _run(data_root, model, 0, 'b')
    assert first['metrics'] == second['metrics']
    assert len(first['metrics']) >= 7
    assert all(torch.equal(first['weights'][k], second['weights'][k])
               for k in first['weights'])
    if model == 'rarl':
        return
    other = _run(data_root, model, 1, 'c')  # the check can fail
    assert any(not torch.equal(first['weights'][k], other['weights'][k])
               for k in first['weights'])
