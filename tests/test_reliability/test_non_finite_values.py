"""Bad-input suite (issue 6, item 4), NaN / inf / zero: non-finite features,
rewards, advantages and predictions, a batch that emits no glimpse, NaN on
one rank (rows 25-27).

Every kind of bad input gets a clear error naming the file / field and what
was expected, a conversion checked against an independent decoder, or a
logged skip. The table of behaviours is docs/reliability.md; the test names
carry its row numbers."""
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from mmengine.registry import init_default_scope

import marl_mm  # noqa: F401  (registers everything)
from marl_mm.engine.hooks import NonFiniteCheckHook
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample
from tests_conftest import tiny_classifier, tiny_runner

REPO = Path(__file__).resolve().parents[2]
DATASETS = REPO / 'configs' / '_base_' / 'datasets'

init_default_scope('mmpretrain')


# -------------------------------------------------- 25-27 NaN / inf / zero
def test_25_nan_features_stop_training_naming_iteration_and_term(tmp_path):
    model = tiny_classifier()
    model.backbone.register_forward_hook(
        lambda m, i, out: tuple(o * float('nan') for o in out))
    runner = tiny_runner(tmp_path, 'bad_input_25', model,
                         hooks=['NonFiniteCheckHook'])
    with pytest.raises(FloatingPointError) as e:
        runner.train()
    text = str(e.value)
    assert 'training iteration 1 (epoch 1, batch 0): loss is nan' in text
    assert '0.png' in text and '1.png' in text  # the batch's images
    # without the hook the run "succeeds" with NaN weights
    model = tiny_classifier()
    model.backbone.register_forward_hook(
        lambda m, i, out: tuple(o * float('nan') for o in out))
    tiny_runner(tmp_path, 'bad_input_25b', model).train()
    assert torch.isnan(model.head.fc.weight).all()


def _fake_runner(rl_stats=None):
    head = SimpleNamespace(rl_stats=rl_stats or {})
    return SimpleNamespace(model=SimpleNamespace(head=head), iter=6,
                           epoch=2)


@pytest.mark.parametrize('outputs, rl_stats, name', [
    (dict(loss=torch.tensor(1.), loss_cls=torch.tensor(1.),
          loss_pg=torch.tensor(float('inf'))), {}, 'loss_pg is inf'),
    (dict(loss=torch.tensor(float('nan')), loss_cls=torch.tensor(1.),
          reward=torch.tensor(float('nan'))), {}, 'reward is nan'),
    (dict(loss=torch.tensor(1.)),
     dict(reward=torch.tensor(.5), advantage_abs=torch.tensor(float('inf'))),
     'rl_stats.advantage_abs is inf'),
    (dict(loss=torch.tensor(1.), adv_abs=float('-inf')), {},
     'adv_abs is -inf'),
])
def test_26_nan_inf_rewards_and_advantages(outputs, rl_stats, name):
    hook = NonFiniteCheckHook()
    samples = [DataSample(metainfo=dict(img_path=f'{i}.jpg'))
               for i in range(6)]
    with pytest.raises(FloatingPointError) as e:
        hook.after_train_iter(_fake_runner(rl_stats), 3,
                              dict(data_samples=samples), outputs)
    text = str(e.value)
    assert f'training iteration 7 (epoch 3, batch 3): {name}' in text
    assert "'0.jpg'" in text and '(6 in all)' in text
    hook.after_train_iter(  # finite values pass
        _fake_runner(dict(reward=torch.tensor(.5))), 0, None,
        dict(loss=torch.tensor(1.), num_emitted=torch.tensor(3)))


def test_26_nan_predictions_in_validation():
    hook = NonFiniteCheckHook()
    good = DataSample(metainfo=dict(img_path='a.jpg')).set_pred_score(
        torch.tensor([.2, .8]))
    bad = DataSample(metainfo=dict(img_path='b.jpg')).set_pred_score(
        torch.tensor([float('nan'), .8]))
    hook.after_val_iter(None, 0, None, [good])
    with pytest.raises(FloatingPointError, match='test batch 4: pred_score '
                       'of b.jpg holds NaN'):
        hook.after_test_iter(None, 4, None, [good, bad])
    with pytest.raises(ValueError, match='max_images'):
        NonFiniteCheckHook(max_images=-1)


