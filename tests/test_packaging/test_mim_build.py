"""marl_mm_build.py (setup.py's build helper), piece by piece: which command
links or copies ``.mim``, the placing itself, the editable wheel's
forwarding files (a forwarded config loads as the original, a forwarded tool
runs the original) and the RECORD entries it adds (hashes recomputed here).
The real installs are tests/test_packaging/test_mim_package.py."""
import base64
import hashlib
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from mmengine.config import Config

from tests_conftest import load_tool

build = load_tool('marl_mm_build.py')


def _checkout(root: Path) -> Path:
    (root / 'marl_mm').mkdir(parents=True)
    (root / 'marl_mm' / '__init__.py').write_text('VALUE = 42\n')
    (root / 'configs' / '_base_').mkdir(parents=True)
    (root / 'configs' / '_base_' / 'model.py').write_text('depth = 18\n')
    (root / 'configs' / 'exp.py').write_text(
        "_base_ = ['_base_/model.py']\nlr = 0.1\n")
    (root / 'configs' / 'README.md').write_text('not a config\n')
    (root / 'tools' / '__pycache__').mkdir(parents=True)
    (root / 'tools' / '__pycache__' / 'x.py').write_text('')
    (root / 'tools' / 'show.py').write_text(
        'import sys\nfrom helper import WORD\nprint(WORD, sys.argv[1:])\n')
    (root / 'tools' / 'helper.py').write_text("WORD = 'ran'\n")
    (root / 'tools' / 'run.sh').write_text('echo "$@"\n')
    return root


def test_mode_by_command():
    assert build.mim_mode(['setup.py', 'editable_wheel']) == 'symlink'
    assert build.mim_mode(['setup.py', 'develop']) == 'symlink'
    assert build.mim_mode(['setup.py', 'bdist_wheel']) == 'copy'
    assert build.mim_mode(['setup.py', 'egg_info']) is None


@pytest.mark.parametrize('mode', ['symlink', 'copy'])
def test_place_mim_items(tmp_path, mode):
    root = _checkout(tmp_path)
    (root / 'marl_mm' / '.mim').mkdir()
    (root / 'marl_mm' / '.mim' / 'configs').write_text('stale file')
    build.place_mim_items(str(root), mode)
    placed = root / 'marl_mm' / '.mim' / 'configs'
    assert placed.is_symlink() == (mode == 'symlink')
    assert (placed / 'exp.py').read_text() == (
        root / 'configs' / 'exp.py').read_text()
    assert not (root / 'marl_mm' / '.mim' / 'demo').exists()  # no demo/
    with pytest.raises(ValueError, match='symlink'):
        build.place_mim_items(str(root), 'hardlink')


def test_forwarding_files(tmp_path):
    root = _checkout(tmp_path / 'src')
    files = build.editable_redirect_files(str(root))
    assert sorted(files) == [
        'marl_mm/.mim/configs/_base_/model.py', 'marl_mm/.mim/configs/exp.py',
        'marl_mm/.mim/tools/helper.py', 'marl_mm/.mim/tools/run.sh',
        'marl_mm/.mim/tools/show.py', 'marl_mm/__init__.py']
    site = tmp_path / 'site'
    for name, text in files.items():
        (site / name).parent.mkdir(parents=True, exist_ok=True)
        (site / name).write_text(text)
    # a forwarded config is the checkout's, _base_ chain included
    cfg = Config.fromfile(str(site / 'marl_mm/.mim/configs/exp.py'))
    assert (cfg.lr, cfg.depth) == (0.1, 18)
    # a forwarded tool runs the checkout's script, imports beside it
    out = subprocess.run(
        [sys.executable, str(site / 'marl_mm/.mim/tools/show.py'), 'a'],
        capture_output=True, text=True, check=True).stdout
    assert out.strip() == "ran ['a']"
    out = subprocess.run(
        ['bash', str(site / 'marl_mm/.mim/tools/run.sh'), 'x', 'y'],
        capture_output=True, text=True, check=True).stdout
    assert out.strip() == 'x y'
    # the package in site-packages is the checkout's
    probe = ('import marl_mm, sys; print(marl_mm.VALUE, marl_mm.__file__)')
    out = subprocess.run([sys.executable, '-c', probe], cwd=site,
                         capture_output=True, text=True, check=True).stdout
    assert out.split() == ['42', str(root / 'marl_mm' / '__init__.py')]


def test_add_files_to_wheel_records_hashes(tmp_path):
    wheel = tmp_path / 'pkg-1.0-py3-none-any.whl'
    with zipfile.ZipFile(wheel, 'w') as zf:
        zf.writestr('pkg/a.py', 'A = 1\n')
        zf.writestr('pkg-1.0.dist-info/RECORD', 'pkg/a.py,sha256=x,6\n')
    build.add_files_to_wheel(str(wheel), {'marl_mm/x.py': 'X = 1\n',
                                          'marl_mm/t.sh': 'echo\n'})
    with zipfile.ZipFile(wheel) as zf:
        assert zf.read('pkg/a.py') == b'A = 1\n'
        record = zf.read('pkg-1.0.dist-info/RECORD').decode().splitlines()
        mode = zf.getinfo('marl_mm/t.sh').external_attr >> 16
    assert record[0] == 'pkg/a.py,sha256=x,6'
    for line, data in zip(record[1:], (b'X = 1\n', b'echo\n')):
        digest = base64.urlsafe_b64encode(
            hashlib.sha256(data).digest()).decode().rstrip('=')
        assert line.endswith(f',sha256={digest},{len(data)}'), line
    assert mode & 0o777 == 0o755
    with pytest.raises(ValueError, match='already holds'):
        build.add_files_to_wheel(str(wheel), {'pkg/a.py': ''})
    no_record = tmp_path / 'bad.whl'
    with zipfile.ZipFile(no_record, 'w') as zf:
        zf.writestr('pkg/a.py', '')
    with pytest.raises(ValueError, match='RECORD'):
        build.add_files_to_wheel(str(no_record), {})
