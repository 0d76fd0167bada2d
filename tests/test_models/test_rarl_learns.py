"""RARL's MAIN model (Ours-C: the LSTM drives localisation and
classification, the head options of ``configs/rarl_vgg16_voc07.py``) learns
its location policy from random init (docs/method.md, Known pitfalls): on a
synthetic task where one small object's class can only be read by a glimpse
that lands on it, the trained deterministic policy reaches a clearly higher
reward than the same model with random locations, looks at the object more
often, and its locations spread (not collapsed to a border).

Feature maps are built directly (an identity "backbone"): 16 x 16 cells,
channel 0 marks the object (a 2 x 2 blob, so the whole-image view at t = 0
shows WHERE it is), channel 1 + c carries its class c as a +-2 checkerboard
on the blob. The checkerboard averages out at the whole-image view's
resolution (a classifier on that view alone reaches about 0.5 accuracy, chance
0.25), while a glimpse resolves it; with a solid class blob the whole-image
view alone classifies 99% of the images and the policy has nothing to learn
(docs/rarl.md).

Only sizes are scaled to the 16 x 16 map and a 600-iteration run: T = 3
steps, anchors of one area (64^2 px; the main config's three ratios), 64-d
LSTM, sigma 0.22 (0.11 of the paper is ~1.5 cells on a 28-cell map; 0.22 is
~1.8 cells here), 100 warm-up iterations (the main
config's 500 are for 6260 iterations), Adam 3e-3 (the paper's 1e-5 fine-tunes
a pretrained VGG16). Every other head option is the main config's.
"""
from pathlib import Path

import torch
from mmengine.config import Config

import marl_mm  # noqa: F401
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

REPO_ROOT = Path(__file__).resolve().parents[2]
MAIN_CONFIG = REPO_ROOT / 'configs' / 'rarl_vgg16_voc07.py'
D, HW = 4, 16
SCALED = dict(num_classes=D, in_channels=D + 1, feat_stride=16, num_steps=3,
              anchor_sizes=(64., ), embed_dims=64,
              hidden_dims=64, baseline=dict(hidden_dims=32),
              policy=dict(sigma=0.22))
WARMUP_ITERS = 100  # PolicyGradientHook(warmup_iters=...), scaled


def _batch(n, g):
    x = 0.1 * torch.randn(n, D + 1, HW, HW, generator=g)
    pos = torch.randint(0, HW - 1, (n, 2), generator=g)  # top-left (row, col)
    cls = torch.randint(0, D, (n, ), generator=g)
    rows = torch.arange(HW)
    on_r = (rows[None] >= pos[:, :1]) & (rows[None] <= pos[:, :1] + 1)
    on_c = (rows[None] >= pos[:, 1:]) & (rows[None] <= pos[:, 1:] + 1)
    blob = (on_r[:, :, None] & on_c[:, None, :]).float()  # (n, HW, HW)
    parity = (rows[None, :, None] - pos[:, :1, None] + rows[None, None, :] -
              pos[:, None, 1:]) % 2  # (n, HW, HW)
    x[:, 0] += blob
    x[torch.arange(n), 1 + cls] += 2 * blob * (1 - 2 * parity)
    centre = ((pos.float() + 1) / HW * 2 - 1).flip(-1)  # (n, 2) as (x, y)
    return x, cls, centre


def _evaluate(head, x, cls, centre, mode):
    head.eval()
    with torch.no_grad():
        out = head.glimpse((x, ), mode)
    head.train()
    loc = out['locations']  # (n, T, 2)
    acc = (out['scores'].argmax(-1) == cls).float().mean().item()
    # a glimpse centre within 2 cells of the object's centre, in x and y
    on_object = ((loc - centre[:, None]).abs() * HW / 2 < 2).all(-1).any(-1)
    return dict(reward=acc, on_object=on_object.float().mean().item(),
                spread=loc.flatten(0, 1).std(0).mean().item(),
                mean=loc.flatten(0, 1).mean(0))


def _main_head_cfg():
    cfg = Config.fromfile(str(MAIN_CONFIG))
    head = cfg.model.head.to_dict()
    assert head['type'] == 'LSTMGlimpseHead'
    # the fix this test guards lives in the main config: the policy warm-up
    hooks = [h for h in cfg.custom_hooks if h.type == 'PolicyGradientHook']
    assert len(hooks) == 1 and hooks[0].get('warmup_iters', 0) > 0, hooks
    head.update(SCALED)
    return head


#: training seeds: the result of one 600-iteration run of REINFORCE hangs
#: on float rounding (issue 13: the same model with outputs equal to 6e-8
#: moved seed 0's margin from +0.10 to +0.05), so the claims are checked on
#: the mean over several runs
SEEDS = (0, 1, 2, 3, 4)


def _train_and_evaluate(seed):
    """``(untrained, policy, random)`` figures of one training run."""
    torch.manual_seed(seed)
    head = MODELS.build(_main_head_cfg())
    head.init_weights()
    assert head.classify_from == 'state' and head.use_lstm  # Ours-C
    optim = torch.optim.Adam(head.parameters(), lr=3e-3)
    g = torch.Generator().manual_seed(seed)
    x_eval, c_eval, ctr_eval = _batch(512, torch.Generator().manual_seed(1))
    untrained = _evaluate(head, x_eval, c_eval, ctr_eval, 'mean')
    head.train()
    for it in range(600):
        head.set_policy_warmup(it < WARMUP_ITERS)  # as the hook does
        x, c, _ = _batch(32, g)
        losses = head.loss((x, ), [DataSample().set_gt_label([int(k)])
                                   for k in c])
        optim.zero_grad()
        sum(v for k, v in losses.items() if 'loss' in k).backward()
        optim.step()
    policy = _evaluate(head, x_eval, c_eval, ctr_eval, 'mean')
    torch.manual_seed(2)
    random = _evaluate(head, x_eval, c_eval, ctr_eval, 'random')
    return untrained, policy, random


def _mean(runs):
    return {k: sum(r[k] for r in runs) / len(runs) for k in runs[0]}


def test_main_model_policy_learns_to_look_at_the_object():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        runs = [_train_and_evaluate(seed) for seed in SEEDS]
    finally:
        torch.set_num_threads(threads)
    for untrained, _, _ in runs:  # zero-initialised: all at the centre
        assert untrained['spread'] < 1e-6
    policy = _mean([p for _, p, _ in runs])
    random = _mean([r for _, _, r in runs])
    # measured (docs/rarl.md): reward 0.59 vs 0.50 with random locations
    # (seeds 1-3: +0.08 to +0.11), on the object 28% vs 16%, spread 0.57;
    # the means over SEEDS (issue 13): reward 0.57 vs 0.49 (+0.086), on the
    # object 27% vs 16%, spread 0.44 before the change, and +0.093, 27%,
    # 0.40 after it
    assert policy['reward'] > random['reward'] + 0.06, (policy, random)
    assert policy['reward'] > 0.25 + 0.25, policy  # chance: 1 of 4 classes
    assert policy['on_object'] > 1.4 * random['on_object'], (policy, random)
    assert policy['spread'] > 0.25, policy
    assert policy['mean'].abs().max() < 0.5, policy  # not at a border
