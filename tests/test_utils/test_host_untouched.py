"""``import marl_mm`` leaves mmengine and mmpretrain as they were.

* In a fresh interpreter: every attribute of every mmengine / mmpretrain
  module loaded before the import, and of every class they define, is the
  same object afterwards (``Runner.load_checkpoint``,
  ``Runner._init_model_weights``, ``find_latest_checkpoint``,
  ``HistoryBuffer.__setstate__`` ...); ``CheckpointLoader._schemes`` keeps
  each existing prefix's loader and only gains ``'safe:'``.
* A plain mmpretrain ``ImageClassifier`` checkpoint whose meta holds a
  ``pathlib.Path``, a ``datetime`` and an mmengine ``Config`` loads the same
  (same outcome, same weights, same messages about mismatched keys) with and
  without the plugin, through mmengine's ``load_checkpoint`` and a plain
  ``Runner``'s ``load_from``, with torch's default ``weights_only`` and with
  ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1``.
* No module of ``marl_mm`` assigns to an attribute of something imported
  from mmengine, mmpretrain or torch (an ``ast`` scan).
"""
import ast
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

_SNAPSHOT = textwrap.dedent('''
    import inspect, json, sys
    import mmengine.runner, mmengine.runner.checkpoint, mmengine.logging
    import mmpretrain, mmpretrain.models, mmpretrain.datasets
    import mmpretrain.engine, mmpretrain.evaluation, mmpretrain.apis
    from mmengine.runner.checkpoint import CheckpointLoader

    def watched():
        return {n: m for n, m in sys.modules.items()
                if n.split('.')[0] in ('mmengine', 'mmpretrain')}

    def attributes(modules):
        out = {}
        for name, mod in modules.items():
            for key, value in list(vars(mod).items()):
                out[(name, key)] = value
                if inspect.isclass(value) and value.__module__ == name:
                    for ckey, cvalue in list(vars(value).items()):
                        if ckey in ('__dict__', '__weakref__', '_abc_impl'):
                            continue
                        out[(name, key, ckey)] = cvalue
        return out

    modules = watched()
    before = attributes(modules)
    schemes = dict(CheckpointLoader._schemes)
    import marl_mm  # noqa
    after = attributes(modules)
    changed = sorted('.'.join(k) for k, v in before.items()
                     if k not in after or after[k] is not v)
    # _schemes is rebuilt (a new dict) by any register_scheme: compare items
    changed = [c for c in changed if not c.endswith('CheckpointLoader._schemes')]
    now = dict(CheckpointLoader._schemes)
    schemes_changed = sorted(p for p in schemes if now.get(p) is not schemes[p])
    print(json.dumps(dict(
        watched=len(modules), attributes=len(before), changed=changed,
        schemes_changed=schemes_changed,
        schemes_added=sorted(set(now) - set(schemes)))))
''')


