"""Eq. 6 of Li et al. 2018 (and the coverage reward) on hand-made cases."""
import math

import pytest
import torch

from marl_mm.models.glimpse import CoverageReward, EmissionReward


def _scores(labels, d=5):
    """One glimpse per label with its argmax at that label."""
    return torch.nn.functional.one_hot(torch.tensor(labels), d).float()[None]


def test_reward_cases():
    reward = EmissionReward()  # R_+ = 1, R_- = 0.1, R_e = 10
    gt = torch.tensor([[1., 0., 1., 0., 0.]])  # labels {0, 2}
    s = _scores([0, 2, 3, 0])
    # nothing emitted
    assert reward(s, torch.tensor([[0, 0, 0, 0]]).bool(), gt).item() == -10
    # all right (0 and 2), the duplicate 0 counts once
    r = reward(s, torch.tensor([[1, 1, 0, 1]]).bool(), gt)
    assert r.item() == pytest.approx(2.)
    # mixed: 0 right, 3 wrong
    r = reward(s, torch.tensor([[1, 0, 1, 0]]).bool(), gt)
    assert r.item() == pytest.approx(1 - 0.1)
    # everything: 2 right, 1 wrong
    r = reward(s, torch.ones(1, 4).bool(), gt)
    assert r.item() == pytest.approx(2 - 0.1)


def test_reward_batched_and_configurable():
    reward = EmissionReward(pos_reward=2., neg_penalty=0.5, empty_penalty=3.)
    s = torch.cat([_scores([1, 4]), _scores([1, 1])])
    gt = torch.tensor([[0., 1., 0., 0., 0.], [0., 0., 0., 0., 1.]])
    e = torch.tensor([[1, 1], [0, 0]]).bool()
    torch.testing.assert_close(reward(s, e, gt), torch.tensor([2 - 0.5, -3.]))
    with pytest.raises(ValueError, match='glimpse_scores'):
        reward(s[0], e, gt)


def test_emit_cost_per_glimpse():
    reward = EmissionReward(emit_cost=0.05)
    gt = torch.tensor([[1., 0., 1., 0., 0.]])  # labels {0, 2}
    s = _scores([0, 2, 3, 0])
    # all right with a duplicate: 2 - 3 * 0.05 (the duplicate now costs)
    r = reward(s, torch.tensor([[1, 1, 0, 1]]).bool(), gt)
    assert r.item() == pytest.approx(2 - 0.15)
    # the minimal set that finds both labels is the best emission
    best = reward(s, torch.tensor([[1, 1, 0, 0]]).bool(), gt).item()
    assert best == pytest.approx(2 - 0.1)
    assert best > reward(s, torch.ones(1, 4).bool(), gt).item()  # 1.7
    # nothing emitted is still -R_e (no cost to add)
    assert reward(s, torch.zeros(1, 4).bool(), gt).item() == -10
    with pytest.raises(ValueError, match='emit_cost'):
        EmissionReward(emit_cost=-1)


def test_marginal_reward_of_each_decision_by_hand():
    """R(e | e_t = 1) - R(e | e_t = 0), the other decisions fixed."""
    reward = EmissionReward(emit_cost=0.1)
    gt = torch.tensor([[1., 0., 1., 0., 0.]])  # labels {0, 2}
    s = _scores([0, 2, 3, 0])
    e = torch.tensor([[1, 0, 1, 0]]).bool()  # emits 0 (right), 3 (wrong)
    # t=0: without it only the wrong 3 -> (1 - .1 - .2) - (-.1 - .1)
    # t=1: adds the right 2 at cost .1; t=2: the wrong 3 costs .1 + .1
    # t=3: a second 0 adds only its cost
    expected = [(1 - .1 - .2) - (-.1 - .1), 1 - .1, -.1 - .1, -.1]
    got = reward.marginal(s, e, gt)
    torch.testing.assert_close(got, torch.tensor([expected]))
    # the only emitted glimpse: without it nothing is emitted (-R_e)
    e = torch.tensor([[0, 1, 0, 0]]).bool()
    assert reward.marginal(s, e, gt)[0, 1].item() == pytest.approx(
        1 - .1 + 10)
    # batched rows are independent
    two = reward.marginal(s.expand(2, -1, -1),
                          torch.tensor([[1, 0, 1, 0], [0, 1, 0, 0]]).bool(),
                          gt.expand(2, -1))
    torch.testing.assert_close(two[0], got[0])


def _bce_by_hand(p, y):
    return -sum(math.log(pc) if yc else math.log(1 - pc)
                for pc, yc in zip(p, y)) / len(y)


def test_coverage_reward_and_its_per_glimpse_credit_by_hand():
    """R = -BCE(category-wise max over the emitted glimpses) - emit_cost *
    N_e, mean over classes; marginal = R(e_t = 1) - R(e_t = 0)."""
    P = torch.tensor([[[0.7, 0.2, 0.1],    # label 0
                       [0.6, 0.3, 0.1],    # a weaker copy of it
                       [0.1, 0.1, 0.8]]])  # a wrong label
    y = torch.tensor([[1., 1., 0.]])
    fn = CoverageReward(emit_cost=0.05)
    emitted = torch.tensor([[True, True, False]])
    r = fn(P.log(), emitted, y)
    expected = -_bce_by_hand([0.7, 0.3, 0.1], [1, 1, 0]) - 2 * 0.05
    torch.testing.assert_close(r, torch.tensor([expected]))
    d = fn.marginal(P.log(), emitted, y)[0]
    # glimpse 0 sets the max of class 0 (0.7 against its copy's 0.6)
    d0 = (-_bce_by_hand([0.7, 0.3, 0.1], [1, 1, 0])
          + _bce_by_hand([0.6, 0.3, 0.1], [1, 1, 0]) - 0.05)
    # glimpse 1 sets class 1 (0.3 against 0.2); class 0 unchanged
    d1 = (-_bce_by_hand([0.7, 0.3, 0.1], [1, 1, 0])
          + _bce_by_hand([0.7, 0.2, 0.1], [1, 1, 0]) - 0.05)
    # glimpse 2 (not emitted) would raise the wrong class 2 to 0.8
    d2 = (-_bce_by_hand([0.7, 0.3, 0.8], [1, 1, 0])
          + _bce_by_hand([0.7, 0.3, 0.1], [1, 1, 0]) - 0.05)
    torch.testing.assert_close(d, torch.tensor([d0, d1, d2]))
    assert d0 > 0 and d1 > 0 and d2 < 0
    # an exact copy that sets no maximum earns nothing but its cost
    P2 = torch.cat([P[:, :1], P[:, :1]], 1)  # (1, 2, 3)
    both = torch.ones(1, 2, dtype=torch.bool)
    torch.testing.assert_close(
        CoverageReward().marginal(P2.log(), both, y),
        torch.zeros(1, 2))
    # the empty set reads every class at the floor
    none = torch.zeros(1, 3, dtype=torch.bool)
    torch.testing.assert_close(
        CoverageReward(floor=1e-2)(P.log(), none, y),
        torch.tensor([-_bce_by_hand([1e-2, 1e-2, 1e-2], [1, 1, 0])]))
    with pytest.raises(ValueError, match='floor must be in'):
        CoverageReward(floor=0.)
    with pytest.raises(ValueError, match='CoverageReward: expected'):
        fn(P.log(), emitted[:, :2], y)
