"""GaussianLocationPolicy: mean, log-probability, zero init, detaching,
the map-reading attention and its inhibition of return."""
import math

import pytest
import torch

from marl_mm.models.glimpse import GaussianLocationPolicy


def test_log_prob_and_its_gradient_by_hand():
    """log N(a; mu, sigma^2 I) = sum_xy -z^2/2 - log(sigma sqrt(2 pi)),
    z = (a - mu) / sigma, and d/d mu = (a - mu) / sigma^2."""
    mu = torch.tensor([[0.1, -0.3], [0.5, 0.2]], requires_grad=True)
    act = torch.tensor([[0.2, -0.1], [0.4, 0.5]])
    sigma = 0.11
    logp = GaussianLocationPolicy.log_prob(act, mu, sigma)
    z = (act - mu.detach()) / sigma
    hand = (-0.5 * z ** 2).sum(-1) - 2 * math.log(sigma * math.sqrt(
        2 * math.pi))
    torch.testing.assert_close(logp, hand, atol=1e-5, rtol=1e-6)
    logp.sum().backward()
    torch.testing.assert_close(mu.grad, (act - mu.detach()) / sigma ** 2,
                               atol=1e-4, rtol=1e-6)


def test_log_prob_of_a_nan_mean_is_nan_not_an_error():
    """NaN features give a NaN loss for NonFiniteCheckHook to report."""
    mu = torch.tensor([[float('nan'), 0.]])
    logp = GaussianLocationPolicy.log_prob(torch.zeros(1, 2), mu, 0.11)
    assert torch.isnan(logp).all()


def test_zero_init_gives_centre_and_tanh_mean():
    torch.manual_seed(0)
    pol = GaussianLocationPolicy(4, zero_init=True)
    pol.init_weights()
    mu, pre = pol(torch.randn(3, 4))
    assert mu.abs().max() == 0 and pre.abs().max() == 0
    pol = GaussianLocationPolicy(4, zero_init=False)
    state = torch.randn(3, 4)
    mu, pre = pol(state)
    lin = pol.net[0]
    torch.testing.assert_close(pre, state @ lin.weight.t() + lin.bias)
    torch.testing.assert_close(mu, torch.tanh(pre))


def test_sample_is_detached_and_clipped():
    torch.manual_seed(0)
    mu = torch.full((1000, 2), 0.95, requires_grad=True)
    raw, loc = GaussianLocationPolicy.sample(mu, 0.11)
    assert not raw.requires_grad and not loc.requires_grad
    assert loc.max() <= 1 and (raw > 1).any()
    assert abs(raw.std().item() - 0.11) < 0.01


def test_detach_input_stops_gradient():
    state = torch.randn(2, 4, requires_grad=True)
    pol = GaussianLocationPolicy(4, detach_input=True, zero_init=False)
    pol(state)[0].sum().backward()
    assert state.grad is None
    pol = GaussianLocationPolicy(4, detach_input=False, zero_init=False)
    pol(state)[0].sum().backward()
    assert state.grad is not None and state.grad.abs().sum() > 0


def test_gradient_into_the_state_by_hand():
    torch.manual_seed(0)
    state = torch.randn(3, 4, requires_grad=True)
    full = GaussianLocationPolicy(4, zero_init=False)
    mu_full, _ = full(state)
    g_full, = torch.autograd.grad(mu_full.sum(), state)
    # d tanh(W s + b) / d s = (1 - mu^2) W, summed over the two outputs
    w = full.net[0].weight.detach()
    direct = (1 - mu_full.detach() ** 2) @ w  # (3, 4)
    torch.testing.assert_close(g_full, direct)


@pytest.mark.parametrize('hidden_dims', [None, 8])
def test_policy_math_is_float32_under_bf16_autocast(hidden_dims):
    """mu, the samples and log_prob stay float32 under autocast and equal
    the float32 hand formula ``-(a - mu)^2 / (2 sigma^2) - log sigma -
    log(2 pi) / 2`` summed over x and y."""
    torch.manual_seed(0)
    pol = GaussianLocationPolicy(16, hidden_dims=hidden_dims,
                                 zero_init=False)
    state = torch.randn(64, 16)
    sigma = 0.11
    with torch.autocast('cpu', dtype=torch.bfloat16):
        mu, pre = pol(state)
        raw, loc = GaussianLocationPolicy.sample(mu, sigma)
        logp = GaussianLocationPolicy.log_prob(raw, mu, sigma)
    for t in (mu, pre, raw, loc, logp):
        assert t.dtype == torch.float32
    if hidden_dims is None:  # the whole mean in float32: tanh(W s + b)
        lin = pol.net[0]
        torch.testing.assert_close(
            mu, torch.tanh(state @ lin.weight.t() + lin.bias),
            atol=1e-6, rtol=0)
    a, m = raw, mu.detach()
    hand = (-((a - m) ** 2) / (2 * sigma ** 2) - math.log(sigma)
            - 0.5 * math.log(2 * math.pi)).sum(-1)  # float32, no autocast
    assert (logp - hand).abs().max().item() < 2e-6
    # the gradient of -log_prob still reaches the policy's weights
    pol.zero_grad()
    with torch.autocast('cpu', dtype=torch.bfloat16):
        mu, _ = pol(state)
        (-GaussianLocationPolicy.log_prob(raw, mu, sigma).sum()).backward()
    assert pol.net[-1].weight.grad.dtype == torch.float32
    assert pol.net[-1].weight.grad.abs().sum() > 0


