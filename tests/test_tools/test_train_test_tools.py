"""The thin train/test front ends: flags fold into the config as documented,
and a missing data root stops before any runner is built."""
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest
from mmengine.config import Config

REPO_ROOT = Path(__file__).resolve().parents[2]
CONFIG_DIR = REPO_ROOT / 'configs'


def _load_tool(name):
    spec = importlib.util.spec_from_file_location(
        f'_tool_{name}', REPO_ROOT / 'tools' / f'{name}.py')
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


train_tool = _load_tool('train')
test_tool = _load_tool('test')


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
