"""Install marl_mm: recurrent-attention, reinforcement-learned multi-label
recognition (RARL, RARNN) as an OpenMMLab plugin.

Configs and tools are shipped inside the package under ``marl_mm/.mim`` so
that ``mim train marl_mm <config>`` finds them. A regular install copies them;
an editable install (``pip install -e .`` goes through setuptools'
``editable_wheel`` command, ``python setup.py develop`` through ``develop``)
links them, so edits to ``configs/`` are seen at once.
"""
import os
import os.path as osp
import shutil
import sys

from setuptools import find_packages, setup

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
        python_requires='>=3.8',
        classifiers=[
            'Programming Language :: Python :: 3',
            'Topic :: Scientific/Engineering :: Artificial Intelligence',
        ],
        license='Apache License 2.0',
        install_requires=parse_requirements('runtime') +
        parse_requirements('mminstall'),
        extras_require={
            'all': parse_requirements('optional') + parse_requirements('tests'),
            'tests': parse_requirements('tests'),
            'optional': parse_requirements('optional'),
            'mim': parse_requirements('mminstall'),
        },
        zip_safe=False)
