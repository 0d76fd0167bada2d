"""RHN (Li et al. 2018, Eqs. 1-2) against direct computations."""
import math

import pytest
import torch

import marl_mm  # noqa: F401
from marl_mm.models.necks import RHN, guide
from mmpretrain.registry import MODELS


def _naive_guide(x):
    """Eq. 1 as printed: (exp(X^max) - exp(X)) / sum_j exp(X^j)."""
    e = x.double().exp()
    return ((e.max(-1, keepdim=True).values - e) / e.sum(-1, keepdim=True))


def test_guide_matches_naive_formula_on_safe_inputs():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(3, 8, generator=g) * 2
    torch.testing.assert_close(guide(x).double(), _naive_guide(x),
                               rtol=1e-5, atol=1e-7)
    # by hand for x = (0, log 2): exp = (1, 2); l = (2-1, 0) / 3
    out = guide(torch.tensor([0., math.log(2.)]))
    torch.testing.assert_close(out, torch.tensor([1 / 3, 0.]))


def test_guide_is_finite_where_the_naive_formula_overflows():
    x = torch.tensor([[1e4, 1e4 - 1., 0.]])
    assert not torch.isfinite(_naive_guide(x.float()).float()).all()
    out = guide(x)
    assert torch.isfinite(out).all()
    # shift-invariant: same as on (1, 0, -1e4)
    s = 1 + math.exp(-1)
    torch.testing.assert_close(
        out, torch.tensor([[0., (1 - math.exp(-1)) / s, 1 / s]]))


def _deconv_1x1(l, weight, bias):
    """ConvTranspose2d of a 1x1 input with kernel S, written as a sum:
    A[o, i, j] = sum_c l_c W[c, o, i, j] + b_o."""
    return torch.einsum('bc,coij->boij', l, weight) + bias[None, :, None, None]


def test_rhn_matches_direct_computation():
    torch.manual_seed(0)
    rhn = RHN(in_channels=6, feat_dims=5, spatial_size=3, num_glimpses=3,
              deconv_std=0.3)
    rhn.init_weights()
    v_img = torch.rand(2, 6, 3, 3) * 2
    out = rhn((v_img, ))
    W, b = rhn.fc.weight, rhn.fc.bias
    x = torch.relu(v_img.reshape(2, -1) @ W.T + b)  # X_0
    for t in range(3):
        l_prev = _naive_guide(x).float()  # Eq. 1
        a = torch.relu(_deconv_1x1(l_prev, rhn.deconv.weight,
                                   rhn.deconv.bias))  # Eq. 2
        v = v_img * a
        x = torch.relu(v.reshape(2, -1) @ W.T + b)
        torch.testing.assert_close(out.a[:, t], a)
        torch.testing.assert_close(out.v[:, t], v)
        torch.testing.assert_close(out.x[:, t], x)
    assert out.c is None
    # the glimpses differ from each other (the guide steers them)
    assert (out.x[:, 0] - out.x[:, 1]).abs().max() > 1e-4


def test_step_bias_adds_one_learned_term_per_step():
    """step_bias_std: A_t = ReLU(Deconv(l_{t-1}) + beta_t), by hand with
    the einsum deconvolution; None keeps the paper's RHN bit for bit."""
    torch.manual_seed(0)
    rhn = RHN(in_channels=4, feat_dims=5, spatial_size=2, num_glimpses=3,
              step_bias_std=0.5)
    rhn.init_weights()
    assert rhn.step_bias.shape == (3, 4 * 2 * 2)
    assert rhn.step_bias.std().item() > 0.2  # drawn, not zero
    v_img = torch.rand(2, 4, 2, 2)
    out = rhn(v_img)
    W, b = rhn.fc.weight, rhn.fc.bias
    x = torch.relu(v_img.reshape(2, -1) @ W.T + b)
    for t in range(3):
        beta = rhn.step_bias[t].view(1, 4, 2, 2)
        a = torch.relu(_deconv_1x1(_naive_guide(x).float(),
                                   rhn.deconv.weight, rhn.deconv.bias) + beta)
        x = torch.relu((v_img * a).reshape(2, -1) @ W.T + b)
        torch.testing.assert_close(out.a[:, t], a)
        torch.testing.assert_close(out.x[:, t], x)
    out.x.sum().backward()
    assert rhn.step_bias.grad.abs().sum() > 0
    torch.manual_seed(0)
    plain = RHN(in_channels=4, feat_dims=5, spatial_size=2, num_glimpses=3)
    torch.manual_seed(0)
    zero = RHN(in_channels=4, feat_dims=5, spatial_size=2, num_glimpses=3,
               step_bias_std=0.)
    zero.load_state_dict(plain.state_dict(), strict=False)
    torch.testing.assert_close(zero(v_img).x, plain(v_img).x)
    assert 'step_bias' not in plain.state_dict()
    with pytest.raises(ValueError, match='step_bias_std'):
        RHN(step_bias_std=-1.)


