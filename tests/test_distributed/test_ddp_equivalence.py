"""DDP (2 processes, gloo, CPU) equals one process with the same total batch.

RARL and RARNN (ResNet-18 with 16 base channels at 64 px, BatchNorm frozen
with ``norm_eval``) train 3 SGD steps (momentum 0.9; with Adam, elements
whose gradient is ~0 turn float32 rounding into sign-like updates: measured
max |diff| 1.6e-4 at lr 1e-2, while the gradients agree to 1e-6 relative)
with batch 2 on each of 2 ranks through mmengine's
``MMDistributedDataParallel.train_step`` (what the Runner calls), and with
batch 4 in one process. Rank ``r`` gets the rows
``r::2`` of each global batch (as mmengine's ``DefaultSampler``).

Same policy noise on both sides: the heads draw their exploration noise for
the whole local batch (``torch.randn_like`` / ``torch.bernoulli``), so a
2-rank split draws different numbers than one process. For the comparison
the samplers (``GaussianLocationPolicy.sample``,
``EmissionIndicator.sample``) are replaced by ones reading per-image noise
from a table seeded by ``(seed, iteration, call)`` and indexed by the
image's row in the global batch: every image gets the same noise whatever
rank it lands on. The sampling distributions are unchanged. Separately, the
unmodified stochastic DDP run is reproducible: two runs with
``set_random_seed(0, diff_rank_seed=True)`` end with identical weights.

Checked: gradients before every step (policy: ``loc_net`` / ``emission``;
baseline: ``baseline``; all others), weights after 3 steps, both ranks
bit-identical, and validation metrics gathered across ranks by mmengine's
``collect_results`` equal the single-process evaluation of the same weights.
Settings the equality needs (see docs/distributed.md): frozen or
synchronised BatchNorm, and every RARNN sample emitting at least one glimpse
(its Eq. 10 mean is over the local samples that emitted). Advantages are
normalised ('meanstd', RARNN's default; RARL's default is the paper's raw
R - b, set to 'meanstd' here to test it) with statistics of the global
batch (``PolicyHeadMixin.normalise_advantage`` all-reduces them).

The single-process evaluation loads the DDP-trained state dict strictly. The unused-parameter sweep over every
config is ``test_ddp_configs.py``.
"""
import io
import os
import socket
import time
from contextlib import contextmanager
from pathlib import Path
from queue import Empty

import pytest
import torch
import torch.multiprocessing as mp
from mmengine.evaluator import Evaluator
from mmengine.model import MMDistributedDataParallel
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from mmengine.runner import set_random_seed

import marl_mm  # noqa: F401
from marl_mm.models.glimpse.emission_indicator import EmissionIndicator
from marl_mm.models.glimpse.gaussian_location_policy import \
    GaussianLocationPolicy
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

REPO_ROOT = Path(__file__).resolve().parents[2]
WORLD, GLOBAL_BATCH, STEPS, NUM_CLASSES, SIZE = 2, 4, 3, 8, 64
WEIGHT_TOL = 1e-6  # measured max |diff| <1e-7 (float32 all-reduce order)

TINY_BACKBONE = dict(
    type='FeatureMapWrapper',
    backbone=dict(type='ResNet', depth=18, stem_channels=16,
                  base_channels=16, num_stages=3, strides=(1, 2, 2),
                  dilations=(1, 1, 1), out_indices=(2, ),
                  norm_eval=True),
    out_index=-1)  # (B, 64, 4, 4) at 64 px
PREPROCESSOR = dict(type='ClsDataPreprocessor', num_classes=NUM_CLASSES,
                    mean=[123.675, 116.28, 103.53],
                    std=[58.395, 57.12, 57.375], to_rgb=True, to_onehot=True)
MODELS_CFG = {
    'rarl': dict(
        type='ImageClassifier', backbone=TINY_BACKBONE,
        data_preprocessor=PREPROCESSOR,
        head=dict(type='LSTMGlimpseHead', num_classes=NUM_CLASSES,
                  in_channels=64, feat_stride=16, num_steps=2,
                  anchor_sizes=(16, 32), roi_size=3, embed_dims=16,
                  hidden_dims=16, baseline=dict(hidden_dims=8),
                  policy=dict(sigma=0.2, zero_init=False),
                  loss_type='bce', advantage_norm='meanstd')),
    'rarnn': dict(
        type='ImageClassifier', backbone=TINY_BACKBONE,
        data_preprocessor=PREPROCESSOR,
        neck=dict(type='RHNContextNeck',
                  rhn=dict(type='RHN', in_channels=64, feat_dims=16,
                           spatial_size=4, num_glimpses=3),
                  context=dict(type='ContextExtractor', in_channels=64,
                               branch_channels=8)),
        head=dict(type='GRREHead', num_classes=NUM_CLASSES, in_channels=16,
                  context_channels=16, relation_channels=16, num_samples=2,
                  baseline_hidden=8,  # advantage_norm: 'meanstd'
                  emission=dict(bias_init=2.,
                                weight_std=0.1))),
}
POLICY_KEYS = {'rarl': ('head.loc_net.', ), 'rarnn': ('head.emission.', )}
BASELINE_KEYS = ('head.baseline.', )


