"""``MarlRunner``: mmengine's ``Runner`` with marl_mm's checkpoint handling.

Chosen with ``runner_type='MarlRunner'`` (``configs/_base_/default_runtime.py``
sets it; ``tools/train.py`` / ``tools/test.py`` build through
``mmengine.registry.RUNNERS`` when a config has ``runner_type``, as
mmpretrain's tools do). A plain ``Runner`` in the same process is untouched.
Two methods differ from mmengine 0.10.7's:

* :meth:`MarlRunner.load_checkpoint` (``load_from``, ``--resume``,
  ``Runner.test`` / ``Runner.val``) reads the file with
  :func:`marl_mm.utils.load_checkpoint_safe` (``weights_only=True`` and the
  allowlist, for every scheme: local, ``http(s)://``, ``torchvision://``,
  ``open-mmlab://``, ``mmcls://``, ``s3://`` ...) and loads the weights with
  :func:`marl_mm.utils.load_state_dict_checked`: ``'partial'`` for
  ``load_from`` while training, ``'exact'`` for testing and resuming,
  ``'strict'`` when ``strict=True`` is asked for (see
  :mod:`marl_mm.utils.checkpoint`).
* :meth:`MarlRunner.load_or_resume` finds the checkpoint of an automatic
  ``--resume`` with :func:`marl_mm.utils.find_latest_complete_checkpoint`:
  the newest usable one, never training from scratch over one it cannot
  read.

:meth:`MarlRunner.from_cfg` first gives a top-level ``num_classes`` to the
head and the data preprocessor (:func:`marl_mm.utils.apply_num_classes`): a
derived config sets the number of classes once.
"""
import copy
from typing import Callable, List, Tuple, Union

from mmengine.config import Config
from mmengine.model import is_model_wrapper
from mmengine.registry import RUNNERS
from mmengine.runner import BaseLoop, Runner

from ..utils.checkpoint import (_revised_state_dict, load_checkpoint_safe,
                                load_state_dict_checked)
from ..utils.config import apply_num_classes
from ..utils.resume import find_latest_complete_checkpoint


@RUNNERS.register_module()
class MarlRunner(Runner):
    """mmengine's ``Runner`` with safe, checked checkpoint loading.

    Takes exactly ``Runner``'s arguments; see the module docstring for the
    two methods it overrides.
    """

    @classmethod
    def from_cfg(cls, cfg: Config) -> 'MarlRunner':
        """Build from a config whose top-level ``num_classes`` (if any) is
        first given to every ``num_classes`` of the model and the data
        preprocessor (:func:`marl_mm.utils.apply_num_classes`).

        Args:
            cfg (Config): The (merged) config; not changed (a copy is).

        Returns:
            MarlRunner: The built runner.
        """
        cfg = copy.deepcopy(cfg)
        apply_num_classes(cfg)
        return super().from_cfg(cfg)

    def load_checkpoint(self,
                        filename: str,
                        map_location: Union[str, Callable] = 'cpu',
                        strict: bool = False,
                        revise_keys: List[Tuple[str, str]] = [(r'^module.',
                                                               '')]
                        ) -> dict:
        """Read ``filename`` safely and load its weights, checked.

        As mmengine's (``after_load_checkpoint`` hooks first, then the
        weights), with the mode chosen from what the runner is doing.

        Args:
            filename (str): Path, URL or scheme name (``torchvision://...``).
            map_location (str or callable): As for :func:`torch.load`.
            strict (bool): The checkpoint's keys must be exactly the model's
                (mode ``'strict'``). Otherwise ``'partial'`` for
                ``load_from`` while training (the train loop is built, not
                resuming) and ``'exact'`` for testing and resuming.
            revise_keys (list): ``(pattern, replacement)`` applied to every
                key (default: strip a DDP ``module.`` prefix).

        Returns:
            dict: The loaded checkpoint.

        Raises:
            marl_mm.utils.UnsafeCheckpointError: The file needs a global
                outside the allowlist.
            marl_mm.utils.UnreadableCheckpointError: Empty, truncated or not
                a torch checkpoint.
            marl_mm.utils.CheckpointMismatchError: The weights do not fit
                the model in the chosen mode.
        """
        checkpoint = load_checkpoint_safe(filename, map_location=map_location)
        self.call_hook('after_load_checkpoint', checkpoint=checkpoint)
        training = isinstance(self._train_loop, BaseLoop)
        if strict:
            mode = 'strict'
        elif training and not self._resume:
            mode = 'partial'
        else:
            mode = 'exact'
        model = self.model.module if is_model_wrapper(
            self.model) else self.model
        load_state_dict_checked(
            model, _revised_state_dict(checkpoint, filename, revise_keys),
            filename, mode)
        self._has_loaded = True
        self.logger.info(f'Load checkpoint from {filename} ({mode})')
        return checkpoint

    def load_or_resume(self) -> None:
        """Load ``load_from``, or resume; an automatic resume uses
        :func:`marl_mm.utils.find_latest_complete_checkpoint`.

        Raises:
            marl_mm.utils.ResumeError: ``--resume`` found checkpoints in the
                work dir but none it can use.
        """
        if self._has_loaded:
            return None
        resume_from = None
        if self._resume and self._load_from is None:
            resume_from = find_latest_complete_checkpoint(self.work_dir)
            self.logger.info(
                f'Auto resumed from the latest checkpoint {resume_from}.')
        elif self._resume:
            resume_from = self._load_from
        if resume_from is not None:
            self.resume(resume_from)
            self._has_loaded = True
        elif self._load_from is not None:
            self.load_checkpoint(self._load_from)
            self._has_loaded = True


def build_runner(cfg: Config) -> Runner:
    """The runner a config asks for, as mmpretrain's ``tools/train.py``
    builds it: ``RUNNERS.build(cfg)`` when the config sets ``runner_type``
    (``MarlRunner`` in marl_mm configs), else a plain ``Runner``.

    Args:
        cfg (Config): The (merged) config.

    Returns:
        Runner: The built runner.
    """
    if 'runner_type' in cfg:
        return RUNNERS.build(cfg)
    return Runner.from_cfg(cfg)
