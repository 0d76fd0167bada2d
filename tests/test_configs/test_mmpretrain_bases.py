"""A user config inherits mmpretrain's bases by package name.

``_base_ = ['mmpretrain::_base_/...']`` is how OpenMMLab configs inherit a
codebase's bases. mmengine 0.10.7 locates the package through
``pkg_resources`` (setuptools < 81), so this only works in an environment
with ``requirements/ci.txt``'s setuptools pin; with setuptools 84 it stopped
with ``ModuleNotFoundError: No module named 'pkg_resources'``.
"""
import importlib

from mmengine.config import Config

USER_CONFIG = '''
_base_ = ['mmpretrain::_base_/default_runtime.py']
custom_imports = dict(imports=['marl_mm'], allow_failed_imports=False)
model = dict(
    type='ImageClassifier',
    backbone=dict(type='FeatureMapWrapper',
                  backbone=dict(type='ResNet', depth=18, out_indices=(3, ))),
    head=dict(type='LSTMGlimpseHead', num_classes=5, in_channels=512,
              feat_stride=32))
default_hooks = dict(checkpoint=dict(interval=7))
'''


def test_pkg_resources_is_importable():
    # what mmengine's ``package::`` lookup and openmim import
    importlib.import_module('pkg_resources')


def test_user_config_inherits_an_mmpretrain_base(tmp_path):
    path = tmp_path / 'user_cfg.py'
    path.write_text(USER_CONFIG)
    cfg = Config.fromfile(str(path))  # what tools/train.py and test.py do
    # values from mmpretrain's default_runtime.py ...
    assert cfg.default_scope == 'mmpretrain'
    assert cfg.log_level == 'INFO'
    assert cfg.default_hooks.logger.type == 'LoggerHook'
    # ... merged with the user's own
    assert cfg.default_hooks.checkpoint.interval == 7
    assert cfg.default_hooks.checkpoint.type == 'CheckpointHook'
    assert cfg.model.head.num_classes == 5


def test_custom_imports_register_marl_mm_components(tmp_path):
    path = tmp_path / 'user_cfg.py'
    path.write_text(USER_CONFIG)
    cfg = Config.fromfile(str(path))
    from mmpretrain.registry import MODELS
    head = MODELS.build(cfg.model.head)
    assert type(head).__name__ == 'LSTMGlimpseHead'
    assert head.num_classes == 5
