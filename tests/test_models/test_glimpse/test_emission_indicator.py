"""Emission indicator (Li et al. 2018, Sec. 3.3)."""
import math

import pytest
import torch

import marl_mm  # noqa: F401
from marl_mm.models.glimpse import EmissionIndicator


def test_probabilities_log_prob_and_entropy_by_hand():
    ind = EmissionIndicator(in_channels=2, bias_init=0.5)
    with torch.no_grad():
        ind.fc.weight.copy_(torch.tensor([[1., -2.]]))
    x = torch.tensor([[[1., 0.], [0., 1.]]])  # (1, T=2, 2)
    logits = ind(x)
    torch.testing.assert_close(logits, torch.tensor([[1.5, -1.5]]))
    p = 1 / (1 + math.exp(-1.5))
    e = torch.tensor([[True, True]])
    expected = math.log(p) + math.log(1 - p)
    assert abs(EmissionIndicator.log_prob(logits, e).item() - expected) < 1e-6
    h = -(p * math.log(p) + (1 - p) * math.log(1 - p))
    torch.testing.assert_close(EmissionIndicator.entropy(logits),
                               torch.tensor([[h, h]]))


def test_greedy_emits_above_half_or_the_argmax():
    logits = torch.tensor([[-1., 2., 0.5], [-3., -0.5, -2.]])
    e = EmissionIndicator.greedy(logits)
    assert e.tolist() == [[False, True, True], [False, True, False]]


def test_samples_are_folded_image_major():
    logits = torch.tensor([[30., -30., 30.], [-30., 30., -30.]])
    e = EmissionIndicator.sample(logits, 3)
    assert e.shape == (6, 3)
    assert e[:3].tolist() == [[True, False, True]] * 3
    assert e[3:].tolist() == [[False, True, False]] * 3
    torch.manual_seed(0)
    freq = EmissionIndicator.sample(torch.zeros(1, 4), 2000).float().mean()
    assert abs(freq.item() - 0.5) < 0.02


def test_detached_input_by_default():
    ind = EmissionIndicator(in_channels=3)
    x = torch.randn(2, 4, 3, requires_grad=True)
    ind(x).sum().backward()
    assert x.grad is None
    ind = EmissionIndicator(in_channels=3, detach_input=False)
    ind(x).sum().backward()
    assert x.grad is not None


def test_float32_probabilities_under_bf16_autocast():
    """Logits, log-probabilities and entropies are float32 under autocast
    and equal the float32 computation outside it."""
    torch.manual_seed(0)
    ind = EmissionIndicator(in_channels=32, weight_std=0.5)
    x = torch.randn(4, 5, 32)
    e = torch.rand(4, 5) > 0.5
    ref_logits = ind(x)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        logits = ind(x)
        log_pi = EmissionIndicator.log_prob(logits, e)
        ent = EmissionIndicator.entropy(logits)
        sample = EmissionIndicator.sample(logits, 2)
    assert logits.dtype == log_pi.dtype == ent.dtype == torch.float32
    assert sample.shape == (8, 5) and sample.dtype == torch.bool
    torch.testing.assert_close(logits, ref_logits, atol=1e-6, rtol=0)
    p = ref_logits.sigmoid()
    hand = torch.where(e, p.log(), (1 - p).log()).sum(-1)
    torch.testing.assert_close(log_pi, hand, atol=1e-5, rtol=0)
    torch.testing.assert_close(ent, -(p * p.log() + (1 - p) * (1 - p).log()),
                               atol=1e-6, rtol=0)



def test_score_dims_reads_the_log_probabilities_and_their_max():
    """p_t = sigmoid(FC([X_t, log P_t, max_c log P_t])), by hand; the
    scores are always detached, and required."""
    ind = EmissionIndicator(in_channels=2, score_dims=3, bias_init=0.25)
    assert ind.fc.in_features == 2 + 3 + 1
    w = torch.tensor([[1., -1., 0.5, 2., -3., 4.]])
    with torch.no_grad():
        ind.fc.weight.copy_(w)
    x = torch.tensor([[[1., 2.]]])  # (1, 1, 2)
    s = torch.tensor([[[-0.1, -2.5, -3.]]], requires_grad=True)
    # 1 - 2 + 0.5 * -0.1 + 2 * -2.5 - 3 * -3 + 4 * -0.1 + 0.25
    expected = 1 - 2 - 0.05 - 5 + 9 - 0.4 + 0.25
    out = ind(x, s)
    torch.testing.assert_close(out, torch.tensor([[expected]]))
    out.sum().backward()
    assert s.grad is None
    with pytest.raises(ValueError, match=r'score_dims=3 needs .*\(1, 1, 3\)'):
        ind(x)
    with pytest.raises(ValueError, match='got \\(1, 1, 2\\)'):
        ind(x, s[..., :2])
    with pytest.raises(ValueError, match='score_dims must be >= 0'):
        EmissionIndicator(score_dims=-1)
