"""``import marl_mm`` checks mmengine / mmcv / mmpretrain and, when one is
missing, broken or out of range, says what to install (package and range)."""
import subprocess
import sys
from pathlib import Path

import pytest

import marl_mm
from marl_mm import (MMCV_RANGE, MMENGINE_RANGE, MMPRETRAIN_RANGE,
                     _check_range)

REPO_ROOT = Path(__file__).resolve().parents[2]
RANGES = {'mmengine': MMENGINE_RANGE, 'mmcv': MMCV_RANGE,
          'mmpretrain': MMPRETRAIN_RANGE}


@pytest.mark.parametrize('found, ok', [
    ('0.9.9', False), ('0.10.0', True), ('0.10.7', True),
    ('0.10.7rc1', True), ('0.11.0', False), ('1.0.0', False)])
def test_check_range_bounds(found, ok):
    hint = 'pip install "mmengine>=0.10.0,<0.11.0"'
    if ok:
        _check_range('mmengine', found, '0.10.0', '0.11.0', hint)
        return
    with pytest.raises(ImportError) as info:
        _check_range('mmengine', found, '0.10.0', '0.11.0', hint)
    msg = str(info.value)
    assert 'needs mmengine>=0.10.0,<0.11.0' in msg
    assert f'found mmengine=={found}' in msg
    assert msg.endswith(hint)


def test_ranges_match_mminstall():
    lines = (REPO_ROOT / 'requirements' / 'mminstall.txt').read_text()
    for name, (lo, hi) in RANGES.items():
        dist = 'mmcv-lite' if name == 'mmcv' else name
        assert f'{dist}>={lo},<{hi}' in lines.split(), name


def _import_with(name: str, fake: str) -> str:
    """``import marl_mm`` in a fresh interpreter where ``name`` is ``fake``:
    'missing' (None in sys.modules), 'broken' (its import raises) or a version
    string (a stand-in module of that version); return the error."""
    if fake == 'missing':
        setup = f'sys.modules[{name!r}] = None'
    elif fake == 'broken':
        setup = (
            'import importlib.abc\n'
            'class Broken(importlib.abc.MetaPathFinder):\n'
            '    def find_spec(self, fullname, path, target=None):\n'
            f'        if fullname == {name!r}:\n'
            "            raise ImportError('libbroken.so: cannot open')\n"
            'sys.meta_path.insert(0, Broken())')
    else:
        setup = (f'sys.modules[{name!r}] = types.ModuleType({name!r})\n'
                 f'sys.modules[{name!r}].__version__ = {fake!r}')
    code = (f'import sys, types\n{setup}\n'
            'try:\n    import marl_mm\n'
            'except ImportError as e:\n    print(type(e).__name__, e)\n')
    proc = subprocess.run([sys.executable, '-c', code], capture_output=True,
                          text=True, timeout=300,
                          cwd=Path(marl_mm.__file__).parents[1])
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


@pytest.mark.parametrize('name', list(RANGES))
def test_missing_package_names_what_to_install(name):
    lo, hi = RANGES[name]
    out = _import_with(name, 'missing')
    assert out.startswith('ImportError '), out
    assert f'needs {name}>={lo},<{hi}, which is not installed' in out
    dist = 'mmcv-lite' if name == 'mmcv' else name
    assert f'pip install "{dist}>={lo},<{hi}"' in out


def test_wrong_version_and_broken_install_name_the_range():
    lo, hi = MMPRETRAIN_RANGE
    out = _import_with('mmpretrain', '1.0.0')
    assert (f'needs mmpretrain>={lo},<{hi} but found mmpretrain==1.0.0'
            in out), out
    assert f'pip install "mmpretrain>={lo},<{hi}"' in out
    out = _import_with('mmcv', 'broken')
    assert 'it is installed but does not import' in out, out
    assert 'libbroken.so' in out
    assert f'pip install "mmcv-lite>={MMCV_RANGE[0]},<{MMCV_RANGE[1]}"' in out
