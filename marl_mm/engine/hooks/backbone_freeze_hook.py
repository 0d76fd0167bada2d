"""Freeze the backbone for the first epochs, then fine-tune it (RARNN, Li et
al., ACM MM 2018, Sec. 4.1: "We fix VGG network at the beginning and
fine-tune it after 20 epochs with a relatively small learning rate 1e-5").

While ``runner.epoch < freeze_epochs`` the backbone's parameters have
``requires_grad = False`` (no backward pass through it, no gradient, so Adam
skips them: their ``.grad`` stays ``None``) and the backbone is kept in eval
mode (BatchNorm statistics and dropout frozen; the train loop calls
``model.train()`` after ``before_train_epoch``, so eval mode is re-applied
before every iteration). From epoch ``freeze_epochs`` on, both are undone.

Resume: the state is a function of ``runner.epoch`` only, recomputed in
``before_train_epoch``, so a run resumed at any epoch freezes or not exactly
as the uninterrupted run did; nothing is stored in the checkpoint.

Learning rate after unfreezing: the optimizer is built before this hook runs,
so the backbone's parameters are in it with the lr given by
``optim_wrapper.paramwise_cfg.custom_keys['backbone'].lr_mult`` times the
scheduled base lr. With RARNN's schedule (Adam 1e-3, ``MultiStepLR``
milestones [10, 20], gamma 0.1) the base lr is already 1e-5 at epoch 20, so
``lr_mult = 1`` gives the paper's fine-tuning lr of 1e-5 (and the head runs at
1e-5 too, continuing the staircase). Unfreezing at another epoch needs the
lr_mult that makes ``lr_mult * scheduled_lr = 1e-5``.

Distributed training: the model is wrapped in DDP before this hook freezes
anything, so DDP sees the backbone's parameters as "unused" while frozen and
needs ``model_wrapper_cfg=dict(type='MMDistributedDataParallel',
find_unused_parameters=True)`` (set in ``configs/_base_/schedules/
rarnn_adam.py``); :meth:`before_train` raises a clear error otherwise. The
gradients of the unfrozen backbone are then synchronised as usual.
Only epoch-based training is supported (the state is a function of epochs).
"""
from typing import Optional

import torch.nn as nn
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmengine.runner import IterBasedTrainLoop

from mmpretrain.registry import HOOKS


@HOOKS.register_module()
class BackboneFreezeHook(Hook):
    """Keep ``model.<module>`` frozen while ``runner.epoch < freeze_epochs``.

    Args:
        freeze_epochs: number of epochs with a frozen backbone (paper: 20);
            0 disables freezing.
        module: attribute path of the frozen sub-module of the (unwrapped)
            model (default 'backbone').
        eval_mode: also keep the frozen module in eval mode (default True).
    """

    priority = 'NORMAL'

    def __init__(self, freeze_epochs: int = 20, module: str = 'backbone',
                 eval_mode: bool = True) -> None:
        if not isinstance(freeze_epochs, int) or freeze_epochs < 0:
            raise ValueError('BackboneFreezeHook: freeze_epochs must be an '
                             f'int >= 0, got {freeze_epochs!r}')
        if not module:
            raise ValueError('BackboneFreezeHook: module must name a '
                             'sub-module, e.g. "backbone"')
        self.freeze_epochs = freeze_epochs
        self.module = module
        self.eval_mode = eval_mode
        self.frozen: Optional[bool] = None

    def _target(self, runner) -> nn.Module:
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        target = model
        for name in self.module.split('.'):
            if not hasattr(target, name):
                raise AttributeError(
                    f'BackboneFreezeHook: the model '
                    f'({type(model).__name__}) has no sub-module '
                    f'{self.module!r}')
            target = getattr(target, name)
        if not isinstance(target, nn.Module):
            raise TypeError(f'BackboneFreezeHook: model.{self.module} is a '
                            f'{type(target).__name__}, not an nn.Module')
        return target

    def set_frozen(self, runner, frozen: bool) -> None:
        """Freeze (``requires_grad=False``, eval) or unfreeze the module."""
        target = self._target(runner)
        for p in target.parameters():
            p.requires_grad_(not frozen)
        if frozen and self.eval_mode:
            target.eval()
        if frozen != self.frozen:
            print_log(
                f'BackboneFreezeHook: model.{self.module} '
                f'{"frozen" if frozen else "trainable"} from epoch '
                f'{runner.epoch} (freeze_epochs={self.freeze_epochs})',
                logger='current')
        self.frozen = frozen

    def before_train(self, runner) -> None:
        """Check the set-up and apply the state of the starting epoch."""
        if self.freeze_epochs == 0:
            return
        if isinstance(runner.train_loop, IterBasedTrainLoop):
            raise ValueError('BackboneFreezeHook counts epochs; it does not '
                             'support IterBasedTrainLoop (train_cfg.by_epoch'
                             '=False)')
        if is_model_wrapper(runner.model) and not getattr(
                runner.model, 'find_unused_parameters', True):
            raise RuntimeError(
                'BackboneFreezeHook: DDP needs find_unused_parameters=True '
                'while the backbone is frozen; add model_wrapper_cfg=dict('
                "type='MMDistributedDataParallel', "
                'find_unused_parameters=True) to the config')
        self.set_frozen(runner, runner.epoch < self.freeze_epochs)

    def before_train_epoch(self, runner) -> None:
        """Freeze or unfreeze from ``runner.epoch`` (resume-safe)."""
        if self.freeze_epochs > 0:
            self.set_frozen(runner, runner.epoch < self.freeze_epochs)

    def before_train_iter(self, runner, batch_idx: int,
                          data_batch=None) -> None:
        """Re-apply eval mode (``model.train()`` ran since the last call)."""
        if self.frozen and self.eval_mode:
            target = self._target(runner)
            if target.training:
                target.eval()
