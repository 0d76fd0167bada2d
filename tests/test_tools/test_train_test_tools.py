"""The thin train/test front ends: flags fold into the config as documented,
and a missing data root stops before any runner is built."""
import json
import subprocess
import sys
from pathlib import Path

import pytest
from mmengine.config import Config
from tests_conftest import load_tool

REPO_ROOT = Path(__file__).resolve().parents[2]
CONFIG_DIR = REPO_ROOT / 'configs'


train_tool = load_tool('tools/train.py')
test_tool = load_tool('tools/test.py')


def _cfg():
    return Config.fromfile(str(CONFIG_DIR / 'resnet18_gap_shapes.py'))


def test_train_flags_fold_into_config(tmp_path):
    cfg = _cfg()
    args = train_tool.parse_args([
        'x.py', '--work-dir', str(tmp_path), '--amp', '--resume',
        '--cfg-options', 'train_cfg.max_epochs=3'
    ])
    cfg = train_tool.merge_args(cfg, args)
    assert cfg.work_dir == str(tmp_path)
    assert cfg.optim_wrapper.type == 'AmpOptimWrapper'
    assert cfg.resume is True and cfg.load_from is None
    assert cfg.train_cfg.max_epochs == 3


def test_train_resume_from_path_and_no_validate():
    cfg = _cfg()
    args = train_tool.parse_args(
        ['x.py', '--resume', 'a/epoch_1.pth', '--no-validate'])
    cfg = train_tool.merge_args(cfg, args)
    assert cfg.resume is True and cfg.load_from == 'a/epoch_1.pth'
    assert cfg.val_dataloader is None and cfg.val_cfg is None


def test_default_work_dir_named_after_config():
    cfg = _cfg()
    args = train_tool.parse_args(['configs/resnet18_gap_shapes.py'])
    cfg = train_tool.merge_args(cfg, args)
    assert cfg.work_dir.replace('\\', '/') == \
        './work_dirs/resnet18_gap_shapes'


def test_test_flags(tmp_path):
    cfg = _cfg()
    args = test_tool.parse_args([
        'x.py', 'ckpt.pth', '--show-dir', str(tmp_path / 'vis'),
        '--out', str(tmp_path / 'p.pkl')
    ])
    cfg = test_tool.merge_args(cfg, args)
    assert cfg.load_from == 'ckpt.pth'
    assert cfg.default_hooks.visualization.enable is True
    assert cfg.default_hooks.visualization.out_dir == str(tmp_path / 'vis')
    # --show-dir draws the glimpses and a label set for the paper heads,
    # which give pred_score only (UniversalVisualizer drew ground truth only)
    assert cfg.visualizer.type == 'GlimpseVisualizer'
    with pytest.raises(SystemExit):
        test_tool.parse_args(['x.py', 'c.pth', '--out', 'preds.json'])


def test_missing_data_root_stops_with_layout(tmp_path):
    missing = tmp_path / 'no_such_dir'
    proc = subprocess.run(
        [sys.executable, str(REPO_ROOT / 'tools' / 'train.py'),
         str(CONFIG_DIR / 'vgg16_gap_voc07.py'), '--work-dir',
         str(tmp_path / 'w'), '--cfg-options', f'data_root={missing}',
         f'train_dataloader.dataset.data_root={missing}',
         f'val_dataloader.dataset.data_root={missing}'],
        capture_output=True, text=True, timeout=120, cwd=REPO_ROOT)
    assert proc.returncode != 0
    err = proc.stderr
    assert 'FileNotFoundError' in err
    assert str(missing) in err
    assert 'Data preparation' in err
    # stopped before the runner was built: no work dir, no log
    assert not (tmp_path / 'w').exists()


@pytest.mark.parametrize('script', [
    'dist_train.sh', 'dist_test.sh', 'slurm_train.sh', 'slurm_test.sh'])
def test_shell_launchers_parse(script):
    path = REPO_ROOT / 'tools' / script
    assert subprocess.run(['bash', '-n', str(path)]).returncode == 0
    text = path.read_text()
    if script.startswith('dist'):
        assert 'torch.distributed.run' in text  # torchrun, not launch
        assert 'torch.distributed.launch' not in text
    assert '--launcher' in text


