"""PolicyGradientHook: each behaviour changes what a toy policy head sees or
what the message hub logs, checked against hand-computed numbers."""
import math
import os
import socket
import uuid
from types import SimpleNamespace

import pytest
import torch
import torch.multiprocessing as mp
from mmengine.logging import MessageHub
from mmengine.model import BaseModel, BaseModule
from mmengine.registry import MODEL_WRAPPERS
from torch import nn
from torch.utils.data import Dataset

import marl_mm  # noqa: F401  (registers components)
from marl_mm.engine import MarlRunner
from marl_mm.engine.hooks import PolicyGradientHook
from marl_mm.engine.hooks.policy_gradient_hook import annealed_value
from marl_mm.models.glimpse import PolicyHeadMixin
from mmpretrain.registry import HOOKS


class ToyPolicyHead(BaseModule, PolicyHeadMixin):
    """Reward = the batch's input values; records what the hook wrote."""

    exploration_name = 'sigma'

    def __init__(self, exploration=0.11, baseline_mode='running_mean'):
        super().__init__()
        self._init_policy_state(exploration, baseline_mode)
        self.fc = nn.Linear(1, 1)
        self.seen = []  # (exploration, external_baseline, baseline_mode)
        self.warmup_seen = []  # policy_warmup at each loss call

    def loss(self, x):
        self.warmup_seen.append(self.policy_warmup)
        self.seen.append(
            (self.exploration, self.external_baseline, self.baseline_mode))
        base = (self.external_baseline if self.baseline_mode == 'running_mean'
                and self.external_baseline is not None else 0.)
        adv = x - base  # (B,)
        self._record_rl_stats(reward=x.mean(), advantage_abs=adv.abs().mean())
        return dict(loss=self.fc(x[:, None]).pow(2).mean())


class ToyModel(BaseModel):

    def __init__(self, num_heads=1, **head_kwargs):
        super().__init__()
        self.head = ToyPolicyHead(**head_kwargs)
        if num_heads == 2:
            self.aux = nn.ModuleDict(dict(policy=ToyPolicyHead(**head_kwargs)))

    def forward(self, inputs, data_samples=None, mode='loss'):
        losses = self.head.loss(inputs)
        if hasattr(self, 'aux'):
            aux = self.aux['policy'].loss(inputs * 2)
            losses['loss_aux'] = aux['loss']
        return losses


class NoPolicyModel(BaseModel):

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(1, 1)

    def forward(self, inputs, data_samples=None, mode='loss'):
        return dict(loss=self.fc(inputs[:, None]).pow(2).mean())


# batch size 2, no shuffling: batch rewards (means) 0.2, 0.6, 1.0, 0.4
VALUES = [0.1, 0.3, 0.5, 0.7, 0.9, 1.1, 0.3, 0.5]
BATCH_REWARDS = [0.2, 0.6, 1.0, 0.4]


class ValueDataset(Dataset):

    def __len__(self):
        return len(VALUES)

    def __getitem__(self, i):
        return dict(inputs=torch.tensor(VALUES[i]))


def _runner(tmp_path, hook_cfg, max_iters=4, model=None, **kwargs):
    return MarlRunner(  # what marl_mm configs build (runner_type)
        model=model if model is not None else ToyModel(),
        work_dir=str(tmp_path),
        experiment_name=f'pg_hook_{uuid.uuid4().hex}',
        train_dataloader=dict(
            dataset=ValueDataset(),
            sampler=dict(type='DefaultSampler', shuffle=False),
            collate_fn=dict(type='default_collate'),
            batch_size=2, num_workers=0),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01)),
        train_cfg=dict(by_epoch=False, max_iters=max_iters),
        custom_hooks=[dict(type='PolicyGradientHook', **hook_cfg)],
        default_hooks=dict(
            logger=dict(type='LoggerHook', interval=1),
            checkpoint=dict(type='CheckpointHook', interval=2,
                            by_epoch=False)),
        default_scope='mmpretrain',
        randomness=dict(seed=0),
        **kwargs)


def _mock_runner(model, it=0, epoch=0):
    hub = MessageHub.get_instance(f'pg_hook_{uuid.uuid4().hex}')
    return SimpleNamespace(model=model, message_hub=hub, iter=it, epoch=epoch)


