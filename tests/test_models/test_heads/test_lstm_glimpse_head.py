"""LSTMGlimpseHead: one recurrent step and the pooling against a direct
computation, the REINFORCE loss against its formula, gradient routing,
images without labels, predictions, and every RARL config's head."""
import logging
import math
from pathlib import Path

import pytest
import torch
from torchvision.ops import roi_align

import marl_mm  # noqa: F401
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

REPO = Path(__file__).resolve().parents[3]


def _head(**kw):
    cfg = dict(type='LSTMGlimpseHead', num_classes=3, in_channels=2,
               feat_stride=4, num_steps=2, anchor_sizes=(4., 8.),
               anchor_ratios=(1., 2.), roi_size=2, sampling_ratio=2,
               embed_dims=5, hidden_dims=4, baseline=dict(hidden_dims=6))
    for part in ('policy', 'baseline'):  # sub-configs merge
        kw[part] = dict(cfg.get(part, {}), **kw.get(part, {}))
    cfg.update(kw)
    torch.manual_seed(0)
    head = MODELS.build(cfg)
    head.init_weights()
    return head


def _lstm_step(cell, x, h, c):
    """LSTM equations written out: gates i, f, g, o (PyTorch order)."""
    gates = x @ cell.weight_ih.t() + cell.bias_ih + h @ cell.weight_hh.t() \
        + cell.bias_hh
    i, f, g, o = gates.chunk(4, -1)
    c_new = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c_new), c_new


def test_steps_and_pooling_match_direct_computation():
    head = _head().eval()  # zero-initialised loc net: l = (0, 0) always
    feats = torch.randn(1, 2, 6, 6)  # input crop 24 x 24, centre (12, 12)
    out = head.glimpse((feats,), 'mean')

    def embed(box):
        crop = roi_align(feats, torch.tensor([[0.] + box]), 2,
                         spatial_scale=1 / 4, sampling_ratio=2, aligned=True)
        lin = head.embed[0]
        return torch.relu(crop.flatten(1) @ lin.weight.t() + lin.bias)  # (1, 5)

    zero = torch.zeros(1, 4)
    h, c = _lstm_step(head.lstm, embed([0., 0., 24., 24.]), zero, zero)
    # regions at the centre: sizes 4, 8 x ratios 1, 2 (w = s*sqrt(r))
    r2 = 2 ** 0.5
    boxes = [[12 - w / 2, 12 - hh / 2, 12 + w / 2, 12 + hh / 2]
             for s in (4., 8.) for w, hh in ((s, s), (s * r2, s / r2))]
    torch.testing.assert_close(out['boxes'][0, 0], torch.tensor(boxes))
    scores = []
    for _ in range(2):
        hs, cs = zip(*[_lstm_step(head.lstm, embed(b), h, c) for b in boxes])
        scores += [hr @ head.cls.weight.t() + head.cls.bias for hr in hs]
        h, c = torch.stack(hs).mean(0), torch.stack(cs).mean(0)
    region = torch.cat(scores).view(2, 4, 3)
    torch.testing.assert_close(out['region_scores'][0], region, atol=1e-5,
                               rtol=1e-5)
    pooled = torch.cat(scores).max(0).values  # category-wise max
    torch.testing.assert_close(out['scores'][0], pooled, atol=1e-5, rtol=1e-5)
    probs = head.predict_scores((feats,))
    torch.testing.assert_close(probs[0], pooled.softmax(-1), atol=1e-5,
                               rtol=1e-5)


def _samples(labels):
    return [DataSample().set_gt_label(lab) for lab in labels]


def _sampled_reward_and_logp(head, feats, labels, seed=5):
    """Re-run the sampled glimpses of ``head.loss`` (same seed): the reward
    by hand (top-|GT| recall) and the Gaussian log-probabilities (B, T)."""
    torch.manual_seed(seed)
    out = head.glimpse((feats,), 'sample')
    top = out['scores'].argsort(-1, descending=True)
    reward = torch.tensor([
        len(set(top[i, :len(lab)].tolist()) & set(lab)) / len(lab)
        for i, lab in enumerate(labels)])
    logp = torch.distributions.Normal(out['mu'], 0.11).log_prob(
        out['actions']).sum(-1)  # (B, T)
    return out, reward, logp


