"""Bad-input suite (issue 6, item 4), configs and checkpoints: class counts
that disagree, checkpoints that do not fit the model (rows 23-24).

Every kind of bad input gets a clear error naming the file / field and what
was expected, a conversion checked against an independent decoder, or a
logged skip. The table of behaviours is docs/reliability.md; the test names
carry its row numbers."""
import logging
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

import marl_mm  # noqa: F401  (registers everything)
from mmpretrain.registry import MODELS
from tests_conftest import LogRecords, tiny_classifier, tiny_runner

REPO = Path(__file__).resolve().parents[2]
DATASETS = REPO / 'configs' / '_base_' / 'datasets'

init_default_scope('mmpretrain')


# ------------------------------------------------ 23-24 config / checkpoint
def test_23_config_class_count_disagrees_with_dataset(tmp_path):
    runner = tiny_runner(tmp_path, 'bad_input_23a',
                         tiny_classifier(num_classes=3),
                         hooks=['DataCheckHook'])
    with pytest.raises(ValueError) as e:
        runner.train()
    text = str(e.value)
    assert 'model.head.num_classes = 3, but train_dataloader.dataset' in text
    assert 'model.data_preprocessor.num_classes = 3' in text
    assert 'train.json) has 4 classes' in text
    assert runner.iter == 0  # stopped before any iteration


def test_23_train_and_val_name_other_classes(tmp_path):
    runner = tiny_runner(tmp_path, 'bad_input_23b', tiny_classifier(),
                         val_classes=('a', 'c', 'b', 'd'),
                         hooks=['DataCheckHook'])
    with pytest.raises(ValueError, match=r"val_dataloader.dataset names "
                       r"other classes .* index 1: 'b' vs 'c'"):
        runner.train()


def _checkpoints(tmp_path):
    """A 4-class model's checkpoint, and the same without its head."""
    src = tiny_classifier(num_classes=4)
    state = src.state_dict()
    torch.save(dict(state_dict=state), tmp_path / 'full.pth')
    partial = {k: v for k, v in state.items() if not k.startswith('head.')}
    torch.save(dict(state_dict=partial), tmp_path / 'partial.pth')
    return src, str(tmp_path / 'full.pth'), str(tmp_path / 'partial.pth')


def test_24_checkpoint_that_does_not_fit_refused_for_testing(tmp_path):
    """tools/test.py and tools/ensemble_test.py load through Runner.test:
    missing keys and size mismatches raise, naming the file and keys."""
    from marl_mm.utils import CheckpointMismatchError
    src, full, partial = _checkpoints(tmp_path)
    runner = tiny_runner(tmp_path, 'bad_input_24a', tiny_classifier(),
                         test=True, load_from=partial)
    with pytest.raises(CheckpointMismatchError) as e:
        runner.test()
    assert f"checkpoint '{partial}' does not fit the model" in str(e.value)
    assert '2 weight(s) of the model missing from the checkpoint: ' \
        'head.fc.weight, head.fc.bias' in str(e.value)

    other = tiny_classifier(num_classes=80)  # another model: 80 classes
    with pytest.raises(CheckpointMismatchError,
                       match=r'2 size mismatch\(es\): head.fc.weight '
                       r'\(checkpoint \[4, 64\], model \[80, 64\]\), '
                       r'head.fc.bias \(checkpoint \[4\], model \[80\]\)'):
        tiny_runner(tmp_path, 'bad_input_24b', other).load_checkpoint(full)
    deeper = tiny_classifier(depth=34)  # another model: a deeper ResNet
    with pytest.raises(CheckpointMismatchError,
                       match=r'\d+ weight\(s\) of the model missing from the '
                       r'checkpoint: backbone.layer1.2.conv1.weight'):
        tiny_runner(tmp_path, 'bad_input_24c', deeper).load_checkpoint(full)

    # the same checkpoint that fits: loaded, tested
    runner = tiny_runner(tmp_path, 'bad_input_24d', tiny_classifier(),
                         test=True, load_from=full)
    assert 'multi-label/mAP' in str(runner.test())
    assert torch.equal(runner.model.head.fc.weight, src.head.fc.weight)


def test_24_checkpoint_that_does_not_fit_refused_for_inference(tmp_path):
    from marl_mm.apis import MultiLabelInferencer
    from marl_mm.utils import CheckpointMismatchError
    cfg = Config.fromfile(str(REPO / 'configs' / 'resnet18_gap_shapes.py'))
    torch.manual_seed(0)
    state = MODELS.build(cfg.model).state_dict()
    path = tmp_path / 'no_head.pth'
    torch.save(dict(state_dict={k: v for k, v in state.items()
                                if not k.startswith('head.')}), path)
    with pytest.raises(CheckpointMismatchError,
                       match=f"checkpoint '{path}' does not fit .* missing "
                       'from the checkpoint: head.fc.weight, head.fc.bias'):
        MultiLabelInferencer(cfg, pretrained=str(path))


def test_24_partial_load_from_in_training_logged_at_warning(tmp_path):
    """load_from in training: a backbone-only checkpoint loads, the keys left
    initialised go to the log at WARNING; a size mismatch still raises."""
    from marl_mm.utils import CheckpointMismatchError
    src, full, partial = _checkpoints(tmp_path)
    dst = tiny_classifier(num_classes=4)
    torch.manual_seed(1)
    dst.head.fc.reset_parameters()
    head_before = dst.head.fc.weight.clone()
    runner = tiny_runner(tmp_path, 'bad_input_24e', dst)
    runner._train_loop = runner.build_train_loop(runner._train_loop)
    with LogRecords() as log:  # what Runner.train does with load_from
        runner.load_checkpoint(partial)
    warnings = [r.getMessage() for r in log.records
                if r.levelno == logging.WARNING]
    assert any(f"checkpoint '{partial}' loaded into ImageClassifier "
               '(partial): 2 model weight(s) not in the checkpoint, left as '
               'initialised: head.fc.weight, head.fc.bias' in w
               for w in warnings), log.text
    assert torch.equal(dst.backbone.conv1.weight, src.backbone.conv1.weight)
    assert torch.equal(dst.head.fc.weight, head_before)  # initialised

    other = tiny_runner(tmp_path, 'bad_input_24f',
                        tiny_classifier(num_classes=80))
    other._train_loop = other.build_train_loop(other._train_loop)
    with pytest.raises(CheckpointMismatchError, match='size mismatch'):
        other.load_checkpoint(full)