def test_map_policy_is_the_attention_centre_by_hand():
    """map_channels: mu = sum_j softmax_j(q . F_j / sqrt(C)) g_j with
    q = W h + b and g_j the cell centres, computed here with loops over the
    cells of a 2 x 3 map."""
    torch.manual_seed(0)
    C, H, W = 4, 2, 3
    pol = GaussianLocationPolicy(5, map_channels=C, zero_init=False)
    pol.init_weights()
    state, fmap = torch.randn(2, 5), torch.randn(2, C, H, W)
    mu, pre = pol(state, fmap)
    lin = pol.net[-1]
    for b in range(2):
        q = lin.weight.detach() @ state[b] + lin.bias.detach()
        logits, centres = [], []
        for i in range(H):
            for j in range(W):
                logits.append(float(q @ fmap[b, :, i, j]) / math.sqrt(C))
                centres.append(((2 * j + 1) / W - 1, (2 * i + 1) / H - 1))
        w = torch.tensor(logits).softmax(0)
        hand = (w[:, None] * torch.tensor(centres)).sum(0)
        torch.testing.assert_close(mu[b].detach(), hand, atol=1e-6,
                                   rtol=1e-5)
    assert torch.equal(mu, pre)
    # the map is read detached; the query gets REINFORCE's gradient
    fmap.requires_grad_(True)
    pol(state, fmap)[0].sum().backward()
    assert fmap.grad is None and pol.net[-1].weight.grad.abs().sum() > 0


def test_map_policy_starts_at_the_centre_and_follows_a_hot_cell():
    pol = GaussianLocationPolicy(3, map_channels=2, zero_init=True)
    pol.init_weights()
    fmap = torch.zeros(1, 2, 4, 4)
    fmap[0, 0, 3, 1] = 100.  # one strong cell: row 3, column 1
    mu, _ = pol(torch.randn(1, 3), fmap)
    assert mu.abs().max() == 0  # equal weights: the centre of the grid
    with torch.no_grad():
        pol.net[-1].bias.copy_(torch.tensor([1., 0.]))  # query channel 0
    mu, _ = pol(torch.randn(1, 3), fmap)
    torch.testing.assert_close(mu[0], torch.tensor([-0.25, 0.75]),
                               atol=1e-4, rtol=0)


def test_map_policy_needs_a_map_of_its_channels():
    pol = GaussianLocationPolicy(3, map_channels=8)
    with pytest.raises(ValueError, match=r'map_channels=8.*got None'):
        pol(torch.randn(1, 3))
    with pytest.raises(ValueError, match=r'map_channels=8.*\(1, 4, 2, 2\)'):
        pol(torch.randn(1, 3), torch.randn(1, 4, 2, 2))


def _query_policy(query, inhibition=None):
    """A map policy whose query is ``query`` whatever the state (output
    layer: zero weight, bias = query)."""
    pol = GaussianLocationPolicy(3, map_channels=len(query), zero_init=False,
                                 inhibition=inhibition)
    with torch.no_grad():
        pol.net[-1].weight.zero_()
        pol.net[-1].bias.copy_(torch.tensor(query))
    return pol


def _inhibited_mu_by_hand(query, fmap, visited, weight, radius):
    """The formula with plain Python loops over the cells of one image:
    logit_j = q . F_j / sqrt(C) - w sum_s exp(-|g_j - l_s|^2 / (2 r^2)),
    mu = sum_j softmax(logit)_j g_j; ``fmap`` (C, H, W) nested lists."""
    C, H, W = len(fmap), len(fmap[0]), len(fmap[0][0])
    logits, centres = [], []
    for i in range(H):
        for j in range(W):
            gx, gy = (2 * j + 1) / W - 1, (2 * i + 1) / H - 1
            dot = sum(query[c] * fmap[c][i][j] for c in range(C))
            near = sum(math.exp(-((gx - lx) ** 2 + (gy - ly) ** 2) /
                                (2 * radius ** 2)) for lx, ly in visited)
            logits.append(dot / math.sqrt(C) - weight * near)
            centres.append((gx, gy))
    top = max(logits)
    e = [math.exp(v - top) for v in logits]
    return [sum(e[n] * centres[n][d] for n in range(len(e))) / sum(e)
            for d in range(2)]


