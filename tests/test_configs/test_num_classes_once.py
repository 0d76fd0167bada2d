"""A derived config sets ``num_classes`` once (top level) and the head and
the data preprocessor get it (before: the head kept its base's 8)."""
from pathlib import Path

import pytest
from mmengine.config import Config

from marl_mm.utils import apply_num_classes

REPO_ROOT = Path(__file__).resolve().parents[2]
SHAPES = ('rarl_resnet18_shapes', 'rarnn_resnet18_shapes',
          'resnet18_gap_shapes')


def _derived(tmp_path, name, extra=''):
    path = tmp_path / f'my_{name}.py'
    path.write_text(f"_base_ = ['{REPO_ROOT / 'configs' / name}.py']\n"
                    f'num_classes = 10\n{extra}')
    return Config.fromfile(str(path))


@pytest.mark.parametrize('name', SHAPES)
def test_derived_num_classes_reaches_head_and_preprocessor(tmp_path, name):
    cfg = _derived(tmp_path, name)
    changed = apply_num_classes(cfg)
    assert cfg.model.head.num_classes == 10
    assert cfg.data_preprocessor.num_classes == 10
    assert 'model.head.num_classes (8 -> 10)' in changed
    assert 'data_preprocessor.num_classes (8 -> 10)' in changed


@pytest.mark.parametrize('name', SHAPES)
def test_shipped_shapes_configs_agree_without_changes(name):
    cfg = Config.fromfile(str(REPO_ROOT / 'configs' / f'{name}.py'))
    assert cfg.num_classes == 8  # the generator's eight shapes
    assert apply_num_classes(cfg) == []
    assert cfg.model.head.num_classes == 8
    assert cfg.data_preprocessor.num_classes == 8


def test_every_num_classes_key_under_the_model_follows():
    cfg = Config(dict(
        num_classes=5,
        model=dict(head=dict(num_classes=3),
                   data_preprocessor=dict(num_classes=3),
                   extra=[dict(num_classes=3), dict(other=1)]),
        data_preprocessor=dict(num_classes=3),
        test_evaluator=dict(num_classes=3)))  # not a model section
    apply_num_classes(cfg)
    assert cfg.model.head.num_classes == 5
    assert cfg.model.data_preprocessor.num_classes == 5
    assert cfg.model.extra[0].num_classes == 5
    assert cfg.data_preprocessor.num_classes == 5
    assert cfg.test_evaluator.num_classes == 3


def test_no_top_level_num_classes_changes_nothing():
    cfg = Config(dict(model=dict(head=dict(num_classes=3))))
    assert apply_num_classes(cfg) == []
    assert cfg.model.head.num_classes == 3


@pytest.mark.parametrize('bad', [0, -2, 2.5, '10', True])
def test_bad_num_classes_is_refused(bad):
    with pytest.raises(TypeError, match='num_classes'):
        apply_num_classes(Config(dict(num_classes=bad, model=dict())))


def test_runner_builds_the_derived_class_count(tmp_path):
    """What tools/train.py / tools/test.py build (MarlRunner.from_cfg)."""
    cfg = _derived(tmp_path, 'rarl_resnet18_shapes')
    cfg.work_dir = str(tmp_path / 'work')
    from marl_mm.engine import build_runner
    runner = build_runner(cfg)
    assert runner.model.head.num_classes == 10
    assert runner.model.data_preprocessor.num_classes == 10
    # the final classifier has 10 outputs
    assert runner.model.head.cls.out_features == 10
    assert cfg.model.head.num_classes == 8  # the caller's config untouched


def test_runner_model_cfg_merges_as_the_runner_does():
    """Tools that build the model themselves get the top-level data
    preprocessor and num_classes, and the loaded config is left as it was."""
    from mmengine.config import Config
    from marl_mm.utils import runner_model_cfg
    cfg = Config(dict(
        num_classes=10,
        model=dict(type='ImageClassifier',
                   head=dict(type='MultiLabelLinearClsHead', num_classes=8)),
        data_preprocessor=dict(num_classes=8, mean=[1., 2., 3.])))
    model = runner_model_cfg(cfg)
    assert model.head.num_classes == 10
    assert model.data_preprocessor.num_classes == 10
    assert model.data_preprocessor.mean == [1., 2., 3.]
    assert cfg.model.head.num_classes == 8 and 'data_preprocessor' not in \
        cfg.model
    own = Config(dict(model=dict(type='X', data_preprocessor=dict(a=1)),
                      data_preprocessor=dict(a=2)))
    assert runner_model_cfg(own).data_preprocessor.a == 1  # the model's wins