def test_reinforce_loss_matches_formula():
    head = _head(baseline=dict(mode='none'), advantage_norm='none',
                 policy=dict(zero_init=False)).train()
    feats = torch.randn(3, 2, 6, 6)
    labels = [[0], [1, 2], [2]]
    torch.manual_seed(5)
    losses = head.loss((feats,), _samples(labels))
    out, reward, logp = _sampled_reward_and_logp(head, feats, labels)
    y = torch.zeros(3, 3)
    for i, lab in enumerate(labels):
        y[i, lab] = 1
    expected = -(logp.sum(1) * reward).mean()
    torch.testing.assert_close(losses['loss_pg'], expected, atol=1e-4,
                               rtol=1e-4)
    torch.testing.assert_close(losses['reward'], reward.mean())
    p_hat = y / y.sum(-1, keepdim=True)
    sq = ((out['scores'].softmax(-1) - p_hat) ** 2).sum(-1).mean()
    torch.testing.assert_close(losses['loss_cls'], sq, atol=1e-5, rtol=1e-5)
    assert set(head.rl_stats) >= {'reward', 'advantage_abs', 'entropy',
                                  'loc_spread', 'loc_mean_x', 'loc_mean_y'}


def _grads(module):
    return sum(p.grad.abs().sum().item() for p in module.parameters()
               if p.grad is not None)


@pytest.mark.parametrize('loss_type', ['squared', 'soft_ce', 'bce'])
def test_gradient_routing(loss_type):
    head = _head(loss_type=loss_type).train()
    feats = torch.randn(4, 2, 6, 6)
    labels = [[0], [1, 2], [2], [0, 1]]
    losses = head.loss((feats,), _samples(labels))
    # the classification loss never reaches the location network
    head.zero_grad()
    losses['loss_cls'].backward(retain_graph=True)
    assert _grads(head.loc_net) == 0 and _grads(head.baseline) == 0
    assert _grads(head.cls) > 0 and _grads(head.lstm) > 0
    # REINFORCE reaches the location network (and, undetached, the state)
    head.zero_grad()
    losses['loss_pg'].backward(retain_graph=True)
    assert _grads(head.loc_net) > 0 and _grads(head.baseline) == 0
    assert _grads(head.cls) == 0
    # the baseline's MSE trains only the baseline
    head.zero_grad()
    losses['loss_baseline'].backward()
    assert _grads(head.baseline) > 0
    assert _grads(head.loc_net) == 0 and _grads(head.lstm) == 0 \
        and _grads(head.embed) == 0


def test_reinforce_reaches_the_state():
    """The paper's REINFORCE gradient into the shared state: with
    ``policy=dict(zero_init=False)`` (paper) loss_pg sends a non-zero gradient into
    the LSTM and the semantic FC from the first iteration; with the default
    zero-initialised output layer ``d mu / d state = W_l = 0``, so it is
    exactly zero there at init (W_l itself is reached) and flows once W_l
    has moved."""
    feats = torch.randn(4, 2, 6, 6)
    labels = _samples([[0], [1], [2], [0, 2]])
    paper = _head(policy=dict(zero_init=False)).train()
    paper.zero_grad()
    paper.loss((feats,), labels)['loss_pg'].backward()
    assert _grads(paper.lstm) > 0 and _grads(paper.embed) > 0

    head = _head().train()  # policy zero_init=True
    head.zero_grad()
    head.loss((feats,), labels)['loss_pg'].backward()
    assert _grads(head.lstm) == 0 and _grads(head.embed) == 0
    assert _grads(head.loc_net) > 0
    torch.optim.SGD(head.loc_net.parameters(), lr=0.1).step()
    head.zero_grad()
    head.loss((feats,), labels)['loss_pg'].backward()
    assert _grads(head.lstm) > 0 and _grads(head.embed) > 0


