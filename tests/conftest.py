"""Shared pytest fixtures, paths and helpers.

Test modules import the helpers as ``from tests_conftest import ...``:
pytest imports every ``conftest.py`` of this tree under the one module name
``conftest`` (there is a second one in ``tests/test_evaluation``), so
``from conftest import ...`` would reach whichever was imported last; this
module also registers itself as ``tests_conftest``.
"""
import importlib.util
import json
import logging
import sys
from pathlib import Path
from types import ModuleType
from typing import Optional, Sequence, Union

import numpy as np
import pytest
import torch
from mmengine.logging import MMLogger

REPO_ROOT = Path(__file__).resolve().parents[1]
CONFIG_DIR = REPO_ROOT / 'configs'
#: the team's real-data folder, beside the checkout (absent on a user's clone)
SHARED_DATA = REPO_ROOT.parent / 'shared' / 'data'

sys.modules.setdefault('tests_conftest', sys.modules[__name__])


def load_tool(path: Union[str, Path], name: Optional[str] = None
              ) -> ModuleType:
    """Import a script of the repository (``tools/...``, ``demo/...``,
    ``setup.py``) from its file, as a module.

    Args:
        path: the file, relative to the repository root or absolute.
        name: the module's name (default ``_tool_<file stem>``).

    Returns:
        ModuleType: the executed module (its ``__main__`` block not run).
    """
    path = Path(path)
    if not path.is_absolute():
        path = REPO_ROOT / path
    if not path.is_file():
        raise FileNotFoundError(f'load_tool: {path} not found')
    spec = importlib.util.spec_from_file_location(
        name or f'_tool_{path.stem}', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(autouse=True)
def _few_threads():
    """Keep tests predictable on small CI machines."""
    old = torch.get_num_threads()
    torch.set_num_threads(min(old, 2))
    yield
    torch.set_num_threads(old)


class WritesFileWhenUnpickled:
    """A pickle payload: unpickling it calls ``open(path, 'w')`` (pickled as
    ``io.open``) and so creates ``path`` - what the safe loaders must refuse
    and an unrestricted load runs."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, 'w'))


@pytest.fixture
def file_payload():
    """``file_payload(path)``: a :class:`WritesFileWhenUnpickled`."""
    return WritesFileWhenUnpickled


def assert_drawing_of(drawn_hw, image_hw, min_side: int = 256) -> None:
    """A GlimpseVisualizer drawing of an ``image_hw`` image: the image,
    enlarged by an integer factor to a short side >= ``min_side``, as wide
    as the drawing (one panel) or narrower (a RARNN grid), with the header
    and legend margins above and below it.

    Args:
        drawn_hw (tuple): ``(height, width)`` of the drawing.
        image_hw (tuple): ``(height, width)`` of the drawn image.
        min_side (int): The visualiser's ``min_side``.
    """
    up = max(1, -(-min_side // min(image_hw)))
    h, w = image_hw[0] * up, image_hw[1] * up
    assert drawn_hw[1] >= w and drawn_hw[0] > h, (drawn_hw, image_hw)


def rgb_image(h: int = 24, w: int = 32, seed: int = 0) -> np.ndarray:
    """A seeded random ``(h, w, 3)`` uint8 image."""
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), np.uint8)


class LogRecords(logging.Handler):
    """``with LogRecords() as log:`` collects the current MMLogger's
    records (``log.records``), their messages (``log.messages``) and the
    messages joined by newlines (``log.text``)."""

    def __enter__(self):
        self.messages, self.records = [], []
        self.logger = MMLogger.get_current_instance()
        self.logger.addHandler(self)
        return self

    def emit(self, record):
        self.messages.append(record.getMessage())
        self.records.append(record)

    def __exit__(self, *exc):
        self.logger.removeHandler(self)

    @property
    def text(self) -> str:
        return '\n'.join(self.messages)


def json_dataset(root: Path, data_list: list,
                 classes: Sequence[str] = ('a', 'b', 'c', 'd'),
                 **kwargs) -> dict:
    """Write ``root/ann.json`` (mmengine's list format) and return the
    dataset arguments that read it."""
    (root / 'ann.json').write_text(json.dumps(
        dict(metainfo=dict(classes=list(classes)), data_list=data_list)))
    return dict(data_root=str(root), ann_file='ann.json', **kwargs)


def tiny_classifier(num_classes: int = 4, depth: int = 18):
    """A seeded ResNet ``ImageClassifier`` with 8 base channels and a
    multi-label linear head (GAP)."""
    from mmpretrain.registry import MODELS
    torch.manual_seed(0)
    return MODELS.build(dict(
        type='ImageClassifier',
        data_preprocessor=dict(type='ClsDataPreprocessor',
                               num_classes=num_classes, to_onehot=True,
                               mean=[128.] * 3, std=[64.] * 3),
        backbone=dict(type='ResNet', depth=depth, stem_channels=8,
                      base_channels=8, out_indices=(3, )),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='MultiLabelLinearClsHead', num_classes=num_classes,
                  in_channels=64)))


def tiny_runner(tmp_path: Path, name: str, model,
                classes: Sequence[str] = ('a', 'b', 'c', 'd'),
                val_classes: Optional[Sequence[str]] = None,
                hooks: Sequence[str] = (), test: bool = False,
                load_from: Optional[str] = None):
    """A one-iteration ``MarlRunner`` on 4 random 16 px images written to
    ``tmp_path`` (labels ``i % len(classes)``); optional validation data
    naming ``val_classes``, test data, custom hooks by type and
    ``load_from``."""
    import cv2

    from marl_mm.engine import MarlRunner
    for i in range(4):
        cv2.imwrite(str(tmp_path / f'{i}.png'), rgb_image(16, 16, seed=i))
    data = [dict(img_path=f'{i}.png', gt_label=[i % len(classes)])
            for i in range(4)]
    pipeline = [dict(type='CheckedLoadImageFromFile'),
                dict(type='PackInputs')]

    def loader(cls, file):
        (tmp_path / file).write_text(json.dumps(dict(
            metainfo=dict(classes=list(cls)), data_list=data)))
        return dict(batch_size=2, num_workers=0,
                    sampler=dict(type='DefaultSampler', shuffle=False),
                    dataset=dict(type='CheckedMultiLabelDataset',
                                 data_root=str(tmp_path), ann_file=file,
                                 pipeline=pipeline))

    val = {}
    if val_classes is not None:
        val = dict(val_dataloader=loader(val_classes, 'val.json'),
                   val_cfg=dict(),
                   val_evaluator=dict(type='MultiLabelAP'))
    if test:
        val.update(test_dataloader=loader(classes, 'test.json'),
                   test_cfg=dict(), test_evaluator=dict(type='MultiLabelAP'))
    return MarlRunner(  # what marl_mm configs build (runner_type)
        model=model, work_dir=str(tmp_path / 'work'),
        experiment_name=name,
        train_dataloader=loader(classes, 'train.json'),
        train_cfg=dict(type='IterBasedTrainLoop', max_iters=1,
                       val_interval=1),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01)),
        default_hooks=dict(checkpoint=None, logger=None),
        custom_hooks=[dict(type=h) for h in hooks],
        default_scope='mmpretrain', randomness=dict(seed=0),
        load_from=load_from, **val)