def test_27_zero_glimpses_emitted_for_a_whole_batch():
    """An emission policy that emits nothing: training gives finite losses
    and gradients (no classification term, the policy still learns); at test
    every image emits its most likely glimpse (docs/method.md)."""
    from marl_mm.models.necks import GlimpseFeatures
    torch.manual_seed(0)
    head = MODELS.build(dict(
        type='GRREHead', num_classes=3, in_channels=6, context_channels=6,
        relation_channels=5, emission=dict(bias_init=-50.)))
    head.init_weights()
    g = torch.Generator().manual_seed(0)
    x = torch.rand(2, 4, 6, generator=g, requires_grad=True)
    c = torch.rand(2, 4, 6, generator=g)
    a = torch.rand(2, 4, 6, 3, 3, generator=g)
    feats = GlimpseFeatures(x=x, v=a, a=a, c=c)
    samples = [DataSample().set_gt_label([0, 2]),
               DataSample().set_gt_label([1])]
    losses = head.loss(feats, samples)
    assert float(losses['num_emitted']) == 0
    for key, value in losses.items():
        assert torch.isfinite(torch.as_tensor(value)).all(), key
    total = sum(v for k, v in losses.items() if 'loss' in k)
    total.backward()
    for name, p in head.named_parameters():
        assert p.grad is None or torch.isfinite(p.grad).all(), name
    assert head.emission.fc.bias.grad is not None  # the policy still learns
    head.eval()
    with torch.no_grad():
        preds = head.predict(feats)
    for ds in preds:
        assert int(ds.emission_mask.sum()) == 1
        assert torch.isfinite(ds.pred_score).all()
        # the image score is the emitted glimpse's P_t
        t = int(ds.emission_mask.nonzero())
        torch.testing.assert_close(ds.pred_score, ds.glimpse_scores[t])


def _ddp_nan_worker(rank, port, queue):
    import os
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    torch.distributed.init_process_group('gloo', rank=rank, world_size=2)
    try:
        torch.set_num_threads(1)
        hook = NonFiniteCheckHook()
        hook.after_train_iter(_fake_runner(), 0, None,  # finite on both
                              dict(loss=torch.tensor(1.)))
        loss = torch.tensor(float('nan') if rank == 1 else 1.)
        try:
            hook.after_train_iter(_fake_runner(), 1, None, dict(loss=loss))
            queue.put((rank, 'no error'))
        except FloatingPointError as e:
            queue.put((rank, str(e)))
    finally:
        torch.distributed.destroy_process_group()


def test_25_nan_on_one_rank_stops_every_rank():
    import socket
    import torch.multiprocessing as mp
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    queue = mp.get_context('fork').Queue()
    mp.start_processes(_ddp_nan_worker, args=(port, queue), nprocs=2,
                       start_method='fork', join=True)
    messages = dict(queue.get(timeout=60) for _ in range(2))
    assert 'iteration 7 (epoch 3, batch 1): loss is nan' in messages[1]
    assert 'a NaN / inf value on 1 other rank(s) (this is rank 0)' in \
        messages[0]


# NaN features inside the glimpse heads: a non-finite loss (which
# NonFiniteCheckHook reports) or a FloatingPointError naming the head, never
# a crash (both fixed in models/glimpse, commit 8e40dc5).
# RegionCropper loaded from its file: torch + torchvision only (fast).
NAN_BOXES = """
import importlib.util, sys, torch
spec = importlib.util.spec_from_file_location('region_cropper', sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
crop = module.RegionCropper(roi_size=2, stride=4., sampling_ratio=2)
padded = crop.pad(torch.full((2, 3, 8, 8), float('nan')))
boxes = torch.full((2, 5, 4), float('nan'))  # what NaN features give
out = crop(padded, boxes)
print('shape', tuple(out.shape))
"""


def test_25_nan_boxes_in_region_cropper_do_not_crash():
    """NaN boxes (from NaN features) used to kill the process (SIGSEGV in
    torchvision's roi_align); RegionCropper now keeps boxes finite."""
    import subprocess
    import sys
    path = REPO / 'marl_mm' / 'models' / 'glimpse' / 'region_cropper.py'
    result = subprocess.run([sys.executable, '-c', NAN_BOXES, str(path)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f'exit code {result.returncode}'
    assert 'shape (2, 5, 3, 2, 2)' in result.stdout


def test_25_nan_features_in_grre_head_give_clear_outcome():
    from marl_mm.models.necks import GlimpseFeatures
    torch.manual_seed(0)
    head = MODELS.build(dict(type='GRREHead', num_classes=3, in_channels=6,
                             context_channels=6, relation_channels=5))
    x = torch.full((2, 4, 6), float('nan'))
    c, a = torch.rand(2, 4, 6), torch.rand(2, 4, 6, 3, 3)
    samples = [DataSample().set_gt_label([0]),
               DataSample().set_gt_label([1, 2])]
    try:
        losses = head.loss(GlimpseFeatures(x=x, v=a, a=a, c=c), samples)
    except FloatingPointError:
        return
    assert not all(torch.isfinite(torch.as_tensor(v)).all()
                   for k, v in losses.items() if 'loss' in k)
