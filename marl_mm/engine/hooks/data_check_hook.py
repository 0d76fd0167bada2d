"""Check, before the first iteration, that the model and the data agree on
the classes.

A config whose ``num_classes`` disagrees with its dataset fails late and
obscurely (an index error inside ``label_to_onehot`` when the data has more
classes) or not at all (with fewer classes the extra outputs are trained as
always-absent and the metrics average over classes that do not exist).
"""
from typing import List, Optional, Tuple

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.runner import BaseLoop

from mmpretrain.registry import HOOKS


@HOOKS.register_module()
class DataCheckHook(Hook):
    """Raise ``ValueError`` in ``before_run`` on a class-count mismatch.

    Compares the number of classes of every built dataloader's dataset
    (``dataset.metainfo['classes']``; train, val and test, whichever the
    runner has built) with ``model.head.num_classes`` and
    ``model.data_preprocessor.num_classes`` (where set), and checks that
    the train, val and test datasets name the same classes in the same
    order (a permuted class list would evaluate the wrong outputs). The
    error names the config fields and both counts.

    Args:
        check_class_names: also require equal class names across the
            datasets (default True).
    """

    priority = 'VERY_HIGH'

    def __init__(self, check_class_names: bool = True) -> None:
        self.check_class_names = bool(check_class_names)

    def before_run(self, runner) -> None:
        """Check the built loops' datasets against the model."""
        datasets = _built_datasets(runner)
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        model_counts = [
            (field, n) for field, n in (
                ('model.head.num_classes',
                 getattr(getattr(model, 'head', None), 'num_classes', None)),
                ('model.data_preprocessor.num_classes',
                 getattr(getattr(model, 'data_preprocessor', None),
                         'num_classes', None)),
            ) if n is not None
        ]
        problems = []
        for field, dataset, classes in datasets:
            if classes is None:
                continue
            for model_field, n in model_counts:
                if n != len(classes):
                    problems.append(
                        f'{model_field} = {n}, but {field} '
                        f'({type(dataset).__name__}{_source(dataset)}) has '
                        f'{len(classes)} classes')
        if self.check_class_names:
            named = [(f, c) for f, _, c in datasets if c is not None]
            for field, classes in named[1:]:
                if tuple(classes) != tuple(named[0][1]):
                    diff = _first_diff(named[0][1], classes)
                    problems.append(
                        f'{field} names other classes (or another order) '
                        f'than {named[0][0]}: {diff}')
        if problems:
            raise ValueError(
                'DataCheckHook: the model and the data disagree on the '
                'classes:\n  ' + '\n  '.join(problems) +
                '\nSet num_classes in the model config (head and '
                'data_preprocessor) to the dataset\'s class count.')


def _built_datasets(runner) -> List[Tuple[str, object, Optional[tuple]]]:
    """``(field, dataset, classes)`` of the loops the runner has built."""
    out = []
    for split in ('train', 'val', 'test'):
        loop = getattr(runner, f'_{split}_loop', None)
        if not isinstance(loop, BaseLoop):  # not built (a dict or None)
            continue
        dataset = getattr(loop.dataloader, 'dataset', None)
        if dataset is None:
            continue
        classes = (getattr(dataset, 'metainfo', None) or {}).get('classes')
        out.append((f'{split}_dataloader.dataset', dataset,
                    None if classes is None else tuple(classes)))
    return out


def _source(dataset) -> str:
    ann_file = getattr(dataset, 'ann_file', '') or getattr(
        dataset, 'image_set_path', '')
    return f', {ann_file}' if ann_file else ''


def _first_diff(a, b) -> str:
    if len(a) != len(b):
        return f'{len(a)} vs {len(b)} classes'
    i = next(i for i, (x, y) in enumerate(zip(a, b)) if x != y)
    return f'index {i}: {a[i]!r} vs {b[i]!r}'
