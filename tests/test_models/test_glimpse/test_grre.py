"""GRRE (Li et al. 2018, Eqs. 7-8) against a hand-written loop over the
emitted glimpses, and masked batching against per-image computation."""
import pytest
import torch

import marl_mm  # noqa: F401
from marl_mm.models.glimpse import GRRE
from marl_mm.models.glimpse.grre import masked_softmax


def _reference(grre, xs):
    """Loop over i and k over the compact list of emitted glimpses."""
    W_hx, b_hx = grre.w_hx.weight, grre.w_hx.bias
    W_hf = grre.w_hf.weight
    w_zx, b_zx = grre.w_zx.weight[0], grre.w_zx.bias[0]
    w_zf = grre.w_zf.weight[0]
    n = len(xs)
    f = [torch.zeros(W_hf.shape[0]) for _ in range(n)]
    outs = []
    for i in range(n):
        others = [k for k in range(n) if k != i]
        if not others:
            outs.append(torch.zeros(W_hf.shape[0]))
            continue
        h = {k: torch.tanh(W_hx @ xs[k] + b_hx + W_hf @ f[k]) for k in others}
        logit = torch.stack([w_zx @ xs[k] + b_zx + w_zf @ f[k]
                             for k in others])
        z = torch.exp(logit) / torch.exp(logit).sum()
        new = list(f)
        for j, k in enumerate(others):
            new[k] = z[j] * h[k]
        f = new  # f_i keeps its previous value
        outs.append(sum(f[k] for k in others))
    return outs


@pytest.mark.parametrize('emitted', [[3], [1, 4], [0, 2, 3]])
def test_grre_matches_hand_loop(emitted):
    torch.manual_seed(len(emitted))
    grre = GRRE(in_channels=4, hidden_channels=3, init_std=0.5)
    with torch.no_grad():  # non-zero biases, so they are checked too
        grre.w_hx.bias.normal_()
        grre.w_zx.bias.normal_()
    x = torch.randn(1, 5, 4)
    mask = torch.zeros(1, 5, dtype=torch.bool)
    mask[0, emitted] = True
    out = grre(x, mask)
    ref = _reference(grre, [x[0, k] for k in emitted])
    for j, k in enumerate(emitted):
        torch.testing.assert_close(out[0, k], ref[j], rtol=1e-5, atol=1e-6)
    assert (out[0, ~mask[0]] == 0).all()
    if len(emitted) == 1:
        assert (out == 0).all()  # N_e = 1 -> O = 0


def test_masked_batch_equals_per_image():
    torch.manual_seed(0)
    grre = GRRE(in_channels=4, hidden_channels=3)
    x = torch.randn(4, 6, 4)
    mask = torch.tensor([[1, 0, 1, 1, 0, 0], [0, 0, 0, 0, 0, 1],
                         [1, 1, 1, 1, 1, 1], [0, 1, 0, 0, 1, 0]],
                        dtype=torch.bool)
    out = grre(x, mask)
    for b in range(4):
        alone = grre(x[b:b + 1], mask[b:b + 1])
        torch.testing.assert_close(out[b:b + 1], alone)
        compact = grre(x[b:b + 1, mask[b]],
                       torch.ones(1, int(mask[b].sum()), dtype=torch.bool))
        torch.testing.assert_close(out[b, mask[b]], compact[0])
        # changing a non-emitted glimpse changes nothing
        x2 = x[b:b + 1].clone()
        x2[0, ~mask[b]] += 5.
        torch.testing.assert_close(grre(x2, mask[b:b + 1]), alone)


def test_gradients_finite_with_single_and_no_emission():
    grre = GRRE(in_channels=3, hidden_channels=2)
    x = torch.randn(2, 3, 3, requires_grad=True)
    mask = torch.tensor([[0, 1, 0], [0, 0, 0]], dtype=torch.bool)
    grre(x, mask).sum().backward()
    assert torch.isfinite(x.grad).all()
    assert all(torch.isfinite(p.grad).all() for p in grre.parameters())


def test_masked_softmax_by_hand():
    logits = torch.tensor([[0., 1., 2.], [5., 5., 5.]])
    mask = torch.tensor([[True, False, True], [False, False, False]])
    z = masked_softmax(logits, mask)
    e = torch.tensor([1., 0., 2.71828183 ** 2])
    torch.testing.assert_close(z[0], e / e.sum())
    assert (z[1] == 0).all()


def test_grre_init_is_gaussian_0_1_with_zero_biases():
    torch.manual_seed(0)
    grre = GRRE(in_channels=256, hidden_channels=256)
    grre.init_weights()
    w = grre.w_hx.weight
    assert abs(w.mean().item()) < 0.003 and abs(w.std().item() - 0.1) < 0.003
    assert (grre.w_hx.bias == 0).all() and (grre.w_zx.bias == 0).all()
