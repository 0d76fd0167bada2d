"""Install marl_mm: recurrent-attention, reinforcement-learned multi-label
recognition (RARL, RARNN) as an OpenMMLab plugin.

Configs and tools are shipped inside the package under ``marl_mm/.mim`` so
that ``mim train marl_mm <config>`` finds them. openmim 0.3.9 looks for them
at ``<location of the installed distribution>/marl_mm/.mim``
(``mim.utils.get_installed_path``), i.e. in site-packages.

- A regular install (``pip install .``, a wheel) copies configs/tools/demo
  into ``marl_mm/.mim``.
- An editable install (``pip install -e .``, PEP 660: setuptools'
  ``editable_wheel`` command) leaves the package in the checkout, so
  site-packages has no ``marl_mm`` folder and openmim found nothing. The
  editable wheel here therefore also carries ``site-packages/marl_mm``: an
  ``__init__.py`` that loads the checkout's package in its place (same module,
  same ``__file__`` as setuptools' own finder gives) and ``.mim/`` with one
  small forwarding file per config (``_base_`` = the checkout's file) and per
  tool (runs the checkout's script). Edits to configs and tools are seen at
  once; a config or tool *added* later needs ``pip install -e .`` again
  before mim finds it by name. The checkout's own ``marl_mm/.mim`` links
  (used by ``MultiLabelInferencer`` and the tools) are made as before.
"""
import base64
import hashlib
import os
import os.path as osp
import shutil
import subprocess
import sys
import zipfile
from typing import Dict, List

from setuptools import find_packages, setup

try:  # setuptools >= 64 (PEP 660 editable installs)
    from setuptools.command.editable_wheel import editable_wheel
except ImportError:  # pragma: no cover - older setuptools use `develop`
    editable_wheel = None

HERE = osp.dirname(osp.abspath(__file__))
MIM_ITEMS = ('configs', 'tools', 'demo')
EDITABLE_COMMANDS = ('develop', 'editable_wheel')
COPY_COMMANDS = ('install', 'build', 'build_py', 'bdist_wheel', 'sdist')


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


def add_mim_extension() -> None:
    """Place configs/tools/demo under ``marl_mm/.mim`` (link or copy)."""
    argv = set(sys.argv)
    if argv & set(EDITABLE_COMMANDS):
        mode = 'symlink'
    elif argv & set(COPY_COMMANDS):
        mode = 'copy'
    else:
        return
    mim_root = osp.join(HERE, 'marl_mm', '.mim')
    os.makedirs(mim_root, exist_ok=True)
    for item in MIM_ITEMS:
        src = osp.join(HERE, item)
        if not osp.exists(src):
            continue
        dst = osp.join(mim_root, item)
        if osp.islink(dst) or osp.isfile(dst):
            os.remove(dst)
        elif osp.isdir(dst):
            shutil.rmtree(dst)
        if mode == 'symlink':
            os.symlink(osp.relpath(src, mim_root), dst, target_is_directory=True)
        else:
            shutil.copytree(src, dst)


EDITABLE_INIT = '''"""marl_mm, installed in editable mode from {checkout}.

Generated by marl_mm's setup.py. This folder exists so that openmim finds
``marl_mm/.mim`` in site-packages; the package itself is the checkout's, loaded
here in place of this module.
"""
import importlib.util
import os.path
import sys

_PKG = {pkg!r}
if not os.path.isfile(os.path.join(_PKG, '__init__.py')):
    raise ImportError(
        'marl_mm was installed in editable mode from ' + _PKG + ', which is '
        'gone: reinstall it (pip install -e <checkout>)')
_spec = importlib.util.spec_from_file_location(
    __name__, os.path.join(_PKG, '__init__.py'),
    submodule_search_locations=[_PKG])
_module = importlib.util.module_from_spec(_spec)
sys.modules[__name__] = _module
_spec.loader.exec_module(_module)
'''

