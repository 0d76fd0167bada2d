"""One ``num_classes`` per config.

mmengine resolves a config file's variables when that file is read, so a
derived config that sets only a top-level ``num_classes = 10`` leaves the
``num_classes=8`` its base wrote into the head and the data preprocessor.
:func:`apply_num_classes` makes the top-level value the one that counts:
:class:`marl_mm.engine.MarlRunner` (``runner_type='MarlRunner'``, every
marl_mm config; ``tools/train.py``, ``tools/test.py``, ``mim train``) and
:class:`marl_mm.apis.MultiLabelInferencer` call it on the loaded config.
"""
import copy
from typing import Any, List

from mmengine.logging import print_log

#: Top-level config entries whose ``num_classes`` keys follow the top-level
#: ``num_classes`` (the model, including its head and data preprocessor,
#: and the data preprocessor given beside the model).
NUM_CLASSES_SECTIONS = ('model', 'data_preprocessor')


def _set_num_classes(node: Any, value: int, path: str,
                     changed: List[str]) -> None:
    """Set every ``num_classes`` key under ``node`` to ``value``.

    Args:
        node (Any): A config dict, list or leaf.
        value (int): The number of classes.
        path (str): ``node``'s dotted path, for the report.
        changed (list): Receives ``'path (old -> new)'`` per changed key.
    """
    if isinstance(node, dict):
        for key in list(node.keys()):
            if key == 'num_classes':
                old = node[key]
                if old is not None and old != value:
                    node[key] = value
                    changed.append(f'{path}.{key} ({old} -> {value})')
            else:
                _set_num_classes(node[key], value, f'{path}.{key}', changed)
    elif isinstance(node, (list, tuple)):
        for i, item in enumerate(node):
            _set_num_classes(item, value, f'{path}[{i}]', changed)


def apply_num_classes(cfg) -> List[str]:
    """Give the config's top-level ``num_classes`` to every component.

    A config without a top-level ``num_classes`` is left as it is.

    Args:
        cfg (mmengine.Config or dict): A loaded config, changed in place.

    Returns:
        list[str]: The keys that were changed, as
        ``'model.head.num_classes (8 -> 10)'`` (empty if none).

    Raises:
        TypeError: The top-level ``num_classes`` is not a positive int.
    """
    value = cfg.get('num_classes', None)
    if value is None:
        return []
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise TypeError(f'num_classes must be a positive int, got {value!r}')
    changed: List[str] = []
    for section in NUM_CLASSES_SECTIONS:
        if section in cfg:
            _set_num_classes(cfg[section], value, section, changed)
    if changed:
        print_log('num_classes = %d (top level of the config) applied to: %s'
                  % (value, ', '.join(changed)), logger='current')
    return changed


def runner_model_cfg(cfg):
    """The model config as mmengine's Runner builds it from ``cfg``.

    The Runner puts a top-level ``data_preprocessor`` into the model config
    when the model has none, and :class:`MarlRunner` applies the top-level
    ``num_classes`` (:func:`apply_num_classes`). Tools that build the model
    themselves (feature extraction, policy report, ``attach_backbone``) use
    this so that they normalise and count classes as training did.

    Args:
        cfg (mmengine.Config): A loaded config (not modified).

    Returns:
        ConfigDict: A copy of ``cfg.model``.
    """
    cfg = copy.deepcopy(cfg)  # Config.copy is shallow
    apply_num_classes(cfg)
    model = cfg.model.copy()
    if cfg.get('data_preprocessor') is not None:
        model.setdefault('data_preprocessor', cfg.data_preprocessor)
    return model
