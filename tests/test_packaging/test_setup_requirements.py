"""setup.py's dependency choices: full ``mmcv`` instead of ``mmcv-lite`` where
an mmcv distribution is installed (requiring mmcv-lite there would install it
over the full one), with the same version range."""
import sys
from importlib import metadata
from pathlib import Path

import pytest
from tests_conftest import load_tool

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope='module')
def setup_py():
    # setup() itself runs only as __main__
    return load_tool('setup.py', 'marl_mm_setup')


def test_mminstall_requires_mmcv_lite_by_default(setup_py):
    reqs = setup_py.parse_requirements('mminstall')
    assert 'mmcv-lite>=2.0.0,<2.3.0' in reqs
    assert setup_py.mmcv_requirements(reqs, False) == reqs


def test_full_mmcv_gets_mmcv_with_the_same_range(setup_py):
    reqs = ['mmcv-lite>=2.0.0,<2.3.0', 'mmengine>=0.10.0,<0.11.0',
            'mmpretrain>=1.2.0,<1.3.0']
    assert setup_py.mmcv_requirements(reqs, True) == [
        'mmcv>=2.0.0,<2.3.0', 'mmengine>=0.10.0,<0.11.0',
        'mmpretrain>=1.2.0,<1.3.0']
    # the range of the file, whatever it is
    real = setup_py.parse_requirements('mminstall')
    lite, = (r for r in real if r.startswith('mmcv-lite'))
    assert 'mmcv' + lite[len('mmcv-lite'):] in setup_py.mmcv_requirements(
        real, True)


def _has_distribution(name):
    try:
        metadata.distribution(name)
        return True
    except metadata.PackageNotFoundError:
        return False


def test_detects_the_installed_mmcv_distribution(setup_py):
    # this environment: what importlib.metadata says (mmcv-lite in CI)
    assert setup_py.full_mmcv_installed() == _has_distribution('mmcv')


def test_detects_a_full_mmcv(setup_py, tmp_path, monkeypatch):
    info = tmp_path / 'mmcv-2.2.0.dist-info'
    info.mkdir()
    (info / 'METADATA').write_text(
        'Metadata-Version: 2.1\nName: mmcv\nVersion: 2.2.0\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    assert setup_py.full_mmcv_installed()


def test_mmcv_lite_alone_is_not_full_mmcv(setup_py, tmp_path, monkeypatch):
    info = tmp_path / 'mmcv_lite-2.2.0.dist-info'
    info.mkdir()
    (info / 'METADATA').write_text(
        'Metadata-Version: 2.1\nName: mmcv-lite\nVersion: 2.2.0\n')
    monkeypatch.setattr(sys, 'path', [str(tmp_path)])
    # and the interpreter pip runs under reports no mmcv either
    monkeypatch.setattr(setup_py.subprocess, 'run',
                        lambda *a, **k: type('P', (), {'returncode': 1})())
    assert not setup_py.full_mmcv_installed()


def test_ci_pins_satisfy_the_user_ranges(setup_py):
    """The pinned, tested stack lies inside the ranges users get."""
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name
    pins = {}
    ci = (REPO_ROOT / 'requirements' / 'ci.txt').read_text()
    for line in ci.splitlines():
        line = line.split('#', 1)[0].strip()
        if line:
            name, version = line.split('==')
            pins[canonicalize_name(name)] = version
    for group in ('runtime', 'mminstall', 'tests'):
        for text in setup_py.parse_requirements(group):
            req = Requirement(text)
            name = canonicalize_name(req.name)
            assert name in pins, f'{req.name} ({group}): not pinned in ci.txt'
            assert req.specifier.contains(pins[name], prereleases=True), (
                f'ci.txt pins {req.name}=={pins[name]} outside {text}')


def test_ci_pins_a_setuptools_with_pkg_resources():
    """ci.txt's setuptools satisfies torch (>= 77.0.3) and still ships
    ``pkg_resources`` (removed in 81), which mmengine imports for
    ``mmpretrain::`` bases and openmim 0.3.9 imports at start-up."""
    from packaging.specifiers import SpecifierSet
    pins = dict(
        line.split('==') for line in
        (REPO_ROOT / 'requirements' / 'ci.txt').read_text().splitlines()
        if line.strip() and not line.startswith('#'))
    assert pins['setuptools'] in SpecifierSet('>=77.0.3,<81')
