"""Configs and tools ship inside the package under ``marl_mm/.mim``, where
``mim train marl_mm <config>`` looks for them: setup.py copies them into
wheels, links them in the checkout for editable installs, and adds
``site-packages/marl_mm`` (forwarding to the checkout) to editable wheels,
where openmim looks."""
import importlib.util
import json
import shutil
import subprocess
import sys
import sysconfig
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


# --- install the package and resolve a config as openmim does ---------------
#
# openmim 0.3.9 finds a codebase's configs and tools through
# ``mim.utils.get_installed_path(package)``: ``<location of the installed
# distribution>/<package>``, i.e. ``site-packages/marl_mm``, then
# ``.mim/configs`` (searched by file name) and ``.mim/tools/train.py``. The
# package is installed into a throwaway venv (parent's site-packages on its
# path: no torch download), regular and editable, and a subprocess resolves
# ``.mim/configs/<config>`` there with openmim's own functions (openmim and a
# setuptools that still has ``pkg_resources`` are fetched without their
# dependencies, which pin a setuptools torch refuses) and, where they cannot
# be fetched, with the same mechanism through ``importlib.metadata``.

CONFIG = 'resnet18_gap_shapes.py'
MIM_DEPS = ('openmim==0.3.9', 'setuptools>=77.0.3,<81', 'requests', 'urllib3',
            'idna', 'charset-normalizer', 'certifi')

RESOLVE = r'''
import importlib.metadata, json, os, sys, types, warnings
warnings.simplefilter('ignore')
config, mim_lib = sys.argv[1], sys.argv[2]
out = {}
# openmim's mechanism: <distribution location>/<package>, else the module of
# top_level.txt
dist = importlib.metadata.distribution('marl_mm')
location = str(dist.locate_file(''))
root = os.path.join(location, 'marl_mm')
if not os.path.exists(root):
    root = os.path.join(location, dist.read_text('top_level.txt').split()[0])
out['mechanism_root'] = root
if mim_lib:
    # openmim's own functions; ``mim/__init__`` (all commands: pandas etc.)
    # is not needed for them
    sys.path.insert(0, mim_lib)
    pkg = types.ModuleType('mim')
    pkg.__path__ = [os.path.join(mim_lib, 'mim')]
    sys.modules['mim'] = pkg
    from mim.utils.utils import get_installed_path, recursively_find
    root = out['mim_root'] = get_installed_path('marl_mm')
    out['mim_found'] = recursively_find(root, config, followlinks=True)
from mmengine.config import Config
cfg = Config.fromfile(os.path.join(root, '.mim', 'configs', config))
out['num_classes'] = cfg.model.head.num_classes
out['marker'] = cfg.get('edit_marker')
out['train_tool'] = os.path.join(root, '.mim', 'tools', 'train.py')
import marl_mm
out['marl_mm_file'] = marl_mm.__file__
print('RESULT', json.dumps(out))
'''


@pytest.fixture(scope='module')
def mim_lib(tmp_path_factory):
    """openmim 0.3.9 + its lookup's imports in a folder, or None offline."""
    target = tmp_path_factory.mktemp('mim_lib')
    proc = subprocess.run(
        [sys.executable, '-m', 'pip', 'install', '-q', '--no-deps',
         '--target', str(target), *MIM_DEPS],
        capture_output=True, text=True, timeout=180)
    return str(target) if proc.returncode == 0 else None


def _venv_with_parent_packages(path: Path) -> Path:
    subprocess.run([sys.executable, '-m', 'venv', '--without-pip', str(path)],
                   check=True, timeout=120)
    python = path / 'bin' / 'python'
    purelib = subprocess.run(
        [str(python), '-c',
         'import sysconfig; print(sysconfig.get_paths()["purelib"])'],
        check=True, capture_output=True, text=True).stdout.strip()
    parent = sysconfig.get_paths()['purelib']
    Path(purelib, '_parent_site_packages.pth').write_text(parent + '\n')
    return python


@pytest.mark.parametrize('editable', [False, True],
                         ids=['regular', 'editable'])
def test_mim_resolves_configs_of_installed_package(tmp_path, mim_lib,
                                                   editable):
    if importlib.util.find_spec('setuptools') is None:
        pytest.skip('setuptools is not installed: cannot build offline')
    src = tmp_path / 'src'
    _copy_checkout(src)
    python = _venv_with_parent_packages(tmp_path / 'venv')
    proc = subprocess.run(
        [str(python), '-m', 'pip', 'install', '-q', '--no-deps',
         '--no-build-isolation', '--no-index',
         *(['-e'] if editable else []), str(src)],
        capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # an editable install must show edits made after installing
    with open(src / 'configs' / CONFIG, 'a') as f:
        f.write("\nedit_marker = 'edited after install'\n")

    proc = subprocess.run(
        [str(python), '-c', RESOLVE, CONFIG, mim_lib or ''],
        capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = json.loads(proc.stdout.split('RESULT', 1)[1])

    site = Path(out['mechanism_root']).parent
    assert site.is_relative_to(tmp_path / 'venv'), out
    assert out['mechanism_root'] == str(site / 'marl_mm')
    if mim_lib is not None:
        assert out['mim_root'] == out['mechanism_root']
        # exactly one match, as `mim train marl_mm <name>` requires
        assert out['mim_found'] == [
            str(site / 'marl_mm' / '.mim' / 'configs' / CONFIG)]
    assert out['num_classes'] == 8
    assert Path(out['train_tool']).is_file()
    if editable:
        assert out['marker'] == 'edited after install'
        assert Path(out['marl_mm_file']) == src / 'marl_mm' / '__init__.py'
        # the forwarding train.py runs the checkout's (mim calls it with -h)
        proc = subprocess.run([str(python), out['train_tool'], '-h'],
                              capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr
        assert '--cfg-options' in proc.stdout
    else:
        assert out['marker'] is None  # a copy, made at install time
        assert Path(out['marl_mm_file']) == (
            site / 'marl_mm' / '__init__.py')