# --------------------------------------------------------- per-image noise
NOISE = {'seed': 0, 'iter': 0, 'call': 0, 'rows': None}


def _table(shape, kind):
    """Noise of the whole global batch for this call; this process's rows."""
    g = torch.Generator().manual_seed(
        NOISE['seed'] * 1_000_003 + NOISE['iter'] * 1009 + NOISE['call'])
    NOISE['call'] += 1
    draw = torch.randn if kind == 'normal' else torch.rand
    table = draw((GLOBAL_BATCH, ) + tuple(shape), generator=g)
    return table[NOISE['rows']]


def _gaussian_sample(mu, sigma):
    raw = (mu + sigma * _table(mu.shape[1:], 'normal')).detach()  # (B, 2)
    return raw, raw.clamp(-1., 1.)


def _bernoulli_sample(logits, num_samples):
    p = logits.detach().sigmoid()  # (B, T)
    u = _table((num_samples, ) + p.shape[1:], 'uniform')  # (B, K, T)
    return (u < p[:, None]).flatten(0, 1)  # (B*K, T), row b*K + k


@contextmanager
def per_image_noise():
    saved = (GaussianLocationPolicy.sample, EmissionIndicator.sample)
    GaussianLocationPolicy.sample = staticmethod(_gaussian_sample)
    EmissionIndicator.sample = staticmethod(_bernoulli_sample)
    try:
        yield
    finally:
        GaussianLocationPolicy.sample = staticmethod(saved[0])
        EmissionIndicator.sample = staticmethod(saved[1])


# ------------------------------------------------------------------- data
def _data():
    g = torch.Generator().manual_seed(1)
    train = torch.randint(0, 256, (STEPS, GLOBAL_BATCH, 3, SIZE, SIZE),
                          dtype=torch.uint8, generator=g)
    labels = torch.rand(STEPS, GLOBAL_BATCH, NUM_CLASSES, generator=g) < 0.3
    labels[..., 0] |= ~labels.any(-1)  # every image has a label
    val = torch.randint(0, 256, (8, 3, SIZE, SIZE), dtype=torch.uint8,
                        generator=g)
    val_labels = torch.rand(8, NUM_CLASSES, generator=g) < 0.3
    val_labels[..., 0] |= ~val_labels.any(-1)
    return train, labels, val, val_labels


def _batch(images, labels, rows):
    return dict(inputs=[images[i] for i in rows],
                data_samples=[DataSample().set_gt_label(
                    labels[i].nonzero().flatten()) for i in rows])


def _train(name, rank, world, data):
    """Train STEPS steps; grads before each step, final weights."""
    torch.manual_seed(0)
    model = MODELS.build(MODELS_CFG[name])
    model.init_weights()
    if world > 1:
        model = MMDistributedDataParallel(
            module=model, broadcast_buffers=False,
            find_unused_parameters=False)
    net = model.module if world > 1 else model
    optim = build_optim_wrapper(model, dict(
        optimizer=dict(type='SGD', lr=0.05, momentum=0.9)))
    grads = []
    optim.optimizer.register_step_pre_hook(lambda *_: grads.append({
        n: p.grad.detach().clone() for n, p in net.named_parameters()
        if p.grad is not None}))
    rows = list(range(rank, GLOBAL_BATCH, world))
    train, labels = data[:2]
    for it in range(STEPS):
        NOISE.update(iter=it, call=0, rows=rows)
        model.train_step(_batch(train[it], labels[it], rows), optim)
    weights = {k: v.detach().clone() for k, v in net.state_dict().items()}
    return net, grads, weights


def _evaluate(net, rank, world, data):
    """Metrics over the 8 val images, rank r evaluating rows r::world."""
    val, val_labels = data[2:]
    evaluator = Evaluator([dict(type='MultiLabelTopKMetric', topk=3,
                                thr=0.1),
                           dict(type='MultiLabelAP', mode='noninterp')])
    rows = list(range(rank, len(val), world))
    per_batch = 4 // world
    net.eval()
    for start in range(0, len(rows), per_batch):
        batch = _batch(val, val_labels, rows[start:start + per_batch])
        evaluator.process(net.val_step(batch), batch)
    return evaluator.evaluate(len(val))


