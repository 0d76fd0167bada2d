"""Configs and tools ship inside the package under ``marl_mm/.mim``, where
``mim train marl_mm <config>`` looks for them (setup.py links them for
editable installs and copies them into wheels)."""
import importlib.util
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import marl_mm

REPO_ROOT = Path(__file__).resolve().parents[2]
PKG_DIR = Path(marl_mm.__file__).resolve().parent
#: top-level folders of a checkout that are not source (build output, data)
NOT_SOURCE = {'.git', 'build', 'dist', 'work_dirs', 'data', '.venv', 'venv',
              '.pytest_cache', '.eggs'}


def _repo_configs():
    return sorted(p.relative_to(REPO_ROOT / 'configs').as_posix()
                  for p in (REPO_ROOT / 'configs').rglob('*.py'))


def test_editable_install_links_configs_and_tools():
    if PKG_DIR != REPO_ROOT / 'marl_mm':
        pytest.skip(f'marl_mm is imported from {PKG_DIR}, not this checkout')
    mim = PKG_DIR / '.mim'
    assert (mim / 'configs').is_dir(), (
        f'{mim}/configs is missing: reinstall with `pip install -e .`')
    # a link, so edits to configs/ are seen without reinstalling
    assert (mim / 'configs').resolve() == (REPO_ROOT / 'configs').resolve()
    assert (mim / 'tools').resolve() == (REPO_ROOT / 'tools').resolve()
    found = sorted(p.relative_to(mim / 'configs').as_posix()
                   for p in (mim / 'configs').rglob('*.py'))
    assert found == _repo_configs()
    assert '_base_/models/vgg16_gap.py' in found
    assert (mim / 'tools' / 'train.py').is_file()


def _copy_checkout(dst: Path) -> None:
    """Copy the checkout's source (building mutates marl_mm/.mim in place)."""
    def ignore(folder, names):
        skip = {n for n in names if n == '__pycache__' or n.endswith(
            '.egg-info')}
        if Path(folder) == REPO_ROOT:
            skip |= NOT_SOURCE & set(names)
        if Path(folder) == REPO_ROOT / 'marl_mm':
            skip |= {'.mim'} & set(names)  # links of the editable install
        return skip

    shutil.copytree(REPO_ROOT, dst, ignore=ignore)


def test_wheel_contains_configs_and_tools(tmp_path):
    if importlib.util.find_spec('setuptools') is None:
        pytest.skip('setuptools is not installed: cannot build offline')
    src = tmp_path / 'src'
    _copy_checkout(src)
    out = tmp_path / 'wheelhouse'
    proc = subprocess.run(
        [sys.executable, '-m', 'pip', 'wheel', '--no-deps',
         '--no-build-isolation', '--no-index', '-q', '-w', str(out), '.'],
        cwd=src, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    wheel, = out.glob('marl_mm-*.whl')
    names = set(zipfile.ZipFile(wheel).namelist())
    for config in _repo_configs():
        assert f'marl_mm/.mim/configs/{config}' in names, config
    assert 'marl_mm/.mim/tools/train.py' in names
    assert 'marl_mm/.mim/tools/test.py' in names
    assert 'marl_mm/.mim/tools/model_converters/torchvision_vgg16.py' in names
    assert 'marl_mm/__init__.py' in names
    assert not any(n.startswith(('tests/', 'configs/')) for n in names)