def _history(runner, key):
    return runner.message_hub.get_scalar(key).data[0].tolist()


# ----------------------------------------------------------- exploration
def test_linear_schedule_values_reach_head(tmp_path):
    runner = _runner(tmp_path, dict(exploration_schedule=dict(
        type='linear', start=0.5, end=0.1, steps=4)), max_iters=6)
    runner.train()
    seen = [s[0] for s in runner.model.head.seen]
    # iters 0..5: 0.5 - 0.1 * iter, then held at `end`
    assert seen == pytest.approx([0.5, 0.4, 0.3, 0.2, 0.1, 0.1])
    assert _history(runner, 'train/rl/sigma') == pytest.approx(seen)


def test_cosine_schedule_with_begin():
    sched = dict(type='cosine', start=0.5, end=0.1, steps=4, begin=2,
                 by_epoch=False)
    head = ToyPolicyHead()
    model = nn.Sequential()
    model.head = head
    hook = PolicyGradientHook(exploration_schedule=sched)
    expected = {0: 0.5, 2: 0.5, 3: 0.1 + 0.2 * (1 + math.sqrt(0.5)),
                4: 0.3, 6: 0.1, 9: 0.1}
    for it, value in expected.items():
        runner = _mock_runner(model, it=it)
        hook.before_train_iter(runner, 0)
        assert head.exploration == pytest.approx(value)


def test_epoch_schedule_reads_epoch_not_iter():
    head = ToyPolicyHead()
    model = nn.Sequential()
    model.head = head
    hook = PolicyGradientHook(exploration_schedule=dict(
        start=0.3, end=0.1, steps=2, by_epoch=True))
    hook.before_train_iter(_mock_runner(model, it=1000, epoch=1), 0)
    assert head.exploration == pytest.approx(0.2)


def test_no_schedule_leaves_head_value(tmp_path):
    runner = _runner(tmp_path, dict(), max_iters=2,
                     model=ToyModel(exploration=0.11))
    runner.train()
    assert [s[0] for s in runner.model.head.seen] == [0.11, 0.11]


def test_annealed_value_constant():
    assert annealed_value(dict(type='constant', start=0.2, end=0.2, steps=1,
                               begin=0), 50) == 0.2


# --------------------------------------------------------------- baseline
@pytest.mark.parametrize('average,expected', [
    # EMA, m = 0.5, initialised with the first reward
    ('ema', [None, 0.2, 0.5 * 0.2 + 0.5 * 0.6, 0.5 * 0.4 + 0.5 * 1.0]),
    # cumulative mean of the rewards seen so far
    ('cumulative', [None, 0.2, (0.2 + 0.6) / 2, (0.2 + 0.6 + 1.0) / 3]),
])
def test_running_baseline_reaches_head(tmp_path, average, expected):
    runner = _runner(tmp_path, dict(baseline_average=average,
                                    baseline_momentum=0.5))
    runner.train()
    seen = [s[1] for s in runner.model.head.seen]
    assert seen[0] is None
    assert seen[1:] == pytest.approx(expected[1:])
    # the head subtracted it: |reward - b| per image, averaged
    adv = _history(runner, 'train/rl/advantage_abs')
    for it, b in enumerate(expected):
        x = torch.tensor(VALUES[2 * it:2 * it + 2])
        ref = (x - (b or 0.)).abs().mean().item()
        assert adv[it] == pytest.approx(ref, abs=1e-6)
    # after the last iteration the baseline includes reward 0.4
    final = (0.5 * expected[3] + 0.5 * 0.4 if average == 'ema' else
             (0.2 + 0.6 + 1.0 + 0.4) / 4)
    hook = runner._hooks[[type(h) for h in runner._hooks].index(
        PolicyGradientHook)]
    assert hook.baselines['head']['value'] == pytest.approx(final)
    assert hook.baselines['head']['count'] == 4


def test_switch_to_running_mean_and_learned_check():
    model = nn.Sequential()
    model.head = ToyPolicyHead(baseline_mode='none')
    hook = PolicyGradientHook(baseline='running_mean')
    hook.before_train(_mock_runner(model))
    assert model.head.baseline_mode == 'running_mean'
    with pytest.raises(ValueError, match="baseline_mode='learned'"):
        PolicyGradientHook(baseline='learned').before_train(
            _mock_runner(model))
    model.head.baseline_mode = 'learned'
    PolicyGradientHook(baseline='learned').before_train(_mock_runner(model))
    assert model.head.baseline_mode == 'learned'


