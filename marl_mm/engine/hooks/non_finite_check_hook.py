"""Stop training at the first NaN / inf loss, reward or advantage.

A non-finite loss term (from NaN or inf features, a reward or an advantage
of a REINFORCE head, a bad image normalisation, an exploding policy, ...)
otherwise turns every weight into NaN within one optimizer step and the run
goes on, logging ``nan`` and writing checkpoints of NaN weights. Behaviour
chosen here: training STOPS with a ``FloatingPointError`` naming the
iteration, the term, its value and the images of the batch (not "skip the
step": a silent skip hides a data or model bug, and the optimizer state
would already be touched by other terms).
"""
import math
from typing import Dict, Optional, Sequence

import torch
from mmengine.dist import all_reduce, get_rank, get_world_size
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from mmpretrain.registry import HOOKS

DATA_BATCH = Optional[dict]


@HOOKS.register_module()
class NonFiniteCheckHook(Hook):
    """Raise ``FloatingPointError`` when a logged value is NaN or inf.

    After each training iteration it reads the model's ``log_vars`` (the
    ``outputs`` of ``train_step``: ``loss``, every ``loss_*`` term, and the
    plain logged values such as RARNN's ``reward`` / ``adv_abs``) and, where
    the head is a policy head (:class:`PolicyHeadMixin`), its ``rl_stats``
    (``reward``, ``advantage_abs``, ``entropy``, ...). The first non-finite
    one raises. In validation / test (``check_predictions=True``), every
    ``pred_score`` must be finite as well, so NaN never reaches a metric.

    The optimizer step of the failing iteration has already run (mmengine
    calls ``after_train_iter`` after it), so the weights in memory are
    suspect; with ``priority='VERY_HIGH'`` (default) the hook raises before
    the ``CheckpointHook`` (``VERY_LOW``) of that iteration, so no checkpoint
    holds them and the last saved checkpoint is clean.

    In distributed training the ranks agree (one ``all_reduce`` of a flag
    per iteration), so all of them stop at the same iteration; the rank
    that saw the value names it.

    Args:
        check_predictions: also check ``pred_score`` in val / test
            (default True).
        max_images: how many image paths of the batch the error lists.
    """

    priority = 'VERY_HIGH'

    def __init__(self, check_predictions: bool = True,
                 max_images: int = 4) -> None:
        if not isinstance(max_images, int) or max_images < 0:
            raise ValueError('NonFiniteCheckHook: max_images must be an int '
                             f'>= 0, got {max_images!r}')
        self.check_predictions = bool(check_predictions)
        self.max_images = max_images

    def after_train_iter(self, runner, batch_idx: int,
                         data_batch: DATA_BATCH = None,
                         outputs: Optional[dict] = None) -> None:
        """Check ``outputs`` (log_vars) and the head's ``rl_stats``."""
        values = dict(outputs or {})
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        head = getattr(model, 'head', None)
        rl_stats = getattr(head, 'rl_stats', None) or {}
        values.update({f'rl_stats.{k}': v for k, v in rl_stats.items()})
        bad = _first_non_finite(values)
        where = (f'NonFiniteCheckHook: training iteration {runner.iter + 1} '
                 f'(epoch {runner.epoch + 1}, batch {batch_idx})')
        if get_world_size() > 1:  # every rank stops at the same iteration
            flag = torch.tensor([0. if bad is None else 1.])
            all_reduce(flag, op='sum')
            if bad is None and float(flag) > 0:
                raise FloatingPointError(
                    f'{where}: a NaN / inf value on {int(flag)} other '
                    f'rank(s) (this is rank {get_rank()}); see their error')
        if bad is None:
            return
        name, value = bad
        raise FloatingPointError(
            f'{where}: {name} is {value}. Training stopped; the weights of '
            'this iteration were not saved. Batch images: '
            f'{_image_paths(data_batch, self.max_images)}')

    def after_val_iter(self, runner, batch_idx: int,
                       data_batch: DATA_BATCH = None,
                       outputs: Optional[Sequence] = None) -> None:
        """Check ``pred_score`` of the validation predictions."""
        self._check_predictions('validation', batch_idx, outputs)

    def after_test_iter(self, runner, batch_idx: int,
                        data_batch: DATA_BATCH = None,
                        outputs: Optional[Sequence] = None) -> None:
        """Check ``pred_score`` of the test predictions."""
        self._check_predictions('test', batch_idx, outputs)

    def _check_predictions(self, mode: str, batch_idx: int,
                           outputs: Optional[Sequence]) -> None:
        if not self.check_predictions or not outputs:
            return
        for sample in outputs:
            score = sample.get('pred_score') if hasattr(sample, 'get') \
                else None
            if score is None or not torch.is_tensor(score):
                continue
            if not bool(torch.isfinite(score).all()):
                raise FloatingPointError(
                    f'NonFiniteCheckHook: {mode} batch {batch_idx}: '
                    f"pred_score of {sample.get('img_path', '?')} holds "
                    'NaN or inf; expected probabilities')


def _first_non_finite(values: Dict[str, object]):
    """``(name, value)`` of the first NaN / inf entry, else ``None``.

    The total ``loss`` is checked last, so the error names the term.
    """
    names = [k for k in values if k != 'loss'] + \
        [k for k in values if k == 'loss']
    for name in names:
        value = values[name]
        if torch.is_tensor(value):
            if value.is_floating_point() and \
                    not bool(torch.isfinite(value).all()):
                return name, value.detach().cpu().tolist()
        elif isinstance(value, float) and not math.isfinite(value):
            return name, value
    return None


def _image_paths(data_batch: DATA_BATCH, max_images: int) -> list:
    """The first ``max_images`` ``img_path`` of the batch's data samples."""
    samples = (data_batch or {}).get('data_samples') or []
    paths = [s.get('img_path', '?') for s in samples[:max_images]
             if hasattr(s, 'get')]
    if len(samples) > max_images:
        paths.append(f'... ({len(samples)} in all)')
    return paths