def test_reinforce_with_learned_baseline_by_hand():
    """loss_pg = mean over labelled images of -sum_t log pi(l_t) (R - b_t)
    and loss_baseline = lambda_b * mean over labelled images of
    mean_t (b_t - R)^2, with b_t = MLP(s_t) and log pi written out."""
    head = _head(policy=dict(zero_init=False), lambda_b=0.5).train()
    feats = torch.randn(3, 2, 6, 6)
    labels = [[0], [], [1, 2]]  # image 1 has no labels: no term
    torch.manual_seed(5)
    losses = head.loss((feats,), _samples(labels))
    torch.manual_seed(5)
    out = head.glimpse((feats,), 'sample')
    top = out['scores'].argsort(-1, descending=True)
    reward = torch.tensor([
        len(set(top[i, :len(lab)].tolist()) & set(lab)) / max(len(lab), 1)
        for i, lab in enumerate(labels)])  # (B,)
    fc1, _, fc2 = head.baseline.net
    s = out['states']  # (B, T, S)
    b = (torch.relu(s @ fc1.weight.t() + fc1.bias) @ fc2.weight.t()
         + fc2.bias)[..., 0]  # (B, T)
    z = (out['actions'] - out['mu']) / 0.11
    logp = (-0.5 * z ** 2 - math.log(0.11)
            - 0.5 * math.log(2 * math.pi)).sum(-1)  # (B, T)
    keep = [0, 2]
    pg = -(logp * (reward[:, None] - b)).sum(1)[keep].mean()
    base = 0.5 * ((b - reward[:, None]) ** 2).mean(1)[keep].mean()
    torch.testing.assert_close(losses['loss_pg'], pg, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(losses['loss_baseline'], base, atol=1e-5,
                               rtol=1e-5)
    torch.testing.assert_close(losses['reward'], reward[keep].mean())
    # the baseline is not pushed by REINFORCE, only by its MSE
    head.zero_grad()
    losses['loss_pg'].backward(retain_graph=True)
    assert _grads(head.baseline) == 0


def test_sub_configs_reach_their_parts():
    head = _head(policy=dict(sigma=0.2, hidden_dims=3, detach_input=True,
                             zero_init=False),
                 baseline=dict(hidden_dims=7), reward=dict(topk=2))
    assert head.exploration == 0.2 and head.loc_net.detach_input
    assert not head.loc_net.zero_init and head.loc_net.net[0].out_features == 3
    assert head.baseline.net[0].out_features == 7
    assert head.reward_fn.topk == 2
    head = _head(baseline=dict(mode='none'))
    assert head.baseline is None and head.baseline_mode == 'none'
    for old in (dict(sigma=0.2), dict(lambda_mu=0.1),
                dict(policy_state_grad_scale=0.5)):
        with pytest.raises(TypeError, match=next(iter(old))):
            _head(**old)


def test_detached_policy_state_keeps_reinforce_out_of_lstm():
    head = _head(policy=dict(detach_input=True)).train()
    losses = head.loss((torch.randn(4, 2, 6, 6),),
                       _samples([[0], [1], [2], [0, 2]]))
    head.zero_grad()
    losses['loss_pg'].backward()
    assert _grads(head.loc_net) > 0 and _grads(head.lstm) == 0


@pytest.mark.parametrize('loss_type', ['squared', 'soft_ce', 'bce'])
def test_image_without_labels_is_masked_out(loss_type):
    head = _head(loss_type=loss_type).train()
    feats = torch.randn(3, 2, 6, 6, requires_grad=True)
    torch.manual_seed(1)
    losses = head.loss((feats,), _samples([[0], [], [1, 2]]))
    sum(v for k, v in losses.items() if 'loss' in k).backward()
    assert feats.grad[1].abs().sum() == 0
    assert feats.grad[0].abs().sum() > 0 and feats.grad[2].abs().sum() > 0
    # loss_cls by hand over the two labelled images (same sampled glimpses)
    torch.manual_seed(1)
    scores = head.glimpse((feats.detach(),), 'sample')['scores'][[0, 2]]
    y = torch.tensor([[1., 0., 0.], [0., 1., 1.]])
    if loss_type == 'bce':
        q = scores.sigmoid()
        per_image = -(y * q.log() + (1 - y) * (1 - q).log()).mean(-1)
    else:
        p_hat = y / y.sum(-1, keepdim=True)
        p = scores.softmax(-1)
        per_image = ((p - p_hat) ** 2).sum(-1) if loss_type == 'squared' \
            else -(p_hat * p.log()).sum(-1)
    torch.testing.assert_close(losses['loss_cls'], per_image.mean(),
                               atol=1e-5, rtol=1e-5)


def test_random_locations_and_warmup_have_no_policy_loss():
    for kw, warmup in ((dict(random_locations=True), False), ({}, True)):
        head = _head(**kw).train()
        head.set_policy_warmup(warmup)
        losses = head.loss((torch.randn(2, 2, 6, 6),), _samples([[0], [1]]))
        assert losses['loss_pg'] == 0


def test_predict_fills_scores_locations_and_boxes():
    head = _head().eval()
    feats = torch.randn(2, 2, 6, 6)
    with torch.no_grad():
        out = head.predict((feats,), [DataSample(), DataSample()])
        direct = head.glimpse((feats,), 'mean')
    for i, ds in enumerate(out):
        torch.testing.assert_close(ds.pred_score,
                                   direct['scores'][i].softmax(-1))
        assert ds.glimpse_locations.shape == (2, 2)
        assert ds.glimpse_boxes.shape == (2, 4, 4)
        torch.testing.assert_close(ds.glimpse_locations, torch.zeros(2, 2))
        torch.testing.assert_close(ds.glimpse_boxes, direct['boxes'][i])



def test_proposal_regions_one_per_step_and_whole_image_fallback():
    """region_source='proposals': step t crops the t-th proposal (checked
    against roi_align on the zero-padded map), no policy loss; a sample
    without proposals uses the whole input (24 x 24 px here) and it is
    logged."""
    head = _head(region_source='proposals', num_steps=2).train()
    feats = torch.randn(2, 2, 6, 6)
    props = torch.tensor([[2., 3., 10., 12.], [8., 0., 20., 9.]])
    samples = _samples([[0], [1]])
    samples[0].set_field(props.numpy(), 'proposals')
    records = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = records.append
    MMLogger.get_current_instance().addHandler(handler)
    out = head.glimpse((feats,), 'proposals',
                       head._proposals((feats,), samples))
    torch.testing.assert_close(out['boxes'][0, :, 0], props)
    whole = torch.tensor([0., 0., 24., 24.])
    torch.testing.assert_close(out['boxes'][1, :, 0], whole.expand(2, 4))
    # the region feature of step 1, image 0, by hand with roi_align
    padded = torch.nn.functional.pad(feats, (1, 1, 1, 1))
    roi = torch.cat([torch.zeros(1), props[1] / 4 + 1])[None]
    crop = roi_align(padded, roi, 2, 1., 2, True)  # (1, C, 2, 2)
    z = head.embed(crop.flatten(1))  # (1, E)
    torch.testing.assert_close(
        head.embed(head.cropper(padded, out['boxes'][:, 1]).flatten(2)
                   )[0, 0], z[0])
    # locations are the boxes' centres, normalised
    torch.testing.assert_close(out['locations'][0, 0],
                               torch.tensor([6., 7.5]) / 24 * 2 - 1)
    losses = head.loss((feats,), samples)
    assert losses['loss_pg'] == 0
    assert head._warned_no_proposals
    assert any('have fewer than 2 proposals' in r.getMessage()
               for r in records)
    MMLogger.get_current_instance().removeHandler(handler)
    pred = head.eval().predict((feats,), samples)
    torch.testing.assert_close(pred[0].glimpse_boxes[:, 0], props)
    with pytest.raises(ValueError, match='region_source'):
        _head(region_source='edgeboxes')



def test_warmup_flag_looks_at_random_locations():
    """While the hook's warm-up flag is set the locations are uniform random
    (the same draws as ``rand * 2 - 1`` under the same seed), not the
    policy's samples; cleared, the sampled policy is reinforced."""
    head = _head().train()
    feats = torch.randn(2, 2, 6, 6)
    head.set_policy_warmup(True)
    torch.manual_seed(3)
    head.loss((feats,), _samples([[0], [1]]))
    torch.manual_seed(3)
    uniform = torch.rand(2, 2, 2) * 2 - 1  # (step, image, xy): the draws
    for i, key in enumerate(('loc_mean_x', 'loc_mean_y')):
        assert head.rl_stats[key].item() == pytest.approx(
            uniform[..., i].mean().item(), abs=1e-6)
    head.set_policy_warmup(False)
    assert head.loss((feats,), _samples([[0], [1]]))['loss_pg'] != 0
    with pytest.raises(TypeError, match='bool'):
        head.set_policy_warmup(1)


def test_checkpoint_with_the_old_warmup_counter_loads():
    """A checkpoint written while the head kept its warm-up counter as
    module extra state (``head._extra_state``) still loads, strictly."""
    head = _head()
    state = head.state_dict()
    assert not any(k.endswith('_extra_state') for k in state)
    old = dict(state, _extra_state={'train_iters': 7})
    fresh = _head(policy=dict(sigma=0.3))
    fresh.load_state_dict(old, strict=True)
    for k, v in state.items():
        assert torch.equal(fresh.state_dict()[k], v), k
    # through marl_mm's checked loading (resume, test): the stale key is
    # reported as ignored, every weight is loaded
    from marl_mm.utils import load_state_dict_checked
    fresh = _head(policy=dict(sigma=0.3))
    diff = load_state_dict_checked(fresh, old, 'old.pth', 'exact')
    assert diff.unexpected == ['_extra_state'] and not diff.missing
    for k, v in state.items():
        assert torch.equal(fresh.state_dict()[k], v), k


def test_bad_arguments():
    with pytest.raises(ValueError, match='loss_type'):
        _head(loss_type='hinge')
    with pytest.raises(ValueError, match='Ours-A'):
        _head(use_lstm=False)
    with pytest.raises(ValueError, match='in_channels'):
        _head().loss((torch.randn(1, 3, 6, 6),), _samples([[0]]))


RARL_CONFIGS = sorted(list((REPO / 'configs').glob('rarl_*.py')) +
                      list((REPO / 'configs' / 'ablations').glob('rarl_*.py')))


@pytest.mark.parametrize('path', RARL_CONFIGS, ids=lambda p: p.name)
def test_head_of_every_rarl_config_runs(path):
    try:
        cfg = Config.fromfile(str(path))
    except FileNotFoundError as e:  # a base config of another part missing
        pytest.skip(f'{path.name}: {e}')
    head_cfg = cfg.model.head.to_dict()
    torch.manual_seed(0)
    head = MODELS.build(head_cfg)
    head.init_weights()
    c = head_cfg.get('in_channels', 512)
    feats = torch.randn(2, c, 6, 6)
    head.train()
    losses = head.loss((feats,), _samples([[0], [1, 2]]))
    total = sum(v for k, v in losses.items() if 'loss' in k)
    assert torch.isfinite(total)
    total.backward()
    head.eval()
    with torch.no_grad():
        out = head.predict((feats,))
    probs = torch.stack([d.pred_score for d in out])
    assert ((probs >= 0) & (probs <= 1)).all()


def test_loss_under_bf16_autocast_keeps_policy_terms_float32():
    """AMP: the location policy's log-probabilities and the baseline run in
    float32 (marl_mm.models.glimpse.float32_math); every loss is finite."""
    head = _head(policy=dict(zero_init=False)).train()
    feats = torch.randn(3, 2, 6, 6)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        out = head.glimpse((feats,), 'sample')
        losses = head.loss((feats,), _samples([[0], [1, 2], [2]]))
    assert out['mu'].dtype == out['actions'].dtype == torch.float32
    for name in ('loss_cls', 'loss_pg', 'loss_baseline', 'reward'):
        assert losses[name].dtype == torch.float32, name
        assert torch.isfinite(losses[name]), name


def test_hook_switch_to_running_mean_replaces_the_learned_baseline():
    """A head built with the learned value network and switched by the
    PolicyGradientHook to 'running_mean' uses the hook's baseline: no value
    loss, advantages R - b_ext (the switch used to be ignored)."""
    head = _head(baseline=dict(mode='learned'), advantage_norm='none',
                 policy=dict(zero_init=False)).train()
    feats = torch.randn(3, 2, 6, 6)
    labels = [[0], [1, 2], [2]]
    head.baseline_mode = 'running_mean'  # what the hook does
    head.set_external_baseline(0.25)
    torch.manual_seed(5)
    losses = head.loss((feats,), _samples(labels))
    _, reward, logp = _sampled_reward_and_logp(head, feats, labels)
    expected = -(logp.sum(1) * (reward - 0.25)).mean()
    assert losses['loss_baseline'].item() == 0
    torch.testing.assert_close(losses['loss_pg'], expected, atol=1e-4,
                               rtol=1e-4)
    torch.testing.assert_close(head.rl_stats['advantage_abs'],
                               (reward - 0.25).abs().mean())


def _self_critical_by_hand(head, feats, labels, seed=5):
    """``(losses, sampled glimpse run, greedy run, advantage)``: the head's
    losses, then the same sample and the ``l = mu`` run redone here, with
    the per-image advantage -BCE(sampled scores) + BCE(greedy scores)
    written out (mean over classes)."""
    torch.manual_seed(seed)
    losses = head.loss((feats,), _samples(labels))
    torch.manual_seed(seed)
    out = head.glimpse((feats,), 'sample')
    greedy = head.glimpse((feats,), 'mean')
    y = torch.zeros(len(labels), head.num_classes)
    for i, lab in enumerate(labels):
        y[i, lab] = 1

    def bce(s):
        p = s.sigmoid()
        return -(y * p.log() + (1 - y) * (1 - p).log()).mean(-1)

    return losses, out, greedy, -bce(out['scores']) + bce(greedy['scores'])


def test_self_critical_baseline_and_neg_loss_reward_by_hand():
    """baseline 'self_critical', reward 'neg_loss' (bce): the advantage of
    each image is -BCE(sampled scores) + BCE(scores of l = mu), computed
    here from two separate glimpse runs; loss_pg = mean over labelled images
    of -sum_t log pi(l_t) * advantage."""
    head = _head(policy=dict(zero_init=False), loss_type='bce',
                 baseline=dict(mode='self_critical'),
                 reward=dict(kind='neg_loss')).train()
    assert head.baseline is None
    feats = torch.randn(3, 2, 6, 6)
    labels = [[0], [], [1, 2]]
    losses, out, _, adv = _self_critical_by_hand(head, feats, labels)
    z = (out['actions'] - out['mu']) / 0.11
    logp = (-0.5 * z ** 2 - math.log(0.11)
            - 0.5 * math.log(2 * math.pi)).sum(-1)  # (B, T)
    keep = [0, 2]
    pg = -(logp.sum(1) * adv)[keep].mean()
    torch.testing.assert_close(losses['loss_pg'], pg, atol=1e-4, rtol=1e-4)
    assert losses['loss_baseline'] == 0
    # the logged reward stays the paper's top-K recall
    top = out['scores'].argsort(-1, descending=True)
    recall = torch.tensor([
        len(set(top[i, :len(lab)].tolist()) & set(lab)) / len(lab)
        for i, lab in enumerate(labels) if lab])
    torch.testing.assert_close(losses['reward'], recall.mean())


def test_map_reading_location_network_in_the_head():
    """policy map_channels=in_channels: mu_1 is the attention centre over
    the map queried by s_0 (GaussianLocationPolicy's own formula is checked
    by hand in test_location_policy.py); a wrong width is refused."""
    head = _head(policy=dict(map_channels=2, zero_init=False)).eval()
    feats = torch.randn(2, 2, 6, 6)
    out = head.glimpse((feats,), 'mean')
    mu1, _, _ = head.loc_net(out['states'][:, 0], feats)
    torch.testing.assert_close(out['mu'][:, 0], mu1)
    torch.testing.assert_close(out['locations'], out['mu'])
    assert out['mu'].abs().max() < 1  # inside the outer cell centres
    assert (out['mu'][0] - out['mu'][1]).abs().max() > 1e-4  # per image
    with pytest.raises(ValueError, match='map_channels must be None or '
                       'in_channels=2, got 3'):
        _head(policy=dict(map_channels=3))


def _proposal_boxes(num_images, num_steps):
    """Boxes inside the 24 x 24 input of a 6 x 6 map at stride 4."""
    torch.manual_seed(3)
    xy = torch.rand(num_images, num_steps, 2) * 12
    return torch.cat([xy, xy + 4 + torch.rand(num_images, num_steps, 2) * 8],
                     -1)


@pytest.mark.parametrize('mode', ['mean', 'sample', 'random', 'proposals'])
def test_inhibition_of_return_in_the_head(mode):
    """policy inhibition: mu at step t is the policy's with the locations
    the earlier steps used (in every mode) as ``visited``; against the head
    without it (same seed, same weights) step 1 and the state that chooses
    l_2 are the same and mu_2 moves."""
    pol = dict(map_channels=2, zero_init=False)
    head = _head(num_steps=3, policy=dict(
        pol, inhibition=dict(weight=3., radius=0.5))).eval()
    plain = _head(num_steps=3, policy=pol).eval()
    feats = torch.randn(2, 2, 6, 6)
    boxes = _proposal_boxes(2, 3) if mode == 'proposals' else None
    torch.manual_seed(1)
    out = head.glimpse((feats,), mode, boxes)
    torch.manual_seed(1)
    ref = plain.glimpse((feats,), mode, boxes)
    for t in range(3):
        visited = out['locations'][:, :t]  # (B, t, 2), used at steps < t
        mu, _, _ = head.loc_net(out['states'][:, t], feats, visited)
        torch.testing.assert_close(out['mu'][:, t], mu)
    if mode == 'mean':
        assert torch.equal(out['locations'], out['mu'])
    assert torch.equal(out['mu'][:, 0], ref['mu'][:, 0])
    assert torch.equal(out['states'][:, :2], ref['states'][:, :2])
    assert (out['mu'][:, 1] - ref['mu'][:, 1]).abs().max() > 1e-3


def test_inhibition_none_leaves_the_head_as_before():
    """inhibition None: the same parameters and, in every mode, the same
    outputs bit for bit as the head built without the key, each step's mu
    the policy's without ``visited``."""
    pol = dict(map_channels=2, zero_init=False)
    plain = _head(policy=pol)
    none = _head(policy=dict(pol, inhibition=None))
    assert plain.state_dict().keys() == none.state_dict().keys()
    feats = torch.randn(2, 2, 6, 6)
    for mode in ('mean', 'sample', 'random', 'proposals'):
        boxes = _proposal_boxes(2, 2) if mode == 'proposals' else None
        torch.manual_seed(1)
        a = plain.glimpse((feats,), mode, boxes)
        torch.manual_seed(1)
        b = none.glimpse((feats,), mode, boxes)
        assert all(torch.equal(a[k], b[k]) for k in a)
        for t in range(2):
            assert torch.equal(b['mu'][:, t],
                               none.loc_net(b['states'][:, t], feats)[0])


def test_self_critical_loss_with_inhibition_by_hand():
    """The self-critical baseline's glimpse(..., 'mean') runs with
    inhibition: loss_pg = mean over images of -sum_t log pi(l_t) *
    (-BCE(sampled) + BCE(l = mu)), from two glimpse runs here; REINFORCE
    reaches the learnable inhibition weight."""
    head = _head(policy=dict(map_channels=2, zero_init=False,
                             inhibition=dict(weight=2., radius=0.5)),
                 loss_type='bce', baseline=dict(mode='self_critical'),
                 reward=dict(kind='neg_loss')).train()
    feats = torch.randn(3, 2, 6, 6)
    labels = [[0], [2], [1, 2]]
    losses, out, _, adv = _self_critical_by_hand(head, feats, labels)
    z = (out['actions'] - out['mu']) / 0.11
    logp = (-0.5 * z ** 2 - math.log(0.11)
            - 0.5 * math.log(2 * math.pi)).sum(-1)  # (B, T)
    torch.testing.assert_close(losses['loss_pg'],
                               -(logp.sum(1) * adv).mean(), atol=1e-4,
                               rtol=1e-4)
    head.zero_grad()
    losses['loss_pg'].backward()
    assert head.loc_net.log_inhibition_weight.grad.abs() > 0


def test_dropout_on_semantic_vectors_only_in_training():
    head = _head(dropout=0.5)
    feats = torch.randn(2, 2, 6, 6)
    head.eval()
    a = head.glimpse((feats,), 'mean')['scores']
    ref = _head(dropout=0.).eval().glimpse((feats,), 'mean')['scores']
    torch.testing.assert_close(a, ref)  # same weights (same seed), no drop
    head.train()
    torch.manual_seed(1)
    b = head.glimpse((feats,), 'mean')['scores']
    assert (a - b).abs().max() > 1e-4
    with pytest.raises(ValueError, match=r'dropout must be in \[0, 1\)'):
        _head(dropout=1.)
    with pytest.raises(ValueError, match="baseline mode must be one of"):
        _head(baseline=dict(mode='greedy'))
    with pytest.raises(ValueError, match="reward kind must be one of"):
        _head(reward=dict(kind='f1'))


def test_embedding_the_same_with_the_fc_weight_or_the_crops_permuted():
    """Issue 13: the semantic FC reads the crops in the cropper's (row,
    channel, column) order through a permuted copy of its weight when that
    copies less than permuting the crops; both give the same vectors."""
    head = _head(embed_dims=5, roi_size=3)
    x = torch.randn(2, 2, 5, 6)
    boxes = head.anchors(torch.rand(2, 2) * 2 - 1, head.cropper.input_size(x))
    by_row = head.cropper.by_row(x)
    # 2 images x (1 + 2 steps x 4 regions) = 18 region rows > 5 outputs
    weight = head._embed_weight(2)
    assert weight is not None and weight.shape == (5, 3 * 2 * 3)
    torch.testing.assert_close(head._embed(x, by_row, boxes, weight),
                               head._embed(x, by_row, boxes, None))
    assert _head(embed_dims=64)._embed_weight(2) is None  # 18 rows <= 64
    assert _head(embed_dims=5, roi_size=1)._embed_weight(2) is None


# ------------------------------------------------ map_policy='mixture'
def _mode_cells_by_hand(head, states, feats, visited=None):
    """The most probable cell's centre, from the query net's weights, with
    loops over the cells of the (B, C, H, W) map: (B, 2)."""
    lin = head.loc_net.net[-1]
    B, C, H, W = feats.shape
    out = []
    for b in range(B):
        q = lin.weight.detach() @ states[b].detach() + lin.bias.detach()
        best = None
        for i in range(H):
            for j in range(W):
                g = ((2 * j + 1) / W - 1, (2 * i + 1) / H - 1)
                logit = float(q @ feats[b, :, i, j]) / math.sqrt(C)
                if visited is not None:
                    w, r = head.loc_net.inhibition_weight.item(), 0.5
                    logit -= w * sum(math.exp(-((g[0] - lx) ** 2 +
                                                (g[1] - ly) ** 2) /
                                              (2 * r * r))
                                     for lx, ly in visited[b].tolist())
                if best is None or logit > best[0]:
                    best = (logit, g)
        out.append(best[1])
    return torch.tensor(out)


@pytest.mark.parametrize('inhibition', [None, dict(weight=2., radius=0.5)])
def test_mixture_policy_mode_cells_in_the_head(inhibition):
    """map_policy='mixture': glimpse('mean') looks at the most probable cell
    of each step (by hand from the query net), stores the log-weights of
    the policy called directly and the cell centres; the sampling, random
    and proposal modes run."""
    head = _head(policy=dict(map_channels=2, zero_init=False,
                             map_policy='mixture',
                             inhibition=inhibition)).eval()
    assert head.loc_net.is_mixture
    feats = torch.randn(3, 2, 6, 6) * 3
    out = head.glimpse((feats,), 'mean')
    assert out['log_w'].shape == (3, 2, 36)
    torch.testing.assert_close(out['centres'],
                               head.loc_net.cell_centres(6, 6))
    assert torch.equal(out['locations'], out['mu'])
    for t in range(2):
        visited = out['locations'][:, :t] if inhibition and t else None
        hand = _mode_cells_by_hand(head, out['states'][:, t], feats,
                                   visited)
        torch.testing.assert_close(out['locations'][:, t], hand)
        direct = head.loc_net(out['states'][:, t], feats, visited)
        assert torch.equal(out['log_w'][:, t], direct.log_w)
    assert (out['locations'][0] != out['locations'][1]).any()  # per image
    for mode in ('sample', 'random', 'proposals'):
        boxes = _proposal_boxes(3, 2) if mode == 'proposals' else None
        res = head.glimpse((feats,), mode, boxes)
        assert res['locations'].shape == (3, 2, 2)
        assert torch.isfinite(res['scores']).all()


def test_mixture_self_critical_neg_loss_by_hand():
    """Self-critical baseline (glimpse(..., 'mean'): the mode cells) and
    the neg_loss reward with the mixture: loss_pg = mean over images of
    -sum_t log pi(a_t) * (-BCE(sampled) + BCE(mode cells)), log pi the
    mixture density summed over the cells here; finite, and its gradient
    reaches the query network; random locations keep the policy in the
    graph with a zero loss."""
    head = _head(policy=dict(map_channels=2, zero_init=False,
                             map_policy='mixture'),
                 loss_type='bce', baseline=dict(mode='self_critical'),
                 reward=dict(kind='neg_loss')).train()
    feats = torch.randn(3, 2, 6, 6)
    labels = [[0], [2], [1, 2]]
    losses, out, _, adv = _self_critical_by_hand(head, feats, labels)
    assert torch.isfinite(losses['loss_pg'])
    g = head.loc_net.cell_centres(6, 6)  # (HW, 2)
    d2 = (out['actions'][:, :, None] - g).pow(2).sum(-1)  # (B, T, HW)
    dens = torch.exp(-d2 / (2 * 0.11 ** 2)) / (2 * math.pi * 0.11 ** 2)
    logp = (out['log_w'].exp() * dens).sum(-1).log()  # (B, T)
    torch.testing.assert_close(losses['loss_pg'],
                               -(logp.sum(1) * adv).mean(), atol=1e-4,
                               rtol=1e-4)
    head.zero_grad()
    losses['loss_pg'].backward()
    assert _grads(head.loc_net) > 0
    head = _head(policy=dict(map_channels=2, map_policy='mixture'),
                 random_locations=True).train()
    losses = head.loss((feats,), _samples(labels))
    assert losses['loss_pg'] == 0
    losses['loss_pg'].backward()
    assert all(p.grad is not None for p in head.loc_net.parameters())


@pytest.mark.parametrize('map_channels', [None, 2])
def test_map_policy_mean_leaves_the_head_as_before(map_channels):
    """The default map_policy ('mean'): the same outputs and losses bit for
    bit as the head built without the key, no log-weights stored."""
    pol = dict(map_channels=map_channels, zero_init=False)
    plain = _head(policy=pol)
    mean = _head(policy=dict(pol, map_policy='mean'))
    feats = torch.randn(2, 2, 6, 6)
    for mode in ('mean', 'sample', 'random', 'proposals'):
        boxes = _proposal_boxes(2, 2) if mode == 'proposals' else None
        torch.manual_seed(1)
        a = plain.glimpse((feats,), mode, boxes)
        torch.manual_seed(1)
        b = mean.glimpse((feats,), mode, boxes)
        assert a.keys() == b.keys() and 'log_w' not in b
        assert all(torch.equal(a[k], b[k]) for k in a)
    for head in (plain, mean):
        head.train()
    torch.manual_seed(2)
    la = plain.loss((feats,), _samples([[0], [1, 2]]))
    torch.manual_seed(2)
    lb = mean.loss((feats,), _samples([[0], [1, 2]]))
    assert all(torch.equal(la[k], lb[k]) for k in la)


def test_mixture_policy_needs_map_channels_in_the_head():
    with pytest.raises(ValueError, match=r"GaussianLocationPolicy: "
                       r"map_policy='mixture' needs map_channels"):
        _head(policy=dict(map_policy='mixture'))
    with pytest.raises(ValueError, match=r'map_policy must be one of'):
        _head(policy=dict(map_channels=2, map_policy='soft'))