# ------------------------------------------------------------ statistics
def test_stats_in_message_hub_and_log(tmp_path):
    runner = _runner(tmp_path, dict(baseline_momentum=0.))
    runner.train()
    assert _history(runner, 'train/rl/reward') == pytest.approx(
        BATCH_REWARDS)
    # momentum 0: the running baseline is the last reward
    assert _history(runner, 'train/rl/running_baseline') == pytest.approx(
        BATCH_REWARDS)
    log = open(runner.logger.handlers[-1].baseFilename).read()
    assert 'rl/reward: 0.4000' in log  # last iteration, via LoggerHook


def test_two_heads_get_their_own_names_and_baselines():
    model = ToyModel(num_heads=2)
    runner = _mock_runner(model)
    hook = PolicyGradientHook(baseline_momentum=0.)
    hook.before_train(runner)
    model(torch.tensor([0.1, 0.3]))
    hook.after_train_iter(runner, 0)
    hub = runner.message_hub
    assert hub.get_scalar('train/rl/head/reward').current() == \
        pytest.approx(0.2)
    assert hub.get_scalar('train/rl/aux.policy/reward').current() == \
        pytest.approx(0.4)
    hook.before_train_iter(runner, 1)
    assert model.aux['policy'].external_baseline == pytest.approx(0.4)
    assert model.head.external_baseline == pytest.approx(0.2)


def _ddp_worker(rank, port, queue):
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    torch.distributed.init_process_group('gloo', rank=rank, world_size=2)
    try:
        torch.set_num_threads(1)
        model = ToyModel()
        runner = _mock_runner(model)
        hook = PolicyGradientHook(baseline_momentum=0.5)
        hook.before_train(runner)
        # rank 0 sees rewards 0.2, rank 1 sees 0.6 in iteration 0
        model(torch.tensor([0.2, 0.2]) if rank == 0 else torch.tensor(
            [0.5, 0.7]))
        hook.after_train_iter(runner, 0)
        hook.before_train_iter(runner, 1)
        queue.put((rank, runner.message_hub.get_scalar(
            'train/rl/reward').current(), model.head.external_baseline))
    finally:
        torch.distributed.destroy_process_group()


def test_stats_and_baseline_averaged_across_ranks():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    ctx = mp.get_context('fork')  # no re-import: fast
    queue = ctx.Queue()
    mp.start_processes(_ddp_worker, args=(port, queue), nprocs=2,
                       start_method='fork', join=True)
    results = sorted(queue.get(timeout=60) for _ in range(2))
    for rank, reward, baseline in results:
        assert reward == pytest.approx(0.4)  # mean of 0.2 and 0.6
        assert baseline == pytest.approx(0.4)  # the same on every rank


# ------------------------------------------------------------ checkpoint
def test_state_dict_round_trip():
    model = nn.Sequential()
    model.head = ToyPolicyHead(exploration=0.3)
    runner = _mock_runner(model)
    hook = PolicyGradientHook()
    hook.before_train(runner)
    hook.baselines['head'] = {'value': 0.37, 'count': 5}
    ckpt = {}
    hook.before_save_checkpoint(runner, ckpt)
    assert ckpt['policy_gradient_hook'] == {
        'version': 1, 'baselines': {'head': {'value': 0.37, 'count': 5}},
        'exploration': {'head': 0.3}}

    fresh_model = nn.Sequential()
    fresh_model.head = ToyPolicyHead(exploration=0.11)
    fresh_runner = _mock_runner(fresh_model)
    fresh = PolicyGradientHook()
    fresh.after_load_checkpoint(fresh_runner, ckpt)  # before before_train
    fresh.before_train(fresh_runner)
    fresh.before_train_iter(fresh_runner, 0)
    assert fresh_model.head.external_baseline == pytest.approx(0.37)
    assert fresh_model.head.exploration == pytest.approx(0.3)
    assert fresh.baselines['head']['count'] == 5
    # a checkpoint from a run without the hook leaves the state alone
    fresh.after_load_checkpoint(fresh_runner, {})
    assert fresh.baselines['head']['value'] == pytest.approx(0.37)