@pytest.mark.parametrize('learnable', [True, False])
def test_inhibition_of_return_by_hand(learnable):
    """inhibition: mu of each image equals the formula computed cell by
    cell with its own visited list; the learnable weight's gradient equals
    a finite difference of the formula, d mu / d log w = w d mu / d w."""
    torch.manual_seed(0)
    C, H, W = 3, 2, 3
    weight, radius = 1.5, 0.6
    query = [0.8, -1.2, 0.5]
    pol = _query_policy(query, dict(weight=weight, radius=radius,
                                    learnable=learnable))
    assert pol.log_inhibition_weight.requires_grad == learnable
    assert abs(pol.inhibition_weight.item() - weight) < 1e-6
    fmap = torch.randn(2, C, H, W)
    visited = torch.tensor([[[-0.5, 0.3], [0.7, -0.6]],
                            [[1.0, 1.0], [-1.0, 0.2]]])  # (B, t=2, 2)
    mu, pre = pol(torch.randn(2, 3), fmap, visited)
    assert torch.equal(mu, pre) and mu.dtype == torch.float32
    for b in range(2):
        hand = _inhibited_mu_by_hand(query, fmap[b].tolist(),
                                     visited[b].tolist(), weight, radius)
        torch.testing.assert_close(mu[b].detach(), torch.tensor(hand),
                                   atol=1e-6, rtol=1e-5)
    if learnable:
        v = torch.tensor([0.3, -0.7])  # a direction to differentiate along
        (mu @ v).sum().backward()
        eps = 1e-4

        def f(w):
            return sum(sum(a * b for a, b in zip(_inhibited_mu_by_hand(
                query, fmap[b].tolist(), visited[b].tolist(), w, radius),
                v.tolist())) for b in range(2))

        fd = weight * (f(weight + eps) - f(weight - eps)) / (2 * eps)
        assert abs(pol.log_inhibition_weight.grad.item() - fd) < 1e-4
        assert abs(fd) > 1e-3  # the weight does move mu


def test_inhibition_without_visits_is_the_plain_attention():
    """visited None or zero-length: the same numbers as the policy without
    inhibition with the same weights (also under bf16 autocast)."""
    torch.manual_seed(0)
    plain = GaussianLocationPolicy(5, map_channels=4, zero_init=False)
    inhib = GaussianLocationPolicy(5, map_channels=4, zero_init=False,
                                   inhibition=dict(weight=2., radius=0.25))
    missing, unexpected = inhib.load_state_dict(plain.state_dict(),
                                                strict=False)
    assert missing == ['log_inhibition_weight'] and not unexpected
    state, fmap = torch.randn(3, 5), torch.randn(3, 4, 2, 3)
    ref, _ = plain(state, fmap)
    for visited in (None, torch.zeros(3, 0, 2)):
        assert torch.equal(inhib(state, fmap, visited)[0], ref)
    assert not torch.equal(inhib(state, fmap, torch.zeros(3, 1, 2))[0], ref)
    # without inhibition, visited is ignored
    assert torch.equal(plain(state, fmap, torch.zeros(3, 1, 2))[0], ref)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        mu, _ = inhib(state, fmap, torch.zeros(3, 2, 2))
    assert mu.dtype == torch.float32


def test_inhibition_moves_mu_away_from_a_visited_hot_cell():
    """Two equally hot cells of a 1 x 4 map (x centres -0.75 and 0.75):
    mu starts between them and goes to the one not visited."""
    fmap = torch.zeros(1, 2, 1, 4)
    fmap[0, 0, 0, 0] = fmap[0, 0, 0, 3] = 40.
    pol = _query_policy([1., 0.], dict(weight=10., radius=0.25))
    mu, _ = pol(torch.randn(1, 3), fmap)
    torch.testing.assert_close(mu[0], torch.zeros(2), atol=1e-5, rtol=0)
    for seen, goal in ((-0.75, 0.75), (0.75, -0.75)):
        mu, _ = pol(torch.randn(1, 3), fmap, torch.tensor([[[seen, 0.]]]))
        torch.testing.assert_close(mu[0], torch.tensor([goal, 0.]),
                                   atol=1e-3, rtol=0)


def test_inhibition_needs_the_map_and_valid_options():
    with pytest.raises(ValueError, match=r'GaussianLocationPolicy: '
                       r'inhibition needs map_channels.*got map_channels='
                       r'None'):
        GaussianLocationPolicy(3, inhibition=dict(weight=2., radius=0.25))
    with pytest.raises(ValueError, match=r"got \['radus'\]"):
        GaussianLocationPolicy(3, map_channels=2, inhibition=dict(radus=1.))
    with pytest.raises(ValueError, match='must be > 0, got 0.0 and 0.25'):
        GaussianLocationPolicy(3, map_channels=2,
                               inhibition=dict(weight=0.))
    pol = GaussianLocationPolicy(3, map_channels=2, inhibition=dict())
    assert pol.inhibition == dict(weight=2., radius=0.25, learnable=True)
    with pytest.raises(ValueError, match=r'visited must be \(B, t, 2\) with '
                       r'B=1, got \(1, 2\)'):
        pol(torch.randn(1, 3), torch.randn(1, 2, 2, 2), torch.zeros(1, 2))