EDITABLE_CONFIG = (
    "# Generated by marl_mm's setup.py (editable install). The config:\n"
    '# {target}\n'
    '_base_ = {target!r}\n')

EDITABLE_PY_TOOL = '''"""Generated by marl_mm's setup.py (editable install).

Runs {target}"""
import runpy
import sys

sys.argv[0] = {target!r}
sys.path[0] = {folder!r}
runpy.run_path({target!r}, run_name='__main__')
'''

EDITABLE_SH_TOOL = '''#!/usr/bin/env bash
# Generated by marl_mm's setup.py (editable install): runs {target}
exec bash {target!r} "$@"
'''


def editable_redirect_files(root: str = HERE) -> Dict[str, str]:
    """The files an editable wheel adds under ``site-packages/marl_mm``.

    Args:
        root: the checkout (the folder of this setup.py).

    Returns:
        ``{path inside the wheel: text}``: the redirecting ``__init__.py`` and
        one forwarding file per config (``.py``) and tool (``.py``/``.sh``)
        under ``marl_mm/.mim``.
    """
    pkg = osp.join(root, 'marl_mm')
    files = {'marl_mm/__init__.py': EDITABLE_INIT.format(checkout=root,
                                                          pkg=pkg)}
    for item in MIM_ITEMS:
        top = osp.join(root, item)
        for folder, dirs, names in os.walk(top):
            dirs[:] = sorted(d for d in dirs if d != '__pycache__')
            for name in sorted(names):
                target = osp.join(folder, name)
                rel = osp.relpath(target, root).replace(os.sep, '/')
                if item == 'configs' and name.endswith('.py'):
                    text = EDITABLE_CONFIG.format(target=target)
                elif item != 'configs' and name.endswith('.py'):
                    text = EDITABLE_PY_TOOL.format(target=target,
                                                   folder=folder)
                elif name.endswith('.sh'):
                    text = EDITABLE_SH_TOOL.format(target=target)
                else:
                    continue
                files[f'marl_mm/.mim/{rel}'] = text
    return files


def add_files_to_wheel(wheel: str, files: Dict[str, str]) -> None:
    """Add text files to a built wheel and list them in its RECORD."""
    with zipfile.ZipFile(wheel) as zf:
        entries = [(info, zf.read(info)) for info in zf.infolist()]
    record_name = next(i.filename for i, _ in entries
                       if i.filename.endswith('.dist-info/RECORD'))
    record = next(data for i, data in entries if i.filename == record_name)
    lines = record.decode().splitlines()
    tmp = wheel + '.tmp'
    with zipfile.ZipFile(tmp, 'w', zipfile.ZIP_DEFLATED) as zf:
        for info, data in entries:
            if info.filename != record_name:
                zf.writestr(info, data)
        for name, text in files.items():
            data = text.encode()
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            mode = 0o755 if name.endswith('.sh') else 0o644
            info.external_attr = (0o100000 | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
            digest = base64.urlsafe_b64encode(
                hashlib.sha256(data).digest()).rstrip(b'=').decode()
            lines.append(f'{name},sha256={digest},{len(data)}')
        zf.writestr(record_name, '\n'.join(lines) + '\n')
    os.replace(tmp, wheel)


CMDCLASS = {}
if editable_wheel is not None:

    class EditableWheelWithMim(editable_wheel):
        """setuptools' editable wheel plus ``site-packages/marl_mm``, where
        openmim looks for ``.mim`` (see the module docstring)."""

        def run(self) -> None:
            super().run()
            wheels = [osp.join(self.dist_dir, n)
                      for n in os.listdir(self.dist_dir)
                      if n.endswith('.whl') and '.editable-' in n]
            wheel = max(wheels, key=osp.getmtime)
            add_files_to_wheel(wheel, editable_redirect_files())

    CMDCLASS['editable_wheel'] = EditableWheelWithMim


if __name__ == '__main__':
    add_mim_extension()
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
        cmdclass=CMDCLASS,
        zip_safe=False)