def test_real_runner_resume_continues_baseline(tmp_path):
    full = _runner(tmp_path / 'full', dict(baseline_momentum=0.5))
    full.train()
    part = _runner(tmp_path / 'part', dict(baseline_momentum=0.5),
                   max_iters=2)
    part.train()
    ckpt = tmp_path / 'part' / 'iter_2.pth'
    saved = torch.load(ckpt, weights_only=False)['policy_gradient_hook']
    assert saved['baselines']['head'] == {'value': pytest.approx(0.4),
                                          'count': 2}
    resumed = _runner(tmp_path / 'resumed', dict(baseline_momentum=0.5),
                      resume=True, load_from=str(ckpt))
    resumed.train()
    seen = [s[1] for s in resumed.model.head.seen]
    full_seen = [s[1] for s in full.model.head.seen]
    assert len(seen) == 2  # iterations 2 and 3 only
    assert seen == pytest.approx(full_seen[2:])  # 0.4, then 0.7


# ---------------------------------------------------------------- warm-up
def test_warmup_flag_from_runner_iter(tmp_path):
    """warmup_iters=3 of 4 iterations: the head sees the flag set in
    iterations 0, 1, 2 and cleared in 3; cleared again after training."""
    runner = _runner(tmp_path, dict(warmup_iters=3))
    runner.train()
    assert runner.model.head.warmup_seen == [True, True, True, False]
    assert runner.model.head.policy_warmup is False
    default = _runner(tmp_path / 'default', {})
    default.train()
    assert default.model.head.warmup_seen == [False] * 4


def test_warmup_is_a_function_of_iter_not_of_history():
    """A hook that never ran before (a resumed process) starts at the right
    place: iteration 5 of warmup_iters=6 is in, 6 is out."""
    model = ToyModel(num_heads=2)
    hook = PolicyGradientHook(warmup_iters=6)
    for it, expected in ((5, True), (6, False), (0, True)):
        runner = _mock_runner(model, it=it)
        hook.before_train_iter(runner, it)
        assert model.head.policy_warmup is expected
        assert model.aux['policy'].policy_warmup is expected


def test_resume_inside_the_warmup(tmp_path):
    """Killed after iteration 2 (checkpoint iter_2.pth) of a 3-iteration
    warm-up, the resumed run is in the warm-up for iteration 2 only, as the
    uninterrupted one; nothing about the warm-up is in the checkpoint."""
    part = _runner(tmp_path / 'part', dict(warmup_iters=3), max_iters=2)
    part.train()
    ckpt = tmp_path / 'part' / 'iter_2.pth'
    saved = torch.load(ckpt, weights_only=False)
    assert not any('warm' in k or 'train_iters' in k
                   for k in saved['state_dict'])
    resumed = _runner(tmp_path / 'resumed', dict(warmup_iters=3),
                      resume=True, load_from=str(ckpt))
    resumed.train()
    assert resumed.model.head.warmup_seen == [True, False]


# ------------------------------------------------------ wrappers, errors
@MODEL_WRAPPERS.register_module(force=True)
class _FakeWrapperForPGHookTest(nn.Module):

    def __init__(self, module):
        super().__init__()
        self.module = module


def test_wrapped_model_is_unwrapped():
    model = ToyModel(exploration=0.2)
    wrapped = _FakeWrapperForPGHookTest(_FakeWrapperForPGHookTest(model))
    heads = PolicyGradientHook.find_policy_heads(wrapped)
    assert [(n, h) for n, h in heads] == [('head', model.head)]
    hook = PolicyGradientHook(exploration_schedule=dict(
        type='linear', start=0.4, end=0.2, steps=2))
    runner = _mock_runner(wrapped, it=1)
    hook.before_train(runner)
    hook.before_train_iter(runner, 1)
    assert model.head.exploration == pytest.approx(0.3)
    model(torch.tensor([0.3, 0.5]))
    hook.after_train_iter(runner, 1)
    assert runner.message_hub.get_scalar('train/rl/reward').current() == \
        pytest.approx(0.4)


def test_model_without_policy_head_raises():
    with pytest.raises(RuntimeError, match='NoPolicyModel.*PolicyHeadMixin'):
        PolicyGradientHook().before_train(_mock_runner(NoPolicyModel()))