def _python(code, env=None, cwd=None):
    """Run ``code`` in a fresh interpreter with the repo on the path; the
    last stdout line, parsed as json."""
    full_env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS='1')
    full_env.pop('TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD', None)
    full_env.update(env or {})
    proc = subprocess.run([sys.executable, '-c', code], capture_output=True,
                          text=True, env=full_env, cwd=cwd or ROOT,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_import_changes_no_attribute_of_mmengine_or_mmpretrain():
    found = _python(_SNAPSHOT)
    assert found['watched'] > 100 and found['attributes'] > 10000, found
    assert found['changed'] == [], found['changed']
    assert found['schemes_changed'] == []
    assert found['schemes_added'] == ['safe:']


_SAVE = textwrap.dedent('''
    import datetime, json, pathlib, sys
    import torch
    from mmengine.config import Config
    from mmpretrain.models import ImageClassifier
    torch.manual_seed(0)
    model = ImageClassifier(
        backbone=dict(type='ResNet', depth=18),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LinearClsHead', num_classes=5, in_channels=512))
    meta = dict(work_dir=pathlib.Path('/tmp/run'),
                time=datetime.datetime(2026, 1, 2, 3, 4, 5),
                cfg=Config(dict(model=dict(type='ImageClassifier'))))
    torch.save(dict(meta=meta, state_dict=model.state_dict()), sys.argv[1])
    backbone = {k[len('backbone.'):]: v for k, v in
                model.state_dict().items() if k.startswith('backbone.')}
    torch.save(dict(state_dict=backbone), sys.argv[2])
    print(json.dumps({}))
''')

_LOAD = textwrap.dedent('''
    import hashlib, io, json, sys, contextlib
    if sys.argv[1] == 'plugin':
        import marl_mm  # noqa
    import torch
    from mmengine.runner import load_checkpoint
    from mmpretrain.models import ImageClassifier

    def build(num_classes):
        torch.manual_seed(1)
        return ImageClassifier(
            backbone=dict(type='ResNet', depth=18),
            neck=dict(type='GlobalAveragePooling'),
            head=dict(type='LinearClsHead', num_classes=num_classes,
                      in_channels=512))

    def digest(model):
        h = hashlib.sha256()
        for k, v in model.state_dict().items():
            h.update(k.encode()); h.update(v.numpy().tobytes())
        return h.hexdigest()

    out = {}
    for case, path, classes in (('same', sys.argv[2], 5),
                                ('finetune', sys.argv[2], 7),
                                ('backbone_only', sys.argv[3], 5)):
        model = build(classes)
        text = io.StringIO()
        try:
            with contextlib.redirect_stdout(text):
                ckpt = load_checkpoint(model, path, map_location='cpu')
            meta = ckpt.get('meta', {})
            out[case] = dict(ok=True, weights=digest(model),
                             meta=sorted((k, type(v).__name__)
                                         for k, v in meta.items()),
                             stdout=[l for l in text.getvalue().splitlines()
                                     if 'mmengine' not in l or 'key' in l])
        except Exception as e:
            out[case] = dict(ok=False, error=type(e).__name__,
                             message=str(e).replace(path, '<file>')[:300])
    print(json.dumps(out))
''')


@pytest.fixture(scope='module')
def plain_checkpoints(tmp_path_factory):
    folder = tmp_path_factory.mktemp('plain_ckpt')
    full, backbone = folder / 'resnet18_5.pth', folder / 'backbone.pth'
    proc = subprocess.run(
        [sys.executable, '-c', _SAVE, str(full), str(backbone)],
        capture_output=True, text=True, timeout=600,
        env=dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS='1'))
    assert proc.returncode == 0, proc.stderr[-3000:]
    return full, backbone


@pytest.mark.parametrize('force_no_weights_only', [False, True])
def test_plain_checkpoint_loads_the_same_with_the_plugin(
        plain_checkpoints, force_no_weights_only):
    full, backbone = plain_checkpoints
    env = {'TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD': '1'} \
        if force_no_weights_only else {}
    results = {}
    for mode in ('plain', 'plugin'):
        code = f'import sys; sys.argv[1:] = {[mode, str(full), str(backbone)]}\n'
        results[mode] = _python(code + _LOAD, env=env)
    assert results['plugin'] == results['plain']
    if force_no_weights_only:  # what many users set: everything loads
        assert all(r['ok'] for r in results['plain'].values())
        assert results['plain']['same']['meta'] == [
            ['cfg', 'Config'], ['time', 'datetime'],
            ['work_dir', 'PosixPath']]
        assert any('size mismatch' in line
                   for line in results['plain']['finetune']['stdout'])


def _names_from_hosts(tree):
    """Names a module binds to mmengine / mmpretrain / torch objects."""
    hosts = ('mmengine', 'mmpretrain', 'torch', 'mmcv')
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split('.')[0] in hosts:
                    names.add((alias.asname or alias.name).split('.')[0])
        elif isinstance(node, ast.ImportFrom) and node.module and \
                node.module.split('.')[0] in hosts:
            names.update(a.asname or a.name for a in node.names)
    return names


def _root(node):
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def test_no_module_assigns_to_host_attributes():
    """The grep of the issue, as an ast scan: no ``X.attr = ...``,
    ``del X.attr`` or ``setattr(X, ...)`` where X comes from mmengine,
    mmpretrain, mmcv or torch."""
    found = []
    for path in sorted((ROOT / 'marl_mm').rglob('*.py')):
        tree = ast.parse(path.read_text(), str(path))
        hosts = _names_from_hosts(tree)
        for node in ast.walk(tree):
            targets = []
            if isinstance(node, (ast.Assign, ast.Delete)):
                targets = node.targets
            elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
                targets = [node.target]
            elif isinstance(node, ast.Call) and isinstance(
                    node.func, ast.Name) and node.func.id in (
                        'setattr', 'delattr') and node.args:
                targets = [ast.Attribute(value=node.args[0], attr='?')]
            for target in targets:
                if isinstance(target, (ast.Attribute, ast.Subscript)) and \
                        _root(target) in hosts:
                    found.append(f'{path.relative_to(ROOT)}:{node.lineno}')
    assert found == []
