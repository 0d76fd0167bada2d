"""GaussianLocationPolicy: mean, log-probability, zero init, detaching,
the map-reading attention, its inhibition of return and the mixture over
the cells (map_policy='mixture')."""
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
    mu, pre, _ = pol(torch.randn(3, 4))
    assert mu.abs().max() == 0 and pre.abs().max() == 0
    pol = GaussianLocationPolicy(4, zero_init=False)
    state = torch.randn(3, 4)
    mu, pre, _ = pol(state)
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
    mu_full, _, _ = full(state)
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
        mu, pre, _ = pol(state)
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
        mu, _, _ = pol(state)
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
    mu, pre, _ = pol(state, fmap)
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
    mu, _, _ = pol(torch.randn(1, 3), fmap)
    assert mu.abs().max() == 0  # equal weights: the centre of the grid
    with torch.no_grad():
        pol.net[-1].bias.copy_(torch.tensor([1., 0.]))  # query channel 0
    mu, _, _ = pol(torch.randn(1, 3), fmap)
    torch.testing.assert_close(mu[0], torch.tensor([-0.25, 0.75]),
                               atol=1e-4, rtol=0)


def test_map_policy_needs_a_map_of_its_channels():
    pol = GaussianLocationPolicy(3, map_channels=8)
    with pytest.raises(ValueError, match=r'map_channels=8.*got None'):
        pol(torch.randn(1, 3))
    with pytest.raises(ValueError, match=r'map_channels=8.*\(1, 4, 2, 2\)'):
        pol(torch.randn(1, 3), torch.randn(1, 4, 2, 2))


def _query_policy(query, inhibition=None, map_policy='mean'):
    """A map policy whose query is ``query`` whatever the state (output
    layer: zero weight, bias = query)."""
    pol = GaussianLocationPolicy(3, map_channels=len(query), zero_init=False,
                                 inhibition=inhibition,
                                 map_policy=map_policy)
    with torch.no_grad():
        pol.net[-1].weight.zero_()
        pol.net[-1].bias.copy_(torch.tensor(query))
    return pol


def _mixture_weights_by_hand(query, fmap, visited=(), weight=0.,
                             radius=1.):
    """Plain-Python weights ``w_j`` and centres ``g_j`` of one image's
    cells (``fmap`` (C, H, W) nested lists), with the inhibition term."""
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
    return [v / sum(e) for v in e], centres