def test_rhn_zero_initial_glimpse_and_default_init():
    torch.manual_seed(0)
    rhn = RHN(in_channels=4, feat_dims=3, spatial_size=2, num_glimpses=1,
              init_glimpse='zeros', deconv_std=0.)
    rhn.init_weights()
    v_img = torch.rand(1, 4, 2, 2)
    out = rhn(v_img)
    # X_0 = 0 -> l_0 = 0 -> A_1 = ReLU(bias) = attention_bias_init = 1
    torch.testing.assert_close(out.a[0, 0], torch.ones(4, 2, 2))
    torch.testing.assert_close(out.v[0, 0], v_img[0])


def test_rhn_size_checks_and_adaptive_pool():
    rhn = RHN(in_channels=4, feat_dims=3, spatial_size=2, num_glimpses=2)
    with pytest.raises(ValueError, match='spatial_size=4'):
        rhn((torch.rand(1, 4, 4, 4), ))
    with pytest.raises(ValueError, match='in_channels=4'):
        rhn((torch.rand(1, 5, 2, 2), ))
    pooled = RHN(in_channels=4, feat_dims=3, spatial_size=2, num_glimpses=2,
                 adaptive_pool=True)
    pooled.load_state_dict(rhn.state_dict())
    m = torch.rand(1, 4, 4, 4)
    torch.testing.assert_close(
        pooled((m, )).x, rhn((torch.nn.functional.avg_pool2d(m, 2), )).x)


def test_rhn_builds_from_registry():
    rhn = MODELS.build(dict(type='RHN', num_glimpses=4))
    out = rhn((torch.rand(2, 512, 7, 7), ))
    assert out.x.shape == (2, 4, 512) and out.a.shape == (2, 4, 512, 7, 7)


def _spatial_by_hand(rhn, v_img, pool):
    """attention='spatial' (or 'class') written out step by step (module
    docstring)."""
    b, c, s, _ = v_img.shape
    flat = v_img.flatten(2)  # (B, C, S*S)
    keys = torch.einsum('kc,bcs->bks', rhn.key.weight[:, :, 0, 0],
                        flat) + rhn.key.bias[None, :, None]
    w_inh = rhn.log_inhibition_weight.exp() \
        if rhn.log_inhibition_weight is not None else 0.

    def feature(v):
        inp = v.flatten(2).mean(-1) if pool == 'attention' else v.flatten(1)
        return torch.relu(inp @ rhn.fc.weight.T + rhn.fc.bias)

    x = feature(v_img)  # X_0
    visited = torch.zeros(b, s * s)
    steps = []
    for _ in range(rhn.num_glimpses):
        q = _naive_guide(x).float() @ rhn.query.weight.T + rhn.query.bias
        if rhn.class_prior:  # + the image's class logits
            q = q + keys.mean(-1)
        if rhn.attention_mode == 'class':  # class weights, sharpness gamma
            q = q.exp() / q.exp().sum(-1, keepdim=True)
            e = rhn.log_class_sharpness.exp() * (q[:, :, None] * keys).sum(1)
        else:
            e = (q[:, :, None] * keys).sum(1) / math.sqrt(rhn.key_dims)
        e = e - w_inh * visited
        a = e.exp() / e.exp().sum(-1, keepdim=True)  # softmax over cells
        big_a = (s * s * a).view(b, 1, s, s).expand(b, c, s, s)
        v = v_img * big_a
        x = feature(v)
        if pool == 'attention':  # the same as sum_s a(s) V_I(s)
            torch.testing.assert_close(
                x, torch.relu((flat * a[:, None]).sum(-1) @ rhn.fc.weight.T
                              + rhn.fc.bias))
        visited = visited + a / a.max(-1, keepdim=True).values
        steps.append((a, big_a, v, x))
    return steps


