"""RARNN's emission policy learns on a synthetic task (CPU, a few seconds).

Each image has 1-2 labels out of 20 and 8 candidate glimpses: one
informative glimpse per label (its feature peaks at the label's dimension)
and noise glimpses (high values on other dimensions, no label information).
The GRREHead is trained on these glimpse features directly. Its emission
probability of noise glimpses must drop, that of informative glimpses rise,
and the reward of Eq. 6 rise.

Settings: the head of the shipped RARNN configs
(``configs/_base_/models/rarnn_vgg16.py``: GRRE, K = 4, the paper's reward
R_+ = 1, R_- = 0.1, R_e = 10 plus a cost of 0.1 per emitted glimpse,
advantage normalisation, entropy bonus, learned value baseline) with sizes
scaled to the task. Without the cost per glimpse the same task drifts to
"emit all" (noise glimpses emitted with probability 0.78 -> 1.00; the
EmissionReward docstring): the GRRE lets a noise glimpse borrow a right label
from the others, and a wrong one costs only R_- once.
"""
from pathlib import Path

import pytest
import torch
from mmengine.config import Config

import marl_mm  # noqa: F401
from marl_mm.models.heads import GRREHead
from marl_mm.models.necks import GlimpseFeatures
from mmpretrain.structures import DataSample

D, T, C, B = 20, 8, 32, 32
REPO = Path(__file__).resolve().parents[2]


def _batch(g):
    """Glimpse features, multi-hot targets and the informative mask."""
    n_labels = torch.randint(1, 3, (B, ), generator=g)
    x = torch.rand(B, T, C, generator=g) * 0.5
    x[:, :, D:] += torch.rand(B, T, C - D, generator=g) * 1.5  # noise
    y = torch.zeros(B, D)
    informative = torch.zeros(B, T, dtype=torch.bool)
    for b in range(B):  # data generation, not the model: loops are fine
        labels = torch.randperm(D, generator=g)[:int(n_labels[b])]
        where = torch.randperm(T, generator=g)[:len(labels)]
        y[b, labels] = 1
        informative[b, where] = True
        x[b, where] = torch.rand(len(labels), C, generator=g) * 0.5
        x[b, where, labels] += 3.
    c = x + 0.1 * torch.randn(B, T, C, generator=g)
    return GlimpseFeatures(x=x, v=None, a=None, c=c), y, informative


@pytest.fixture
def one_thread():
    """One intra-op thread: tiny tensors run faster without contention on a
    shared CPU; the previous setting is restored afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_emission_policy_learns_to_drop_noise_glimpses(one_thread):
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    cfg = Config.fromfile(
        REPO / 'configs/_base_/models/rarnn_vgg16.py').model.head.to_dict()
    assert cfg.pop('type') == 'GRREHead' and cfg['relation'] == 'grre'
    cfg.update(num_classes=D, in_channels=C, context_channels=C,
               relation_channels=64)
    head = GRREHead(**cfg)
    head.init_weights()
    head.train()
    opt = torch.optim.Adam(head.parameters(), lr=1e-2)
    history = []
    for _ in range(300):
        feats, y, informative = _batch(g)
        samples = [DataSample().set_gt_score(row) for row in y]
        losses = head.loss(feats, samples)
        opt.zero_grad()
        sum(v for k, v in losses.items() if 'loss' in k).backward()
        opt.step()
        with torch.no_grad():
            p = head.emission(feats.x).sigmoid()
        history.append([losses['reward'].item(), p[informative].mean().item(),
                        p[~informative].mean().item()])
    first, last = (torch.tensor(history[:20]).mean(0),
                   torch.tensor(history[-50:]).mean(0))
    # measured (seed 0; mean of the first 20 -> last 50 steps): reward
    # -0.16 -> 0.97, p_info 0.49 -> 0.99, p_noise 0.44 -> 0.14
    assert last[0] > first[0] + 0.8, (first, last)
    assert last[1] > 0.9 and last[2] < 0.25, (first, last)
    assert last[2] < first[2] - 0.2, (first, last)
    # neither "emit nothing" nor "emit all" at test time: the informative
    # glimpses (1.5 of 8 per image) are emitted, the noise mostly not
    feats, y, informative = _batch(g)
    emitted = torch.stack([ds.emission_mask for ds in head.predict(feats)])
    match = (emitted == informative).float().mean()
    assert match > 0.9  # measured 0.98 (emission rate 0.21)