def _inhibited_mu_by_hand(query, fmap, visited, weight, radius):
    """mu = sum_j w_j g_j with the weights of
    :func:`_mixture_weights_by_hand`: logit_j = q . F_j / sqrt(C) -
    w sum_s exp(-|g_j - l_s|^2 / (2 r^2)); ``fmap`` (C, H, W) nested
    lists."""
    w, centres = _mixture_weights_by_hand(query, fmap, visited, weight,
                                          radius)
    return [sum(w[n] * centres[n][d] for n in range(len(w)))
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
    mu, pre, _ = pol(torch.randn(2, 3), fmap, visited)
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
    ref, _, _ = plain(state, fmap)
    for visited in (None, torch.zeros(3, 0, 2)):
        assert torch.equal(inhib(state, fmap, visited)[0], ref)
    assert not torch.equal(inhib(state, fmap, torch.zeros(3, 1, 2))[0], ref)
    # without inhibition, visited is ignored
    assert torch.equal(plain(state, fmap, torch.zeros(3, 1, 2))[0], ref)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        mu, _, _ = inhib(state, fmap, torch.zeros(3, 2, 2))
    assert mu.dtype == torch.float32


def test_inhibition_moves_mu_away_from_a_visited_hot_cell():
    """Two equally hot cells of a 1 x 4 map (x centres -0.75 and 0.75):
    mu starts between them and goes to the one not visited."""
    fmap = torch.zeros(1, 2, 1, 4)
    fmap[0, 0, 0, 0] = fmap[0, 0, 0, 3] = 40.
    pol = _query_policy([1., 0.], dict(weight=10., radius=0.25))
    mu, _, _ = pol(torch.randn(1, 3), fmap)
    torch.testing.assert_close(mu[0], torch.zeros(2), atol=1e-5, rtol=0)
    for seen, goal in ((-0.75, 0.75), (0.75, -0.75)):
        mu, _, _ = pol(torch.randn(1, 3), fmap, torch.tensor([[[seen, 0.]]]))
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


# ------------------------------------------------ map_policy='mixture'
def _mixture_log_prob_by_hand(action, w, centres, s):
    """``log sum_j w_j prod_d N(l_d; g_jd, s^2)`` with a loop over cells."""
    return math.log(sum(
        w_j * math.prod(math.exp(-(action[d] - g[d]) ** 2 / (2 * s * s)) /
                        (math.sqrt(2 * math.pi) * s) for d in range(2))
        for w_j, g in zip(w, centres)))


def test_mixture_log_prob_by_hand():
    """log pi(l) = log sum_j w_j N(l; g_j, s^2 I) on a hand-built 2 x 3
    map, cell by cell in plain Python, with and without inhibition; the
    default map policy returns no log-weights."""
    torch.manual_seed(0)
    C, H, W = 3, 2, 3
    query = [0.8, -1.2, 0.5]
    fmap = torch.randn(2, C, H, W)
    visited = torch.tensor([[[-0.5, 0.3]], [[0.7, -0.6]]])  # (B, 1, 2)
    actions = torch.tensor([[0.1, -0.2], [-0.9, 0.6]])
    for sigma in (0.11, 0.4):
        for inhibition in (None, dict(weight=1.5, radius=0.6)):
            pol = _query_policy(query, inhibition, 'mixture')
            out = pol(torch.randn(2, 3), fmap, visited)
            assert out.log_w.shape == (2, H * W)
            centres = pol.cell_centres(H, W)
            logp = pol.log_prob(actions, out.mu, sigma, out.log_w, centres)
            assert logp.shape == (2, ) and logp.dtype == torch.float32
            for b in range(2):
                w, g = _mixture_weights_by_hand(
                    query, fmap[b].tolist(),
                    visited[b].tolist() if inhibition else (),
                    *((1.5, 0.6) if inhibition else ()))
                torch.testing.assert_close(out.log_w[b].exp().detach(),
                                           torch.tensor(w), atol=1e-6,
                                           rtol=1e-5)
                hand = _mixture_log_prob_by_hand(actions[b].tolist(), w, g,
                                                 sigma)
                assert abs(logp[b].item() - hand) < 1e-4 * max(1, abs(hand))
    assert _query_policy(query)(torch.randn(2, 3), fmap).log_w is None


def test_mixture_mode_is_the_hottest_cell_and_inhibition_moves_it():
    """The deterministic location is the centre of the most probable cell
    (not the mean: the soft-argmax of the same weights lies elsewhere);
    visiting the hottest cell moves it to the second hottest."""
    fmap = torch.zeros(1, 2, 3, 4)
    fmap[0, 0, 2, 1] = 6.  # hottest: row 2, column 1 -> (-0.25, 2/3)
    fmap[0, 0, 0, 3] = 5.  # second: row 0, column 3 -> (0.75, -2/3)
    pol = _query_policy([1., 0.], dict(weight=10., radius=0.25),
                        'mixture')
    mean = _query_policy([1., 0.])
    out = pol(torch.randn(1, 3), fmap)
    hot, second = torch.tensor([-0.25, 2 / 3]), torch.tensor([0.75, -2 / 3])
    torch.testing.assert_close(out.mu[0], hot)
    assert torch.equal(out.mu, out.pre_tanh)
    assert out.log_w.argmax().item() == 2 * 4 + 1
    soft = mean(torch.randn(1, 3), fmap).mu[0]
    assert (soft - hot).abs().max() > 0.2  # the centre of mass is between
    out = pol(torch.randn(1, 3), fmap, hot.view(1, 1, 2))
    torch.testing.assert_close(out.mu[0], second)


def test_mixture_samples_follow_the_weights():
    """20000 samples (fixed seed): the share of samples whose nearest cell
    is j matches w_j (sigma small next to the cell size), the sample mean
    matches sum_j w_j g_j, the spread around the drawn cell is sigma; raw
    samples are detached, the used ones clipped."""
    torch.manual_seed(0)
    fmap = torch.randn(1, 2, 2, 3)
    pol = _query_policy([1.5, -1.], map_policy='mixture')
    n, sigma = 20000, 0.05
    out = pol(torch.randn(1, 3), fmap)
    log_w = out.log_w.expand(n, -1)
    centres = pol.cell_centres(2, 3)
    raw, loc = pol.sample(out.mu.expand(n, -1), sigma, log_w, centres)
    assert not raw.requires_grad and raw.dtype == torch.float32
    assert loc.abs().max() <= 1 and torch.equal(loc, raw.clamp(-1, 1))
    w = out.log_w[0].detach().exp()
    nearest = (raw[:, None] - centres).pow(2).sum(-1).argmin(-1)
    freq = torch.bincount(nearest, minlength=6).float() / n
    # binomial standard error sqrt(w (1 - w) / n) <= 0.0036
    assert (freq - w).abs().max() < 0.015, (freq, w)
    torch.testing.assert_close(raw.mean(0), w @ centres, atol=0.012, rtol=0)
    spread = raw - centres[nearest]
    assert abs(spread.std().item() - sigma) < 0.003


def test_mixture_reinforce_gradient_by_hand():
    """d log pi(a) / d (query net weights) from the policy equals autograd
    on the hand formula log sum_j softmax(q . F_j / sqrt(C))_j N(a; g_j)
    and a central finite difference on the bias; the map gets none."""
    torch.manual_seed(0)
    C, H, W, sigma = 3, 2, 2, 0.3
    pol = GaussianLocationPolicy(4, map_channels=C, zero_init=False,
                                 map_policy='mixture')
    state = torch.randn(2, 4)
    fmap = torch.randn(2, C, H, W, requires_grad=True)
    actions = torch.tensor([[0.3, -0.4], [-0.8, 0.9]])
    centres = pol.cell_centres(H, W)
    out = pol(state, fmap)
    pol.log_prob(actions, out.mu, sigma, out.log_w, centres).sum().backward()
    assert fmap.grad is None
    lin = pol.net[-1]
    weight = lin.weight.detach().clone().double().requires_grad_(True)
    bias = lin.bias.detach().clone().double().requires_grad_(True)

    def hand(weight, bias):
        q = state.double() @ weight.t() + bias  # (B, C)
        keys = fmap.detach().double().flatten(2)  # (B, C, HW)
        logits = torch.einsum('bc,bcn->bn', q, keys) / math.sqrt(C)
        d2 = (actions.double()[:, None] - centres.double()).pow(2).sum(-1)
        dens = torch.exp(-d2 / (2 * sigma ** 2)) / (2 * math.pi *
                                                   sigma ** 2)
        return (logits.softmax(-1) * dens).sum(-1).log().sum()

    gw, gb = torch.autograd.grad(hand(weight, bias), (weight, bias))
    torch.testing.assert_close(lin.weight.grad, gw.float(), atol=1e-5,
                               rtol=1e-4)
    torch.testing.assert_close(lin.bias.grad, gb.float(), atol=1e-5,
                               rtol=1e-4)
    assert gw.abs().max() > 1e-2
    eps = 1e-6
    for c in range(C):
        step = torch.zeros(C, dtype=torch.float64)
        step[c] = eps
        with torch.no_grad():
            fd = (hand(weight, bias + step) - hand(weight, bias - step)) / (
                2 * eps)
        assert abs(lin.bias.grad[c].item() - fd.item()) < 1e-4


def test_mixture_under_bf16_autocast_is_float32():
    torch.manual_seed(0)
    pol = GaussianLocationPolicy(4, map_channels=2, zero_init=False,
                                 hidden_dims=8, map_policy='mixture')
    state, fmap = torch.randn(3, 4), torch.randn(3, 2, 2, 2)
    centres = pol.cell_centres(2, 2)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        out = pol(state, fmap)
        raw, loc = pol.sample(out.mu, 0.11, out.log_w, centres)
        logp = pol.log_prob(raw, out.mu, 0.11, out.log_w, centres)
    for t in (*out, raw, loc, logp):
        assert t.dtype == torch.float32


def test_map_policy_needs_the_map_and_a_known_value():
    with pytest.raises(ValueError, match=r"GaussianLocationPolicy: "
                       r"map_policy='mixture' needs map_channels.*got "
                       r'map_channels=None'):
        GaussianLocationPolicy(3, map_policy='mixture')
    with pytest.raises(ValueError, match=r"GaussianLocationPolicy: "
                       r"map_policy must be one of \('mean', 'mixture'\), "
                       r"got 'mode'"):
        GaussianLocationPolicy(3, map_channels=2, map_policy='mode')
    assert GaussianLocationPolicy(3, map_channels=2).map_policy == 'mean'
