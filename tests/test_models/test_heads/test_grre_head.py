"""GRREHead (Li et al. 2018, Eqs. 5, 9, 10): losses on hand-made cases,
baselines, gradient routing, predictions and ablation switches."""
import itertools
import math
from unittest import mock

import pytest
import torch

import marl_mm  # noqa: F401
from marl_mm.models.glimpse import EmissionIndicator
from marl_mm.models.heads import GRREHead
from marl_mm.models.necks import GlimpseFeatures
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample


def _feats(b=2, t=4, c=6, grad=False, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(b, t, c, generator=g).requires_grad_(grad)
    ctx = torch.rand(b, t, c, generator=g).requires_grad_(grad)
    a = torch.rand(b, t, c, 3, 3, generator=g)
    return GlimpseFeatures(x=x, v=a, a=a, c=ctx)


def _samples(labels):
    return [DataSample().set_gt_label(lab) for lab in labels]


def _head(**kw):
    cfg = dict(type='GRREHead', num_classes=3, in_channels=6,
               context_channels=6, relation_channels=5)
    cfg.update(kw)
    torch.manual_seed(0)
    head = MODELS.build(cfg)
    head.init_weights()
    return head


def test_cls_loss_eq10_both_assignments_by_hand():
    P = torch.tensor([[[.5, .3, .2], [.1, .6, .3], [.2, .2, .6]],
                      [[.3, .3, .4], [.3, .3, .4], [.3, .3, .4]],
                      [[.5, .3, .2], [.1, .6, .3], [.2, .2, .6]],
                      [[.5, .3, .2], [.1, .6, .3], [.2, .2, .6]]])
    y = torch.tensor([[1., 1., 0.], [1., 0., 0.], [0., 0., 1.],
                      [0., 0., 0.]])
    e = torch.tensor([[1, 1, 0], [0, 0, 0], [0, 0, 1], [1, 1, 1]]).bool()
    # sample 1 emits nothing and sample 3 has no label: no term
    soft = (-(.5 * math.log(.5) + .5 * math.log(.3)) -
            (.5 * math.log(.1) + .5 * math.log(.6))) / 2
    soft = (soft - math.log(.6)) / 2
    best = ((-math.log(.5) - math.log(.6)) / 2 - math.log(.6)) / 2
    head = _head(assignment='soft')
    assert head._cls_loss(P.log(), y, e).item() == pytest.approx(soft)
    head = _head(assignment='best_gt')
    assert head._cls_loss(P.log(), y, e).item() == pytest.approx(best)


def test_coverage_loss_by_hand():
    """loss_cover: BCE of the category-wise max of P over the emitted
    glimpses, by hand with math.log; a sample that emits nothing has no
    term."""
    P = torch.tensor([[[.5, .3, .2], [.1, .6, .3], [.2, .2, .6]],
                      [[.3, .3, .4], [.3, .3, .4], [.3, .3, .4]],
                      [[.7, .2, .1], [.2, .2, .6], [.5, .4, .1]]])
    y = torch.tensor([[1., 1., 0.], [1., 0., 0.], [0., 0., 1.]])
    e = torch.tensor([[1, 1, 0], [0, 0, 0], [0, 1, 1]]).bool()
    # sample 0: max over glimpses 0, 1 = (.5, .6, .3); sample 2: over 1, 2
    # = (.5, .4, .6)
    s0 = -(math.log(.5) + math.log(.6) + math.log(1 - .3)) / 3
    s2 = -(math.log(1 - .5) + math.log(1 - .4) + math.log(.6)) / 3
    got = GRREHead._coverage_loss(P.log(), y, e)
    assert got.item() == pytest.approx((s0 + s2) / 2, rel=1e-5)
    # through loss(): weighted, and one glimpse per label beats two copies
    head = _head(num_classes=3, in_channels=3, use_emission=False,
                 use_context=False, relation='none', coverage_weight=2.)
    with torch.no_grad():
        head.w_xp.weight.copy_(4 * torch.eye(3))
        head.w_xp.bias.zero_()
    apart = GlimpseFeatures(x=torch.tensor([[[1., 0., 0.], [0., 1., 0.]]]),
                            v=None, a=None, c=None)
    copies = GlimpseFeatures(x=torch.tensor([[[.5, .5, 0.], [.5, .5, 0.]]]),
                             v=None, a=None, c=None)
    e4 = math.exp(4)
    p_hi, p_lo = e4 / (e4 + 2), 1 / (e4 + 2)
    out = head.loss(apart, _samples([[0, 1]]))
    expected = -(2 * math.log(p_hi) + math.log(1 - p_lo)) / 3
    assert out['loss_cover'].item() == pytest.approx(2 * expected, rel=1e-5)
    assert head.loss(copies, _samples([[0, 1]]))['loss_cover'] > \
        out['loss_cover']
    with pytest.raises(ValueError, match='coverage_weight'):
        _head(coverage_weight=-1.)


def _enumerated_policy_gradient(head, feats, samples, w):
    """Average over all 2^T emission samples (one image, K = 1), weighted
    by their probabilities, of the gradient of ``loss_pg`` on ``w``; and
    the logged reward of each sample."""
    p = head._emission_logits(feats)[0].sigmoid().detach()
    t_len = p.shape[0]
    surrogate, rewards = torch.zeros_like(w), {}
    for e in itertools.product([0, 1], repeat=t_len):
        prob = float(torch.prod(torch.tensor(
            [p[t] if e[t] else 1 - p[t] for t in range(t_len)])))
        with mock.patch.object(EmissionIndicator, 'sample',
                               return_value=torch.tensor([e]).bool()):
            losses = head.loss(feats, samples)
        rewards[e] = losses['reward'].item()
        g, = torch.autograd.grad(losses['loss_pg'], w)
        surrogate += prob * g
    return surrogate, rewards


def test_per_glimpse_credit_is_the_exact_policy_gradient():
    """credit='per_glimpse': averaged over the emission samples (enumerated
    here with their probabilities), the gradient of loss_pg on the
    indicator's logits is minus the gradient of the expected Eq. 6 reward,
    computed by enumerating all 2^T sequences (predictions fixed: w/o GRRE,
    w/o CE)."""
    head = _head(num_classes=3, in_channels=3, relation='none',
                 use_context=False, credit='per_glimpse',
                 baseline_mode='none', entropy_weight=0., num_samples=1,
                 reward=dict(emit_cost=0.1))
    with torch.no_grad():
        head.w_xp.weight.copy_(torch.eye(3))
        head.w_xp.bias.zero_()
        head.emission.fc.weight.copy_(torch.tensor([[1., -2., .5]]))
        head.emission.fc.bias.fill_(.3)
    x = torch.tensor([[[2., 0., 0.], [0., 1., 0.], [0., 0., 3.]]])
    feats = GlimpseFeatures(x=x, v=None, a=None, c=None)
    samples = _samples([[0, 2]])  # glimpse labels 0, 1, 2: right, wrong,
    w = head.emission.fc.weight  # right

    def expected_reward():
        p = head.emission(x)[0].sigmoid()
        total = 0.
        for e in itertools.product([0, 1], repeat=3):
            prob = torch.prod(torch.stack([p[t] if e[t] else 1 - p[t]
                                           for t in range(3)]))
            labels = {t for t in range(3) if e[t]}
            if not labels:
                r = -10.
            else:
                r = len(labels & {0, 2}) - .1 * len(labels - {0, 2}) \
                    - .1 * len(labels)
            total = total + prob * r
        return total

    exact, = torch.autograd.grad(expected_reward(), w)
    surrogate, _ = _enumerated_policy_gradient(head, feats, samples, w)
    torch.testing.assert_close(surrogate, -exact)
    p = head.emission(x)[0].sigmoid().detach()
    # one sample, by hand: each decision's own reward difference D_t
    # (e = 1, 0, 1: R = 2 - .2 = 1.8; without t=0 or t=2 0.9; with t=1
    # 1.6), d loss_pg / d bias = -sum_t D_t p_t (1 - p_t)
    d = torch.tensor([1.8 - .9, 1.6 - 1.8, 1.8 - .9])
    with mock.patch.object(EmissionIndicator, 'sample',
                           return_value=torch.tensor([[1, 0, 1]]).bool()):
        loss = head.loss(feats, samples)['loss_pg']
    g, = torch.autograd.grad(loss, head.emission.fc.bias)
    assert g.item() == pytest.approx(-(d * p * (1 - p)).sum().item(),
                                     rel=1e-5)
    with pytest.raises(ValueError, match="baseline_mode='none'"):
        _head(credit='per_glimpse')


def test_loss_end_to_end_matches_softmax_by_hand():
    """w/o EI, w/o CE, w/o GRRE: P_i = softmax(W_xp X_i + b)."""
    head = _head(num_classes=3, in_channels=3, use_emission=False,
                 use_context=False, relation='none')
    with torch.no_grad():
        head.w_xp.weight.copy_(torch.eye(3))
        head.w_xp.bias.zero_()
    x = torch.tensor([[[2., 0., 0.], [0., 1., 0.]]])  # (1, T=2, 3)
    feats = GlimpseFeatures(x=x, v=None, a=None, c=None)
    out = head.loss(feats, _samples([[0]]))
    e2, e1 = math.exp(2), math.exp(1)
    lp0 = -math.log(e2 / (e2 + 2))  # glimpse 1: P(0)
    lp1 = -math.log(1 / (e1 + 2))  # glimpse 2: P(0)
    assert out['loss_cls'].item() == pytest.approx((lp0 + lp1) / 2)
    assert 'loss_pg' not in out and out['emission_rate'].item() == 1.
    # glimpse 1 predicts 0 (right), glimpse 2 predicts 1 (wrong)
    assert out['reward'].item() == pytest.approx(1 - 0.1)
    scores = head.predict_scores(feats)
    torch.testing.assert_close(scores[0], torch.tensor(
        [e2 / (e2 + 2), e1 / (e1 + 2), 1 / (e1 + 2)]))


def test_sigmoid_glimpse_activation_by_hand():
    """glimpse_activation='sigmoid': P_i^c = sigmoid(logit_c), Eq. 10 and
    loss_cover on those, the image score their category-wise max."""
    head = _head(num_classes=3, in_channels=3, use_emission=False,
                 use_context=False, relation='none', assignment='best_gt',
                 coverage_weight=2., glimpse_activation='sigmoid')
    with torch.no_grad():
        head.w_xp.weight.copy_(torch.eye(3))
        head.w_xp.bias.zero_()
    x = torch.tensor([[[2., -1., 0.], [-3., 1., 0.5]]])  # (1, T=2, 3)
    feats = GlimpseFeatures(x=x, v=None, a=None, c=None)

    def sig(z):
        return 1 / (1 + math.exp(-z))

    out = head.loss(feats, _samples([[0, 2]]))
    # best GT label per glimpse: 0 (sig 2) for glimpse 1, 2 (sig .5) for 2
    cls = (-math.log(sig(2.)) - math.log(sig(.5))) / 2
    assert out['loss_cls'].item() == pytest.approx(cls, rel=1e-6)
    s = [sig(2.), sig(1.), sig(.5)]  # category-wise max over the glimpses
    cover = -(math.log(s[0]) + math.log(1 - s[1]) + math.log(s[2])) / 3
    assert out['loss_cover'].item() == pytest.approx(2 * cover, rel=1e-5)
    torch.testing.assert_close(head.predict_scores(feats)[0],
                               torch.tensor(s))
    # the scores no longer sum to 1 per glimpse, unlike the paper's softmax
    ds = head.predict(feats)[0]
    torch.testing.assert_close(ds.glimpse_scores[1], torch.tensor(
        [sig(-3.), sig(1.), sig(.5)]))
    with pytest.raises(ValueError, match='glimpse_activation must be one'):
        _head(glimpse_activation='tanh')


def test_baselines_and_advantage_normalisation():
    reward = torch.tensor([1., 2., 3., 6.])
    x = torch.rand(1, 3, 6)
    head = _head(baseline_mode='leave_one_out', advantage_norm='none')
    adv = head._advantage(reward, x, {})
    torch.testing.assert_close(adv, torch.tensor([-8 / 3, -4 / 3, 0., 4.]))
    head = _head(baseline_mode='running_mean', advantage_norm='none')
    torch.testing.assert_close(head._advantage(reward, x, {}), reward)
    head.set_external_baseline(2.)
    torch.testing.assert_close(head._advantage(reward, x, {}), reward - 2)
    head = _head(baseline_mode='learned', advantage_norm='none')
    losses = {}
    adv = head._advantage(reward, x, losses)
    b = head.baseline(x.mean(1)).expand(4)
    torch.testing.assert_close(adv, reward - b)
    assert losses['loss_value'].item() == pytest.approx(
        ((b - reward) ** 2).mean().item(), rel=1e-5)
    head = _head(baseline_mode='none', advantage_norm='meanstd')
    adv = head._advantage(reward, x, {})
    assert abs(adv.mean().item()) < 1e-6
    assert adv.std(unbiased=False).item() == pytest.approx(1., rel=1e-4)
    with pytest.raises(ValueError, match='num_samples >= 2'):
        _head(baseline_mode='leave_one_out', num_samples=1)


def _grad(loss, params):
    return torch.autograd.grad(loss, params, retain_graph=True,
                               allow_unused=True)


@pytest.mark.parametrize('detach', [True, False])
def test_gradient_routing(detach):
    head = _head(emission=dict(detach_input=detach), num_samples=4)
    feats = _feats(grad=True)
    out = head.loss(feats, _samples([[0, 2], [1]]))
    emission = list(head.emission.parameters())
    value = list(head.baseline.parameters())
    classifier = [head.w_xp.weight, head.w_cp.weight, head.w_op.weight,
                  head.relation.w_hx.weight]
    # no classification gradient through the (discrete) Bernoulli samples
    assert all(g is None for g in _grad(out['loss_cls'], emission))
    assert all(g is not None and g.abs().sum() > 0
               for g in _grad(out['loss_cls'], classifier))
    # REINFORCE reaches the emission FC, never the classifier
    g = _grad(out['loss_pg'], emission)
    assert g[0] is not None and g[0].abs().sum() > 0
    assert all(g is None for g in _grad(out['loss_pg'], classifier))
    gx = _grad(out['loss_pg'], [feats.x])[0]
    assert (gx is None) == detach
    # the value baseline's loss reaches only the value network
    assert all(g is None for g in _grad(out['loss_value'],
                                        emission + classifier + [feats.x]))
    assert all(g is not None for g in _grad(out['loss_value'], value))
    for key in ('reward', 'emission_rate', 'num_emitted', 'adv_abs'):
        assert 'loss' not in key and key in out
    assert set(head.rl_stats) == {'reward', 'emission_rate', 'num_emitted',
                                  'advantage_abs', 'entropy'}
    assert head.rl_stats['entropy'].item() == pytest.approx(math.log(2),
                                                            abs=1e-2)


def test_policy_warmup_flag_zeroes_loss_pg():
    """The hook's warm-up flag: ``loss_pg`` is exactly 0 (and its gradient),
    the other losses are the same; cleared, it is the full loss."""
    out = {}
    for warmup in (True, False):
        head = _head().train()
        head.set_policy_warmup(warmup)
        torch.manual_seed(1)
        out[warmup] = head.loss(_feats(), _samples([[0], [1]]))
    assert out[True]['loss_pg'].item() == 0
    assert out[False]['loss_pg'].item() != 0
    for key in ('loss_cls', 'loss_value', 'reward'):
        assert torch.equal(out[True][key], out[False][key]), key


def test_checkpoint_with_the_old_warmup_buffer_loads():
    """A checkpoint written while the head counted its warm-up in a
    ``train_iters`` buffer still loads, strictly."""
    head = _head()
    state = head.state_dict()
    assert 'train_iters' not in state
    old = dict(state, train_iters=torch.tensor(9))
    fresh = _head(entropy_weight=0.)
    fresh.load_state_dict(old, strict=True)
    for k, v in state.items():
        assert torch.equal(fresh.state_dict()[k], v), k


def _relation_by_hand(grre, xs):
    """O_i of Eqs. 7-8 over the compact list ``xs`` of emitted glimpses."""
    f = [torch.zeros(grre.hidden_channels) for _ in xs]
    outs = []
    for i in range(len(xs)):
        others = [k for k in range(len(xs)) if k != i]
        h = {k: torch.tanh(grre.w_hx.weight @ xs[k] + grre.w_hx.bias +
                           grre.w_hf.weight @ f[k]) for k in others}
        logit = torch.stack([grre.w_zx.weight[0] @ xs[k] + grre.w_zx.bias[0]
                             + grre.w_zf.weight[0] @ f[k] for k in others]
                            ) if others else torch.zeros(0)
        z = logit.exp() / logit.exp().sum()
        for j, k in enumerate(others):
            f[k] = z[j] * h[k]  # f_i keeps its previous value
        outs.append(sum((f[k] for k in others),
                        torch.zeros(grre.hidden_channels)))
    return outs


def _eq9_by_hand(head, x, c, emitted, with_cp=True, with_op=True):
    """P_i = softmax(W_xp X_i + W_cp C_i + W_op O_i) of one emission
    sequence: ``{glimpse index: P_i}`` over the emitted glimpses."""
    idx = emitted.nonzero()[:, 0].tolist()
    o = _relation_by_hand(head.relation, [x[k] for k in idx])
    out = {}
    for j, k in enumerate(idx):
        logit = head.w_xp.weight @ x[k] + head.w_xp.bias
        if with_cp:
            logit = logit + head.w_cp.weight @ c[k]
        if with_op:
            logit = logit + head.w_op.weight @ o[j]
        out[k] = logit.exp() / logit.exp().sum()
    return out


def _reward_by_hand(P, labels, emit_cost=0.):
    """Eq. 6: distinct argmax labels of the emitted glimpses."""
    if not P:
        return -10.
    predicted = {int(p.argmax()) for p in P.values()}
    n_pos = len(predicted & set(labels))
    return n_pos * 1. - (len(predicted) - n_pos) * 0.1 - emit_cost * len(P)


def test_eq9_with_context_and_relation_terms_by_hand():
    """Full Eq. 9 (W_xp X_i + b, W_cp C_i, W_op O_i with O_i of Eqs. 7-8)
    against a hand computation, for predict's glimpse scores and image
    scores (category-wise max over the emitted glimpses)."""
    head = _head(relation_channels=5)
    with torch.no_grad():
        head.relation.w_hx.bias.normal_()  # non-zero biases are checked too
        head.relation.w_zx.bias.normal_()
        head.emission.fc.weight.zero_()
        head.emission.fc.weight[0, 0] = 10.
        head.emission.fc.bias.fill_(-5.)  # emit where x[..., 0] > 0.5
    feats = _feats(b=3, t=5, seed=4)
    feats.x[:, :, 0] = torch.tensor([[.9, .1, .8, .7, .2],
                                     [.2, .6, .9, .1, .1],
                                     [.7, .7, .7, .7, .7]])  # 3, 2, 5 emitted
    out = head.predict(feats)
    for b, ds in enumerate(out):
        emitted = ds.emission_mask
        P = _eq9_by_hand(head, feats.x[b].detach(), feats.c[b], emitted)
        assert sorted(P) == emitted.nonzero()[:, 0].tolist() and len(P) > 1
        for k, p in P.items():
            torch.testing.assert_close(ds.glimpse_scores[k], p,
                                       atol=1e-6, rtol=1e-5)
        torch.testing.assert_close(
            ds.pred_score, torch.stack(list(P.values())).amax(0),
            atol=1e-6, rtol=1e-5)
        # the W_cp and W_op terms are not negligible in this case
        for kw in (dict(with_cp=False), dict(with_op=False)):
            other = _eq9_by_hand(head, feats.x[b].detach(), feats.c[b],
                                 emitted, **kw)
            assert max((other[k] - P[k]).abs().max() for k in P) > 1e-3


def test_loss_pg_and_value_loss_by_hand():
    """Eq. 5 as the head computes it: K sampled emission sequences,
    R of Eq. 6 (with emit_cost), a learned value baseline b = MLP(mean_t
    X_t), A = (R - b) normalised over the batch ('meanstd'),
    loss_pg = lambda_pg * -mean(A sum_t log pi(e_t)) - w_H * mean H(p_t),
    loss_value = lambda_value * mean (b - R)^2; everything by hand."""
    K = 3
    head = _head(num_samples=K, lambda_pg=0.7, lambda_value=0.4,
                 entropy_weight=0.05, reward=dict(emit_cost=0.1)).train()
    with torch.no_grad():
        head.emission.fc.weight.normal_(0., 2.)  # p_t spread out
    feats = _feats(b=2, t=4, seed=2)
    labels = [[0, 2], [1]]
    torch.manual_seed(3)
    losses = head.loss(feats, _samples(labels))

    x, c = feats.x.detach(), feats.c
    fc = head.emission.fc
    p = torch.sigmoid(x @ fc.weight[0] + fc.bias[0])  # (B, T)
    torch.manual_seed(3)
    e = torch.bernoulli(p.repeat_interleave(K, 0)).bool()  # (B*K, T)
    reward = torch.tensor([
        _reward_by_hand(_eq9_by_hand(head, x[n // K], c[n // K], e[n]),
                        labels[n // K], emit_cost=0.1)
        for n in range(2 * K)])
    assert reward.unique().numel() > 1  # a case where the advantage varies
    fc1, _, fc2 = head.baseline.net
    b = (torch.relu(x.mean(1) @ fc1.weight.t() + fc1.bias) @ fc2.weight.t()
         + fc2.bias)[:, 0].repeat_interleave(K)  # (B*K,)
    a = reward - b
    a = (a - a.mean()) / (a.std(unbiased=False) + 1e-6)
    pr = p.repeat_interleave(K, 0)
    log_pi = torch.where(e, pr.log(), (1 - pr).log()).sum(1)  # (B*K,)
    entropy = -(p * p.log() + (1 - p) * (1 - p).log()).mean()
    loss_pg = 0.7 * -(a * log_pi).mean() - 0.05 * entropy
    torch.testing.assert_close(losses['loss_pg'], loss_pg, atol=1e-5,
                               rtol=1e-5)
    torch.testing.assert_close(losses['loss_value'],
                               0.4 * ((b - reward) ** 2).mean(), atol=1e-6,
                               rtol=1e-5)
    torch.testing.assert_close(losses['reward'], reward.mean())


def test_predict_fields_and_greedy_emission():
    head = _head()
    with torch.no_grad():
        head.emission.fc.weight.zero_()
        head.emission.fc.weight[0, 0] = 10.
        head.emission.fc.bias.fill_(-5.)  # emit where x[..., 0] > 0.5
    feats = _feats(b=3)
    feats.x.data[2, :, 0] = 0.1  # image 2 emits nothing -> its argmax
    feats.x.data[2, 1, 0] = 0.3
    out = head.predict(feats, _samples([[0], [1], [2]]))
    p = torch.sigmoid(10 * feats.x[..., 0] - 5)
    for b, ds in enumerate(out):
        mask = p[b] > 0.5
        if not mask.any():
            mask = p[b] == p[b].max()
        if b == 2:
            assert mask.tolist() == [False, True, False, False]
        assert ds.emission_mask.tolist() == mask.tolist()
        torch.testing.assert_close(ds.emission_prob, p[b])
        expected = ds.glimpse_scores[mask].max(0).values
        torch.testing.assert_close(ds.pred_score, expected)
        torch.testing.assert_close(ds.glimpse_scores.sum(-1),
                                   torch.ones(4))
        torch.testing.assert_close(ds.attention_maps, feats.a[b].mean(1))
    torch.testing.assert_close(head(feats),
                               torch.stack([d.pred_score for d in out]))


@pytest.mark.parametrize('kw', [dict(use_context=False),
                                dict(relation='none'), dict(relation='rnn'),
                                dict(use_emission=False),
                                dict(use_context=False, relation='none')])
def test_ablations_build_and_train(kw):
    head = _head(**kw)
    out = head.loss(_feats(), _samples([[0, 1], [2]]))
    loss = sum(v for k, v in out.items() if 'loss' in k)
    assert torch.isfinite(loss)
    assert (head.w_cp is None) == (not kw.get('use_context', True))
    assert (head.relation is None) == (kw.get('relation') == 'none')
    assert (head.emission is None) == (not kw.get('use_emission', True))
    scores = head.predict_scores(_feats())
    assert ((scores > 0) & (scores <= 1)).all()


def test_bad_inputs_raise_clear_errors():
    head = _head()
    feats = _feats()
    with pytest.raises(ValueError, match='context'):
        head.loss(feats._replace(c=None), _samples([[0], [1]]))
    with pytest.raises(TypeError, match='GlimpseFeatures'):
        head.predict(feats.x)
    with pytest.raises(ValueError, match='relation'):
        GRREHead(num_classes=3, relation='lstm')
    with pytest.raises(ValueError, match='gt_score nor gt_label'):
        head.loss(feats, [DataSample(), DataSample()])


def test_loss_under_bf16_autocast_keeps_policy_terms_float32():
    """AMP: emission logits, log-probabilities and the value baseline run in
    float32 (marl_mm.models.glimpse.float32_math); every loss is finite."""
    head = _head().train()
    with torch.autocast('cpu', dtype=torch.bfloat16):
        logits = head.emission(_feats().x)
        losses = head.loss(_feats(), _samples([[0], [1, 2]]))
    assert logits.dtype == torch.float32
    for name in ('loss_cls', 'loss_pg', 'loss_value', 'reward'):
        assert losses[name].dtype == torch.float32, name
        assert torch.isfinite(losses[name]), name


def test_emission_reading_the_glimpse_scores():
    """emission.score_dims: the indicator reads log softmax(W_xp X + W_cp C)
    of each glimpse (Eq. 9 without the relation term), in training and at
    test."""
    head = _head(emission=dict(score_dims=3))
    feats = _feats(b=2)
    log_p = torch.log_softmax(head.w_xp(feats.x) + head.w_cp(feats.c), -1)
    inp = torch.cat([feats.x, log_p, log_p.amax(-1, keepdim=True)], -1)
    expected = inp @ head.emission.fc.weight[0] + head.emission.fc.bias
    out = head.predict(feats)
    for b, ds in enumerate(out):
        torch.testing.assert_close(ds.emission_prob, expected[b].sigmoid())
    top = log_p.amax(-1).detach()  # (B, T)
    cut = top.flatten().sort().values[3:5].mean()  # 4 of the 8 glimpses above
    with torch.no_grad():  # emit where the top class is confident
        head.emission.fc.weight.zero_()
        head.emission.fc.weight[0, -1] = 1e3
        head.emission.fc.bias.fill_(-1e3 * cut)  # p > 0.5 iff max log P > cut
    torch.manual_seed(0)
    losses = head.loss(feats, _samples([[0], [1, 2]]))
    assert torch.isfinite(losses['loss_pg'])
    out = head.predict(feats)
    confident = top > cut
    assert confident.sum() == 4 and confident.any(-1).all()
    for b, ds in enumerate(out):
        assert ds.emission_mask.tolist() == confident[b].tolist()


def test_per_glimpse_credit_with_the_coverage_reward_is_exact():
    """reward_type='coverage' with credit='per_glimpse': averaged over the
    enumerated emission samples, the gradient of loss_pg is minus the
    gradient of the expected reward -BCE(category-wise max of P over the
    emitted glimpses) - emit_cost N_e, that reward written out by hand over
    all 2^T sequences."""
    head = _head(num_classes=3, in_channels=3, relation='none',
                 use_context=False, credit='per_glimpse',
                 baseline_mode='none', entropy_weight=0., num_samples=1,
                 reward_type='coverage', reward=dict(emit_cost=0.02))
    assert type(head.reward_fn).__name__ == 'CoverageReward'
    with torch.no_grad():
        head.w_xp.weight.copy_(torch.eye(3))
        head.w_xp.bias.zero_()
        head.emission.fc.weight.copy_(torch.tensor([[1., -2., .5]]))
        head.emission.fc.bias.fill_(.3)
    x = torch.tensor([[[2., 0., 0.], [1.5, 1., 0.], [0., 0., 3.]]])
    feats = GlimpseFeatures(x=x, v=None, a=None, c=None)
    samples = _samples([[0, 1]])
    y = [1., 1., 0.]
    P = torch.softmax(x[0], -1).tolist()  # (T, D) by the identity W_xp
    w = head.emission.fc.weight

    def reward(e):
        s = [max([P[t][c] for t in range(3) if e[t]], default=1e-4)
             for c in range(3)]
        bce = -sum(math.log(s[c]) if y[c] else math.log(1 - s[c])
                   for c in range(3)) / 3
        return -bce - 0.02 * sum(e)

    def expected_reward():
        p = head.emission(x)[0].sigmoid()
        return sum(torch.prod(torch.stack(
            [p[t] if e[t] else 1 - p[t] for t in range(3)])) * reward(e)
            for e in itertools.product([0, 1], repeat=3))

    exact, = torch.autograd.grad(expected_reward(), w)
    surrogate, rewards = _enumerated_policy_gradient(head, feats, samples,
                                                     w)
    assert rewards[(1, 0, 1)] == pytest.approx(reward((1, 0, 1)), rel=1e-5)
    torch.testing.assert_close(surrogate, -exact)
    with pytest.raises(ValueError, match='reward_type must be one of'):
        _head(reward_type='recall')


def test_test_emission_all_predicts_with_every_candidate():
    """test_emission='all': the same weights, every candidate in the
    category-wise max (the emission probabilities still reported)."""
    head = _head()
    feats = _feats(b=2)
    policy = head.predict(feats)
    head.test_emission = 'all'
    every = head.predict(feats)
    for b, (ds_p, ds_a) in enumerate(zip(policy, every)):
        assert ds_a.emission_mask.all()
        torch.testing.assert_close(ds_a.emission_prob, ds_p.emission_prob)
        # Eq. 9 by hand with all four candidates in the relation term
        P = _eq9_by_hand(head, feats.x[b].detach(), feats.c[b].detach(),
                         torch.ones(4, dtype=torch.bool))
        expected = torch.stack([P[t] for t in range(4)]).max(0).values
        torch.testing.assert_close(ds_a.pred_score, expected)
        assert not ds_p.emission_mask.all()
    with pytest.raises(ValueError, match='test_emission must be one of'):
        _head(test_emission='none')


def test_dropout_on_glimpse_and_context_features_in_training_only():
    """dropout: Eq. 9 (and the GRRE) read dropped-out X_i and C_i in
    training (reproduced with F.dropout from the same seed); at test the
    head is the one without dropout."""
    plain = _head()
    head = _head(dropout=0.5)
    head.load_state_dict(plain.state_dict())
    feats = _feats(b=2)
    emitted = torch.ones(2, 4, dtype=torch.bool)
    head.eval()
    plain.eval()
    torch.testing.assert_close(head(feats), plain(feats))
    head.train()
    torch.manual_seed(3)
    got = head._glimpse_log_probs(feats, emitted, 1)
    torch.manual_seed(3)
    dx = torch.nn.functional.dropout(feats.x, 0.5, True)
    dc = torch.nn.functional.dropout(feats.c, 0.5, True)
    expected = plain._glimpse_log_probs(feats._replace(x=dx, c=dc),
                                        emitted, 1)
    torch.testing.assert_close(got, expected)
    assert (got - plain._glimpse_log_probs(feats, emitted, 1)).abs().max() \
        > 1e-3
    with pytest.raises(ValueError, match='dropout must be in'):
        _head(dropout=1.)


@pytest.mark.parametrize('k', [1, 2])
@pytest.mark.parametrize('kw', [
    dict(credit='per_glimpse', baseline_mode='none'),
    dict(credit='sequence', baseline_mode='learned', advantage_norm='none')])
def test_emission_holdout_splits_the_images_between_classifier_and_policy(
        kw, k):
    """emission_holdout=n: the images with sample_idx % n == 0 give the
    policy losses of a head without holdout run on them alone, the others
    its classification losses (same weights, same emission samples; K
    samples per image, rows b*K .. b*K+K-1)."""
    head = _head(emission_holdout=2, coverage_weight=1., num_samples=k,
                 entropy_weight=0.05, **kw)
    plain = _head(coverage_weight=1., num_samples=k, entropy_weight=0.05,
                  **kw)
    plain.load_state_dict(head.state_dict())
    feats = _feats(b=4, seed=1)
    labels = [[0], [1, 2], [2], [0, 1]]
    samples = _samples(labels)
    for i, ds in enumerate(samples):
        ds.set_metainfo(dict(sample_idx=10 + i))  # 10 and 12 held out
    e = torch.tensor([[1, 0, 1, 1], [0, 1, 1, 0], [1, 1, 0, 1],
                      [1, 1, 1, 1], [0, 0, 1, 1], [1, 0, 0, 1],
                      [0, 1, 0, 1], [1, 1, 1, 0]]).bool()[:4 * k]

    def loss(h, idx):
        sub = GlimpseFeatures(x=feats.x[idx], v=feats.v[idx],
                              a=feats.a[idx], c=feats.c[idx])
        rows = [i * k + j for i in idx for j in range(k)]
        with mock.patch.object(EmissionIndicator, 'sample',
                               return_value=e[rows]):
            return h.loss(sub, [samples[i] for i in idx])

    got = loss(head, [0, 1, 2, 3])
    classifier, policy = loss(plain, [1, 3]), loss(plain, [0, 2])
    for key in ('loss_cls', 'loss_cover'):
        torch.testing.assert_close(got[key], classifier[key])
    for key in ('loss_pg', 'reward') + (
            ('loss_value',) if 'loss_value' in policy else ()):
        torch.testing.assert_close(got[key], policy[key])
    assert got['loss_pg'].abs() > 1e-4

    # a batch without a held-out image: classifier terms only, the policy
    # terms at weight 0 (still in the graph)
    none_held = loss(head, [1, 3])
    torch.testing.assert_close(none_held['loss_cls'], classifier['loss_cls'])
    assert none_held['loss_pg'].item() == 0.
    assert none_held['loss_pg'].requires_grad


def test_emission_holdout_bad_inputs():
    with pytest.raises(ValueError, match='emission_holdout must be 0'):
        _head(emission_holdout=1)
    with pytest.raises(ValueError, match='emission_holdout must be 0'):
        _head(emission_holdout=3, use_emission=False)
    head = _head(emission_holdout=3)
    with pytest.raises(KeyError, match="'sample_idx'.*data sample 0"):
        head.loss(_feats(b=2), _samples([[0], [1]]))


def test_cam_loss_is_the_bce_of_the_class_map_mean_by_hand():
    """cam_weight: w x the binary cross-entropy of the class-evidence map's
    cell mean against the labels, over classes and the classifier images
    (the held-out ones excluded)."""
    g = torch.Generator().manual_seed(3)
    cam = torch.randn(4, 3, 2, 2, generator=g) * 3
    feats = _feats(b=4)._replace(cam=cam)
    labels = [[0], [1, 2], [2], [0, 1]]
    y = torch.zeros(4, 3)
    for i, lab in enumerate(labels):
        y[i, lab] = 1.

    def bce(rows):
        z = cam.mean((2, 3))[rows].double()
        p = 1 / (1 + (-z).exp())
        t = y[rows].double()
        return (-(t * p.log() + (1 - t) * (1 - p).log())).mean().float()

    head = _head(cam_weight=0.5)
    got = head.loss(feats, _samples(labels))
    torch.testing.assert_close(got['loss_cam'], 0.5 * bce([0, 1, 2, 3]))
    held = _head(cam_weight=0.5, emission_holdout=2)
    samples = _samples(labels)
    for i, ds in enumerate(samples):
        ds.set_metainfo(dict(sample_idx=i))  # 0 and 2 held out
    torch.testing.assert_close(held.loss(feats, samples)['loss_cam'],
                               0.5 * bce([1, 3]))
    assert 'loss_cam' not in _head().loss(feats, _samples(labels))


def test_cam_weight_needs_the_class_map():
    with pytest.raises(ValueError, match='cam_weight must be >= 0'):
        _head(cam_weight=-1.)
    head = _head(cam_weight=1.)
    with pytest.raises(ValueError, match="attention='class'.*got None"):
        head.loss(_feats(b=2), _samples([[0], [1]]))
    wrong = _feats(b=2)._replace(cam=torch.zeros(2, 4, 3, 3))
    with pytest.raises(ValueError, match=r'num_classes=3.*\(2, 4, 3, 3\)'):
        head.loss(wrong, _samples([[0], [1]]))
