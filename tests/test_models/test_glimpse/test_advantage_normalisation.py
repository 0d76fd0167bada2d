"""PolicyHeadMixin.normalise_advantage (both heads use it) against a hand
computation: 'std' and 'meanstd', masked entries, one entry."""
import pytest
import torch

from marl_mm.models.glimpse.policy_head_mixin import PolicyHeadMixin

norm = PolicyHeadMixin.normalise_advantage


def test_meanstd_and_std_by_hand():
    adv = torch.tensor([1., 3., -2., 100.])
    valid = torch.tensor([1., 1., 1., 0.])  # the last entry is ignored
    # mean of (1, 3, -2) = 2/3; biased variance = (1/9 + 49/9 + 64/9) / 3
    mean, std = 2 / 3, (114 / 27) ** 0.5
    out = norm(adv, 'meanstd', valid)
    torch.testing.assert_close(out, (adv - mean) / (std + 1e-6))
    out = norm(adv, 'std', valid)
    torch.testing.assert_close(out, adv / (std + 1e-6))
    assert norm(adv, 'none', valid) is adv


def test_broadcast_weight_and_single_entry():
    adv = torch.tensor([[1., 2.], [5., 7.]])
    w = torch.tensor([[1.], [0.]])  # only the first image's two steps
    out = norm(adv, 'meanstd', w)
    torch.testing.assert_close(out[0], torch.tensor([-1., 1.]) / (1 + 1e-6))
    one = torch.tensor([0.7])
    torch.testing.assert_close(norm(one, 'meanstd'), one)  # no spread
    with pytest.raises(ValueError, match='advantage_norm'):
        norm(adv, 'median')
