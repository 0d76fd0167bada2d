"""Install marl_mm: recurrent-attention, reinforcement-learned multi-label
recognition (RARL, RARNN) as an OpenMMLab plugin.

Configs, tools and demos ship inside the package under ``marl_mm/.mim``,
where ``mim train marl_mm <config>`` finds them; ``marl_mm_build.py`` (beside
this file) places them there and makes editable installs visible to openmim.
"""
import os.path as osp
import subprocess
import sys
from typing import List

from setuptools import find_packages, setup

HERE = osp.dirname(osp.abspath(__file__))
sys.path.insert(0, HERE)  # marl_mm_build, the build helper beside this file
from marl_mm_build import (make_editable_wheel_command,  # noqa: E402
                           mim_mode, place_mim_items)


def readme() -> str:
    with open(osp.join(HERE, 'README.md'), encoding='utf-8') as f:
        return f.read()


def version() -> str:
    scope: dict = {}
    with open(osp.join(HERE, 'marl_mm', 'version.py'), encoding='utf-8') as f:
        exec(compile(f.read(), 'version.py', 'exec'), scope)
    return scope['__version__']


def parse_requirements(name: str) -> list:
    """Read ``requirements/<name>.txt``, following ``-r`` includes."""
    path = osp.join(HERE, 'requirements', f'{name}.txt')
    out = []
    with open(path, encoding='utf-8') as f:
        for line in f:
            line = line.split('#', 1)[0].strip()
            if not line:
                continue
            if line.startswith('-r '):
                out += parse_requirements(osp.splitext(line[3:].strip())[0])
            else:
                out.append(line)
    return out


def mmcv_requirements(requirements: List[str],
                      full_mmcv_installed: bool) -> List[str]:
    """Require full ``mmcv`` instead of ``mmcv-lite`` where mmcv is installed.

    Both provide the ``mmcv`` module; marl_mm needs no compiled op, so
    mmcv-lite is the default, but requiring it beside an installed full mmcv
    would install mmcv-lite over it. The version range is kept.

    Args:
        requirements: requirement strings (e.g. from ``mminstall.txt``).
        full_mmcv_installed: whether an ``mmcv`` distribution is installed.

    Returns:
        The requirements, with ``mmcv-lite<range>`` turned into
        ``mmcv<range>`` when ``full_mmcv_installed``.
    """
    if not full_mmcv_installed:
        return list(requirements)
    return ['mmcv' + req[len('mmcv-lite'):]
            if req.startswith('mmcv-lite') else req for req in requirements]


def full_mmcv_installed() -> bool:
    """Whether a full ``mmcv`` distribution (not mmcv-lite) is installed.

    pip builds in an isolated environment that hides the target's
    site-packages, so the interpreter that runs pip is asked as well, in
    isolated mode (``-I``: its own site-packages, no PYTHONPATH from pip).
    """
    from importlib import metadata
    try:
        metadata.distribution('mmcv')
        return True
    except metadata.PackageNotFoundError:
        pass
    probe = ('import importlib.metadata as m, sys\n'
             'try:\n    m.distribution("mmcv")\n'
             'except m.PackageNotFoundError:\n    sys.exit(1)\n')
    try:
        return subprocess.run([sys.executable, '-I', '-c', probe],
                              capture_output=True, timeout=60).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


if __name__ == '__main__':
    mode = mim_mode(sys.argv)  # link (editable) or copy .mim when building
    if mode is not None:
        place_mim_items(HERE, mode)
    editable_wheel = make_editable_wheel_command(HERE)
    setup(
        name='marl_mm',
        version=version(),
        description='Recurrent-attention, reinforcement-learned multi-label '
        'image recognition (RARL, RARNN) for OpenMMLab',
        long_description=readme(),
        long_description_content_type='text/markdown',
        keywords='multi-label classification, reinforcement learning, attention',
        packages=find_packages(exclude=('configs', 'tools', 'demo', 'tests',
                                        'projects')),
        include_package_data=True,
        package_data={'marl_mm': ['.mim/**/*']},
        python_requires='>=3.9',
        classifiers=[
            'Programming Language :: Python :: 3',
            'Topic :: Scientific/Engineering :: Artificial Intelligence',
        ],
        license='Apache License 2.0',
        install_requires=parse_requirements('runtime') + mmcv_requirements(
            parse_requirements('mminstall'), full_mmcv_installed()),
        extras_require={
            'all': parse_requirements('optional') + parse_requirements('tests'),
            'tests': parse_requirements('tests'),
            'optional': parse_requirements('optional'),
            'mim': mmcv_requirements(parse_requirements('mminstall'),
                                     full_mmcv_installed()),
        },
        cmdclass={'editable_wheel': editable_wheel} if editable_wheel
        else {},
        zip_safe=False)