@pytest.mark.parametrize('pool,attention,prior', [
    ('fc', 'spatial', False), ('attention', 'spatial', False),
    ('attention', 'class', False), ('attention', 'class', True)])
def test_spatial_attention_matches_direct_computation(pool, attention,
                                                      prior):
    torch.manual_seed(0)
    extra = dict(class_sharpness=1.5, class_prior=prior) \
        if attention == 'class' else {}
    rhn = RHN(in_channels=6, feat_dims=5, spatial_size=3, num_glimpses=4,
              attention=attention, key_dims=4, inhibition_weight=2.,
              glimpse_pool=pool, **extra)
    rhn.init_weights()
    if attention == 'class':
        torch.testing.assert_close(rhn.log_class_sharpness.exp().detach(),
                                   torch.tensor(1.5))
    assert rhn.deconv is None
    torch.testing.assert_close(rhn.log_inhibition_weight.exp().detach(),
                               torch.tensor(2.))
    with torch.no_grad():  # a sharper attention than the default init's
        rhn.key.weight.mul_(4.)
    v_img = torch.rand(2, 6, 3, 3) * 2
    out = rhn(v_img)
    for t, (a, big_a, v, x) in enumerate(_spatial_by_hand(rhn, v_img, pool)):
        torch.testing.assert_close(out.a[:, t], big_a)
        torch.testing.assert_close(out.v[:, t], v)
        torch.testing.assert_close(out.x[:, t], x)
        # A_t has mean 1 over the cells and is shared by the channels
        torch.testing.assert_close(out.a[:, t].mean((-2, -1)),
                                   torch.ones(2, 6))
    if attention == 'class':  # the keys, one map per class
        keys = torch.einsum('kc,bchw->bkhw', rhn.key.weight[:, :, 0, 0],
                            v_img) + rhn.key.bias[None, :, None, None]
        torch.testing.assert_close(out.cam, keys)
    else:
        assert out.cam is None
    out.x.sum().backward()
    for name, p in rhn.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_spatial_attention_follows_the_content():
    """With the cell-shared read-out the spatial attention is equivariant to
    moving the content: the attention of a flipped map is the flipped
    attention, and the glimpse features are the same."""
    torch.manual_seed(1)
    rhn = RHN(in_channels=5, feat_dims=4, spatial_size=4, num_glimpses=3,
              attention='spatial', key_dims=3, inhibition_weight=1.,
              glimpse_pool='attention')
    with torch.no_grad():
        rhn.key.weight.mul_(5.)
    v_img = torch.rand(1, 5, 4, 4)
    out = rhn(v_img)
    flipped = rhn(v_img.flip(-1))
    torch.testing.assert_close(flipped.a, out.a.flip(-1))
    torch.testing.assert_close(flipped.x, out.x)
    # and the attention is not uniform: it depends on what is where
    assert out.a[0, 0, 0].std() > 0.05