def _worker(rank, port, queue):
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    torch.distributed.init_process_group('gloo', rank=rank, world_size=WORLD)
    try:
        torch.set_num_threads(1)
        init_default_scope('mmpretrain')
        data = _data()
        out = {}
        for name in MODELS_CFG:
            with per_image_noise():
                net, grads, weights = _train(name, rank, WORLD, data)
            metrics = _evaluate(net, rank, WORLD, data)
            # the unmodified stochastic sampling, seeded per rank, twice
            runs = []
            for _ in range(2):
                set_random_seed(0, diff_rank_seed=True)
                runs.append(_train(name, rank, WORLD, data)[2])
            out[name] = dict(grads=grads, weights=weights, metrics=metrics,
                             reproducible=all(torch.equal(runs[0][k],
                                                          runs[1][k])
                                              for k in runs[0]))
        buffer = io.BytesIO()  # plain bytes: no shared-memory tensors
        torch.save(out, buffer)
        queue.put((rank, buffer.getvalue()))
    finally:
        torch.distributed.destroy_process_group()


def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _max_diff(a, b, keys=None):
    keys = [k for k in a if keys is None or k.startswith(keys)]
    assert keys
    return max((a[k].float() - b[k].float()).abs().max().item()
               for k in keys)


@pytest.fixture(scope='module')
def runs():
    """2-rank results (from spawned workers) and the 1-process reference."""
    ctx = mp.get_context('fork')
    queue = ctx.Queue()
    context = mp.start_processes(_worker, args=(_free_port(), queue),
                                 nprocs=WORLD, start_method='fork',
                                 join=False)
    # read before joining (a child blocks until its queue data is read);
    # join(timeout) re-raises a worker's exception
    ranks = {}
    deadline = time.time() + 300
    while len(ranks) < WORLD:
        try:
            rank, out = queue.get(timeout=1)
            ranks[rank] = torch.load(io.BytesIO(out), weights_only=True)
        except Empty:
            context.join(timeout=0)
            assert time.time() < deadline, 'DDP workers timed out'
    while not context.join():
        pass
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    init_default_scope('mmpretrain')
    data = _data()
    single = {}
    try:
        for name in MODELS_CFG:
            with per_image_noise():
                net, grads, weights = _train(name, 0, 1, data)
            # evaluate the DDP-trained weights in one process: every entry
            # of the state dict, strictly
            net.load_state_dict(ranks[0][name]['weights'], strict=True)
            single[name] = dict(grads=grads, weights=weights,
                                metrics=_evaluate(net, 0, 1, data))
    finally:
        torch.set_num_threads(threads)
    return ranks, single


@pytest.mark.parametrize('name', list(MODELS_CFG))
def test_ddp_equals_single_process(runs, name):
    ranks, single = runs
    ddp, ref = ranks[0][name], single[name]
    # the ranks hold identical weights (DDP averages the gradients)
    assert _max_diff(ddp['weights'], ranks[1][name]['weights']) == 0
    assert len(ddp['grads']) == len(ref['grads']) == STEPS
    for step in range(STEPS):
        g_ddp, g_ref = ddp['grads'][step], ref['grads'][step]
        assert g_ddp.keys() == g_ref.keys()
        for part in POLICY_KEYS[name] + BASELINE_KEYS:
            # the policy and baseline parts do get (non-zero) gradients
            assert max(g_ref[k].abs().max().item() for k in g_ref
                       if k.startswith(part)) > 0, part
        for k in g_ref:  # float32 all-reduce rounding only
            scale = g_ref[k].abs().max().item()
            assert (g_ddp[k] - g_ref[k]).abs().max().item() <= \
                1e-5 * scale + 1e-9, k
    diffs = {keys: _max_diff(ddp['weights'], ref['weights'], keys)
             for keys in (POLICY_KEYS[name], BASELINE_KEYS, None)}
    grad_diff = max(_max_diff(ddp['grads'][s], ref['grads'][s])
                    for s in range(STEPS))
    metric_diff = max(abs(ddp['metrics'][k] - v)
                      for k, v in ref['metrics'].items())
    print(f'{name}: max |grad diff| {grad_diff:.2e}, max |weight diff| '
          f'{diffs}, max |metric diff| {metric_diff:.2e}, metrics '
          f'{ref["metrics"]}')
    for keys, diff in diffs.items():
        assert diff < WEIGHT_TOL, (keys, diff)
    # metrics gathered across ranks (collect_results) = one process
    assert ddp['metrics'].keys() == ref['metrics'].keys()
    assert len(ddp['metrics']) >= 7
    for key, value in ref['metrics'].items():
        assert ddp['metrics'][key] == pytest.approx(value, abs=1e-6), key
    assert ranks[1][name]['metrics'] == ddp['metrics']
    # unmodified stochastic sampling: reproducible per seed
    assert ddp['reproducible'] and ranks[1][name]['reproducible']
