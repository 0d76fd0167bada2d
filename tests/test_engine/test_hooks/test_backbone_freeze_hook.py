"""BackboneFreezeHook in a real (tiny) Runner, freeze_epochs=1.

Epoch 1: every backbone parameter has ``requires_grad=False`` and no
gradient, the backbone is in eval mode at every iteration, and its weights
and BatchNorm running statistics end the epoch bit-identical to where they
started (the head does train). Epoch 2: trainable, in training mode, and
both change. Resumed from ``epoch_1.pth`` the hook unfreezes at once and the
run ends bit-identical to the uninterrupted one; with ``freeze_epochs=2`` the
resumed epoch 2 stays frozen.
"""
import torch
from mmengine.dataset import BaseDataset
from mmengine.hooks import Hook

import marl_mm  # noqa: F401
from marl_mm.engine import MarlRunner
from marl_mm.utils import safe_torch_load
from mmpretrain.registry import DATASETS, HOOKS
from mmpretrain.structures import DataSample

ITERS_PER_EPOCH = 2  # 4 images, batch 2
#: work_dir -> list of per-iteration observations
SEEN = {}


@DATASETS.register_module(force=True)
class _TinyImages(BaseDataset):
    """4 seeded random 16 x 16 images with one label each, in memory."""

    def __init__(self, **kwargs):
        g = torch.Generator().manual_seed(0)
        self.images = torch.randint(0, 256, (4, 3, 16, 16), dtype=torch.uint8,
                                    generator=g)
        super().__init__(serialize_data=False, **kwargs)

    def load_data_list(self):
        return [dict(index=i) for i in range(4)]

    def get_data_info(self, idx):
        return dict(index=idx)

    def prepare_data(self, idx):
        return dict(inputs=self.images[idx],
                    data_samples=DataSample().set_gt_label([idx % 4]))


@HOOKS.register_module(force=True)
class _FreezeProbe(Hook):
    """What the model looks like at each training iteration."""

    priority = 'LOW'  # after BackboneFreezeHook (NORMAL)

    def before_train(self, runner):
        backbone = runner.model.backbone

        def grads_at_step(*_):  # grads are reset to None after each step
            SEEN[runner.work_dir][-1]['no_grad'] = {
                p.grad is None for p in backbone.parameters()}

        runner.optim_wrapper.optimizer.register_step_pre_hook(grads_at_step)

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        backbone = runner.model.backbone
        self._before = {k: v.clone() for k, v in
                        backbone.state_dict().items()}
        SEEN.setdefault(runner.work_dir, []).append(dict(
            epoch=runner.epoch + 1,
            requires_grad={p.requires_grad for p in backbone.parameters()},
            training={m.training for m in backbone.modules()},
            head_training=runner.model.head.training))

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        backbone = runner.model.backbone
        seen = SEEN[runner.work_dir][-1]
        after = backbone.state_dict()
        seen['changed'] = sorted(k for k, v in self._before.items()
                                 if not torch.equal(v, after[k]))


def _runner(tmp_path, name, freeze_epochs=1, resume=None):
    torch.manual_seed(0)
    loader = dict(batch_size=2, num_workers=0,
                  sampler=dict(type='DefaultSampler', shuffle=False),
                  dataset=dict(type='_TinyImages'))
    return MarlRunner(  # what marl_mm configs build (runner_type)
        model=dict(
            type='ImageClassifier',
            data_preprocessor=dict(type='ClsDataPreprocessor', num_classes=4,
                                   to_onehot=True, mean=[128.] * 3,
                                   std=[64.] * 3),
            backbone=dict(type='ResNet', depth=18, stem_channels=8,
                          base_channels=8, num_stages=2, strides=(1, 2),
                          dilations=(1, 1), out_indices=(1, )),
            neck=dict(type='GlobalAveragePooling'),
            head=dict(type='MultiLabelLinearClsHead', num_classes=4,
                      in_channels=16)),
        work_dir=str(tmp_path / name), experiment_name=name,
        train_dataloader=loader,
        train_cfg=dict(by_epoch=True, max_epochs=2),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1,
                                          momentum=0.9)),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=1),
                           logger=None),
        custom_hooks=[dict(type='BackboneFreezeHook',
                           freeze_epochs=freeze_epochs),
                      dict(type='_FreezeProbe')],
        default_scope='mmpretrain', randomness=dict(seed=0),
        resume=resume is not None, load_from=resume)


def _weights(runner):
    return {k: v.clone() for k, v in runner.model.state_dict().items()}


def test_frozen_in_epoch_1_trainable_in_epoch_2(tmp_path):
    runner = _runner(tmp_path, 'uninterrupted')
    runner.train()
    seen = SEEN[runner.work_dir]
    assert [s['epoch'] for s in seen] == [1, 1, 2, 2]
    for s in seen[:ITERS_PER_EPOCH]:  # epoch 1: frozen
        assert s['requires_grad'] == {False}
        assert s['training'] == {False}  # every backbone module in eval
        assert s['head_training']
        assert s['no_grad'] == {True}  # no backbone gradient at the step
        assert s['changed'] == []  # weights and BN statistics untouched
    for s in seen[ITERS_PER_EPOCH:]:  # epoch 2: fine-tuned
        assert s['requires_grad'] == {True}
        assert s['training'] == {True}
        assert s['no_grad'] == {False}
        assert 'conv1.weight' in s['changed']
        assert 'bn1.running_mean' in s['changed']  # BN in training mode


def test_resumed_from_epoch_1_unfreezes_and_matches(tmp_path):
    ref = _runner(tmp_path, 'ref')
    ref.train()
    expected = _weights(ref)

    resumed = _runner(tmp_path, 'resumed',
                      resume=str(tmp_path / 'ref' / 'epoch_1.pth'))
    resumed.train()
    seen = SEEN[resumed.work_dir]
    assert [s['epoch'] for s in seen] == [2, 2]  # only epoch 2 ran
    assert all(s['requires_grad'] == {True} and s['training'] == {True}
               for s in seen)
    got = _weights(resumed)
    assert [k for k in expected if not torch.equal(expected[k], got[k])] \
        == []

    # freeze_epochs=2: the resumed epoch 2 is still frozen
    frozen = _runner(tmp_path, 'resumed_frozen', freeze_epochs=2,
                     resume=str(tmp_path / 'ref' / 'epoch_1.pth'))
    before = {k: v.clone() for k, v in
              frozen.model.backbone.state_dict().items()}
    frozen.train()
    seen = SEEN[frozen.work_dir]
    assert [s['epoch'] for s in seen] == [2, 2]
    assert all(s['requires_grad'] == {False} and s['training'] == {False}
               and s['changed'] == [] for s in seen)
    ckpt_backbone = {k[len('backbone.'):]: v for k, v in safe_torch_load(
        str(tmp_path / 'ref' / 'epoch_1.pth'))['state_dict'].items()
        if k.startswith('backbone.')}
    after = frozen.model.backbone.state_dict()
    assert all(torch.equal(after[k], ckpt_backbone[k]) for k in after)
    assert before.keys() == after.keys()