def test_spatial_attention_inhibition_damps_visited_cells():
    """A key that makes one cell win by a margin: without inhibition every
    step looks there; with a large weight the second step looks elsewhere."""
    torch.manual_seed(0)
    v_img = torch.zeros(1, 2, 2, 2)
    v_img[0, 0, 0, 0] = 1.  # channel 0 only at cell (0, 0)
    kw = dict(in_channels=2, feat_dims=3, spatial_size=2, num_glimpses=2,
              attention='spatial', key_dims=1, glimpse_pool='attention')
    plain = RHN(**kw)
    damped = RHN(inhibition_weight=50., **kw)
    for rhn in (plain, damped):
        with torch.no_grad():
            rhn.key.weight.zero_()
            rhn.key.weight[0, 0] = 20.  # key = 20 * channel 0
            rhn.key.bias.zero_()
            rhn.query.weight.zero_()
            rhn.query.bias.fill_(1.)  # q = 1 whatever the guide
    a_plain = plain(v_img).a[0, :, 0].flatten(1)  # (T, S*S)
    a_damped = damped(v_img).a[0, :, 0].flatten(1)
    assert a_plain[:, 0].min() > 3.9  # of 4 (= S^2): both steps at (0, 0)
    assert a_damped[0, 0] > 3.9 and a_damped[1, 0] < 0.1


def test_class_attention_looks_where_the_chosen_class_is():
    """attention='class': with class 0's evidence at cell (0, 0) and class
    1's at (1, 1), a guide that picks class 1 looks at (1, 1), one that
    picks class 0 at (0, 0), whatever the other class's map says."""
    v_img = torch.zeros(1, 2, 2, 2)
    v_img[0, 0, 0, 0] = 1.  # channel 0: class 0's evidence at (0, 0)
    v_img[0, 1, 1, 1] = 1.  # channel 1: class 1's evidence at (1, 1)
    rhn = RHN(in_channels=2, feat_dims=3, spatial_size=2, num_glimpses=1,
              attention='class', key_dims=2, glimpse_pool='attention',
              class_sharpness=10.)
    for chosen, cell in ((1, 3), (0, 0)):
        with torch.no_grad():
            rhn.key.weight.zero_()
            rhn.key.weight[0, 0] = rhn.key.weight[1, 1] = 1.
            rhn.key.bias.zero_()
            rhn.query.weight.zero_()
            rhn.query.bias.zero_()
            rhn.query.bias[chosen] = 20.  # softmax ~ one-hot on `chosen`
        a = rhn(v_img).a[0, 0, 0].flatten() / 4  # (S*S,) a_t, sums to 1
        # softmax of 10 x (1 at `cell`, 0 elsewhere) over the four cells
        expect = torch.full((4, ), 1.)
        expect[cell] = math.exp(10.)
        torch.testing.assert_close(a, expect / expect.sum(), atol=1e-6,
                                   rtol=1e-4)
    # class_prior: a query that prefers class 0 by 2 logits, but the image
    # holds class 1 (its map's mean 20 against 0): the prior wins
    prior = RHN(in_channels=2, feat_dims=3, spatial_size=2, num_glimpses=1,
                attention='class', key_dims=2, glimpse_pool='attention',
                class_sharpness=10., class_prior=True)
    prior.load_state_dict(rhn.state_dict())
    with torch.no_grad():
        prior.query.bias.copy_(torch.tensor([2., 0.]))
        prior.key.bias.copy_(torch.tensor([0., 20.]))
    a = prior(v_img).a[0, 0, 0].flatten() / 4
    assert a.argmax() == 3 and a[3] > 0.9


def test_spatial_attention_option_checks():
    with pytest.raises(ValueError, match="attention must be one of"):
        RHN(attention='dot')
    with pytest.raises(ValueError, match="glimpse_pool must be one of"):
        RHN(attention='spatial', glimpse_pool='max')
    with pytest.raises(ValueError, match="need attention='spatial'"):
        RHN(glimpse_pool='attention')
    with pytest.raises(ValueError, match="need attention='spatial'"):
        RHN(inhibition_weight=1.)
    with pytest.raises(ValueError, match="attention='spatial' has none"):
        RHN(attention='spatial', step_bias_std=0.1)
    with pytest.raises(ValueError, match='inhibition_weight must be > 0'):
        RHN(attention='spatial', inhibition_weight=0.)
    with pytest.raises(ValueError, match="detach_key_input need attention="):
        RHN(detach_keys=True)
    with pytest.raises(ValueError, match="detach_key_input need attention="):
        RHN(attention='spatial', detach_key_input=True)
    with pytest.raises(ValueError, match="class_prior needs attention="):
        RHN(attention='spatial', class_prior=True)
    with pytest.raises(ValueError, match='class_sharpness must be > 0'):
        RHN(attention='class', class_sharpness=0.)
    # the paper's RHN has no spatial-attention parameters
    names = set(RHN(in_channels=4, feat_dims=3, spatial_size=2).state_dict())
    assert names == {'deconv.weight', 'deconv.bias', 'fc.weight', 'fc.bias'}