def test_schedule_on_head_without_exploration_raises():
    model = nn.Sequential()
    model.head = ToyPolicyHead(exploration=None)
    hook = PolicyGradientHook(exploration_schedule=dict(
        start=0.2, end=0.1, steps=3))
    with pytest.raises(ValueError, match='no exploration parameter'):
        hook.before_train(_mock_runner(model))


@pytest.mark.parametrize('kwargs,error,match', [
    (dict(baseline='mean'), ValueError, 'baseline must be one of'),
    (dict(baseline_average='median'), ValueError, 'baseline_average'),
    (dict(baseline_momentum=1.0), ValueError, r'baseline_momentum.*\[0, 1\)'),
    (dict(baseline_momentum='0.9'), ValueError, 'baseline_momentum'),
    (dict(log_stats='yes'), TypeError, 'log_stats'),
    (dict(warmup_iters=-1), ValueError, 'warmup_iters must be an int >= 0'),
    (dict(warmup_iters=2.5), ValueError, 'warmup_iters'),
    (dict(warmup_iters=True), ValueError, 'warmup_iters'),
    (dict(exploration_schedule=0.1), TypeError, 'must be a dict'),
    (dict(exploration_schedule=dict(type='exp', start=1, end=0.1, steps=2)),
     ValueError, 'type must be one of'),
    (dict(exploration_schedule=dict(end=0.1, steps=2)), ValueError,
     "needs 'start'"),
    (dict(exploration_schedule=dict(start=0.1, steps=2)), ValueError,
     "needs 'end'"),
    (dict(exploration_schedule=dict(start=0.1, end=0., steps=2)), ValueError,
     r'end must be a number > 0'),
    (dict(exploration_schedule=dict(start=0.1, end=0.05, steps=0)),
     ValueError, r'steps must be an int >= 1'),
    (dict(exploration_schedule=dict(start=0.1, end=0.05, steps=2,
                                    begin=-1)), ValueError, 'begin'),
    (dict(exploration_schedule=dict(start=0.1, end=0.05, steps=2,
                                    iters=3)), ValueError, 'unknown keys'),
])
def test_bad_args_raise(kwargs, error, match):
    with pytest.raises(error, match=match):
        PolicyGradientHook(**kwargs)


def test_built_from_registry():
    hook = HOOKS.build(dict(type='PolicyGradientHook', baseline='none'))
    assert isinstance(hook, PolicyGradientHook) and hook.baseline == 'none'


# ------------------------------------------------- with the real RARL head
def test_with_lstm_glimpse_head():
    from mmpretrain.registry import MODELS
    from mmpretrain.structures import DataSample
    torch.manual_seed(0)
    head = MODELS.build(dict(
        type='LSTMGlimpseHead', num_classes=3, in_channels=4, feat_stride=4.,
        num_steps=2, anchor_sizes=(8., ), anchor_ratios=(1., ), roi_size=2,
        embed_dims=8, hidden_dims=8, baseline=dict(mode='running_mean')))
    model = nn.Sequential()
    model.head = head
    hook = PolicyGradientHook(
        exploration_schedule=dict(start=0.3, end=0.1, steps=2),
        baseline_momentum=0.5)
    runner = _mock_runner(model)
    hook.before_train(runner)
    feats = (torch.randn(4, 4, 6, 6), )
    samples = [DataSample().set_gt_label(lbl)
               for lbl in ([0], [1, 2], [2], [0, 1])]
    rewards = []
    for it in range(2):
        runner.iter = it
        hook.before_train_iter(runner, it)
        assert head.exploration == pytest.approx(0.3 - 0.1 * it)
        if it == 1:  # the running mean of iteration 0 reached the head
            assert head.external_baseline == pytest.approx(rewards[0])
        head.loss(feats, samples)
        rewards.append(head.rl_stats['reward'].item())
        hook.after_train_iter(runner, it)
    hub = runner.message_hub
    assert _history(runner, 'train/rl/reward') == pytest.approx(rewards)
    assert _history(runner, 'train/rl/sigma') == pytest.approx([0.3, 0.2])
    assert hub.get_scalar('train/rl/loc_spread').current() == pytest.approx(
        head.rl_stats['loc_spread'].item())
    assert hook.baselines['head']['value'] == pytest.approx(
        0.5 * rewards[0] + 0.5 * rewards[1])