def _tiny_rarl_setup(root: Path, num_val: int = 5):
    """Generated 64 px shapes data (``num_val`` test images), a narrowed
    RARL shapes config reading it and a seeded random checkpoint:
    ``(config path, checkpoint path, data root)``."""
    import torch
    from mmengine.registry import init_default_scope
    from mmpretrain.registry import MODELS
    gen = load_tool(REPO_ROOT / 'tools' / 'dataset_converters' /
                        'generate_shapes.py')
    data = root / 'shapes'
    gen.generate(str(data), num_train=1, num_val=num_val, size=64,
                 max_objects=2, min_obj=10, max_obj=16)
    cfg = Config.fromfile(str(CONFIG_DIR / 'rarl_resnet18_shapes.py'))
    cfg.merge_from_dict(dict(
        work_dir=str(root / 'work'),
        model=dict(
            backbone=dict(backbone=dict(base_channels=8, stem_channels=8)),
            head=dict(in_channels=32, embed_dims=16, hidden_dims=16,
                      baseline=dict(hidden_dims=8),
                      anchor_sizes=(16, 24, 32))),
        test_dataloader=dict(
            batch_size=2, num_workers=0, persistent_workers=False,
            dataset=dict(data_root=str(data)))))
    for key in ('train_dataloader', 'train_cfg', 'optim_wrapper',
                'param_scheduler', 'val_dataloader', 'val_cfg',
                'val_evaluator'):
        cfg.pop(key, None)
    config = root / 'rarl_tiny.py'
    cfg.dump(str(config))
    init_default_scope('mmpretrain')
    torch.manual_seed(3)
    model = MODELS.build(cfg.model)
    ckpt = root / 'rarl_tiny.pth'
    torch.save({'state_dict': model.state_dict()}, ckpt)
    return config, ckpt, data


def test_show_dir_draws_every_image_with_the_metric_label_set(
        tmp_path, monkeypatch):
    """``tools/test.py CFG CKPT --show-dir DIR``: one PNG per test image
    (the hook's default interval, 5000, drew 1 of 5), and the label set in
    the "Prediction" text is the one MultiLabelTopKMetric scores (top-3
    above 0.1 in the shapes configs; the visualiser drew the labels >= 0.5,
    e.g. [2, 4, 7, 5] where the metric predicts [2, 4, 7])."""
    import numpy as np
    from marl_mm.evaluation.metrics.functional import topk_thr_binarize
    from marl_mm.visualization import GlimpseVisualizer
    config, ckpt, data = _tiny_rarl_setup(tmp_path)
    drawn = []  # (pred_score, pred_label) of what the header writes
    original = GlimpseVisualizer._header_lines

    def spy(self, data_sample, *args, **kwargs):
        drawn.append((data_sample.pred_score.numpy().copy(),
                      data_sample.pred_label.tolist()))
        return original(self, data_sample, *args, **kwargs)

    monkeypatch.setattr(GlimpseVisualizer, '_header_lines', spy)
    show_dir = tmp_path / 'vis'
    test_tool.main([str(config), str(ckpt), '--show-dir', str(show_dir),
                    '--work-dir', str(tmp_path / 'work')])
    val = json.loads((data / 'val.json').read_text())['data_list']
    names = sorted(f'{Path(item["img_path"]).name}_0.png' for item in val)
    saved = sorted(p.name for p in show_dir.rglob('*.png'))
    assert saved == names and len(saved) == 5
    assert len(drawn) == 5
    for score, label in drawn:
        keep = topk_thr_binarize(score[None], 3, 0.1)[0]
        want = np.flatnonzero(keep)
        want = want[np.argsort(-score[want], kind='stable')].tolist()
        assert label == want
    # the old rule (>= 0.5, at least the top one) differs on these images
    assert any(set(label) != set(np.flatnonzero(score >= 0.5))
               for score, label in drawn)

    # --interval 2 draws images 0, 2, 4; a config's own pred_thr wins
    args = test_tool.parse_args(['x.py', 'c.pth', '--show-dir', 'v',
                                 '--interval', '2'])
    cfg = test_tool.merge_args(Config.fromfile(str(config)), args)
    assert cfg.default_hooks.visualization.interval == 2
    assert (cfg.visualizer.pred_topk, cfg.visualizer.pred_thr) == (3, 0.1)
    args = test_tool.parse_args(['x.py', 'c.pth', '--show-dir', 'v',
                                 '--cfg-options', 'visualizer.pred_thr=0.3'])
    cfg = test_tool.merge_args(Config.fromfile(str(config)), args)
    assert cfg.visualizer.pred_thr == 0.3 and 'pred_topk' not in \
        cfg.visualizer
    with pytest.raises(SystemExit):
        test_tool.parse_args(['x.py', 'c.pth', '--interval', '0'])


def test_missing_config_or_checkpoint_is_one_line(tmp_path):
    """A typo'd path stops with one line naming it and the fix (no
    traceback): SystemExit carries the message python prints."""
    with pytest.raises(SystemExit) as e:
        train_tool.main(['configs/typo_config.py'])
    assert str(e.value).startswith(
        'error: config file configs/typo_config.py not found')
    assert '\n' not in str(e.value)
    with pytest.raises(SystemExit) as e:
        test_tool.main(['configs/resnet18_gap_shapes.py',
                        str(tmp_path / 'no.pth')])
    assert 'checkpoint' in str(e.value) and 'no.pth' in str(e.value)
    assert '\n' not in str(e.value)