def test_detach_keys_stops_the_glimpse_gradient_at_the_keys():
    """detach_keys=True: the same forward, no gradient from X_t to the key
    convolution; the class map (cam) itself still carries gradient."""
    torch.manual_seed(0)
    kw = dict(in_channels=4, feat_dims=3, spatial_size=3, num_glimpses=2,
              attention='class', key_dims=2, inhibition_weight=1.,
              glimpse_pool='attention', class_prior=True)
    plain, detached = RHN(**kw), RHN(detach_keys=True, **kw)
    detached.load_state_dict(plain.state_dict())
    v_img = torch.rand(2, 4, 3, 3)
    out, out_d = plain(v_img), detached(v_img)
    torch.testing.assert_close(out_d.x, out.x)
    out_d.x.sum().backward()
    assert detached.key.weight.grad is None or \
        detached.key.weight.grad.abs().sum() == 0
    assert detached.query.weight.grad.abs().sum() > 0
    out_d.cam.sum().backward()
    assert detached.key.weight.grad.abs().sum() > 0
    out.x.sum().backward()
    assert plain.key.weight.grad.abs().sum() > 0


def test_detach_key_input_makes_the_class_map_a_probe():
    """detach_key_input=True: the same class map, whose loss trains the key
    convolution and nothing before it."""
    torch.manual_seed(0)
    kw = dict(in_channels=4, feat_dims=3, spatial_size=3, num_glimpses=2,
              attention='class', key_dims=2, glimpse_pool='attention')
    plain, probe = RHN(**kw), RHN(detach_key_input=True, **kw)
    probe.load_state_dict(plain.state_dict())
    v_img = torch.rand(2, 4, 3, 3)
    v_plain, v_probe = (v_img.clone().requires_grad_(True) for _ in (0, 1))
    cam, cam_probe = plain(v_plain).cam, probe(v_probe).cam
    torch.testing.assert_close(cam_probe, cam)
    cam_probe.sum().backward()
    assert v_probe.grad is None and probe.key.weight.grad.abs().sum() > 0
    cam.sum().backward()
    assert v_plain.grad.abs().sum() > 0


def test_attention_floor_mixes_the_whole_map_into_each_glimpse():
    """attention_floor=lambda: A_t = lambda + (1 - lambda) S^2 a_t; the
    first step (same X_0, so the same a_1) checked against the plain RHN,
    and V_1 = V_I * A_1."""
    torch.manual_seed(0)
    kw = dict(in_channels=4, feat_dims=3, spatial_size=3, num_glimpses=2,
              attention='class', key_dims=2, inhibition_weight=1.,
              class_sharpness=5.)
    plain, floored = RHN(**kw), RHN(attention_floor=0.25, **kw)
    floored.load_state_dict(plain.state_dict())
    v_img = torch.rand(2, 4, 3, 3)
    out, out_f = plain(v_img), floored(v_img)
    torch.testing.assert_close(out_f.a[:, 0], 0.25 + 0.75 * out.a[:, 0])
    torch.testing.assert_close(out_f.v[:, 0], v_img * out_f.a[:, 0])
    torch.testing.assert_close(out_f.a[:, 1].mean((-2, -1)),
                               torch.ones(2, 4))
    assert out_f.a[:, 0].min() >= 0.25 - 1e-6
    with pytest.raises(ValueError, match='attention_floor must be in'):
        RHN(attention_floor=0.5)
    with pytest.raises(ValueError, match='attention_floor must be in'):
        RHN(attention='spatial', attention_floor=1.)
