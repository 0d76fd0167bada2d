"""tools/analysis_tools/benchmark.py runs on a tiny config and its report is
complete and self-consistent. Nothing here is timed: only relations between
the measured numbers, and the FLOP count against a count by hand."""
import json
import math
from pathlib import Path

import pytest
import torch
import torch.nn as nn
from mmengine.config import Config
from tests_conftest import load_tool

REPO_ROOT = Path(__file__).resolve().parents[2]
BASE_CONFIG = REPO_ROOT / 'configs' / 'rarl_resnet18_shapes.py'
#: the quick-start RARL model made narrower (a quarter of the channels)
TINY = f"""
_base_ = ['{BASE_CONFIG}']
model = dict(
    backbone=dict(backbone=dict(base_channels=16, stem_channels=16)),
    head=dict(in_channels=64, embed_dims=32, hidden_dims=32,
              baseline=dict(hidden_dims=16)))
"""


bench = load_tool('tools/analysis_tools/benchmark.py')


@pytest.fixture(scope='module')
def config(tmp_path_factory):
    path = tmp_path_factory.mktemp('cfg') / 'tiny_rarl.py'
    path.write_text(TINY)
    return path


@pytest.fixture(scope='module')
def report(config, tmp_path_factory):
    out = tmp_path_factory.mktemp('bench') / 'report.json'
    rep = bench.main([str(config), '--input-size', '80', '--batch-size', '2',
                      '--iters', '1', '--warmup', '1', '--peak-tflops', '2.5',
                      '--json', str(out)])
    return rep, json.loads(out.read_text())


def _conv_flops_by_hand(module: nn.Module, x: torch.Tensor) -> int:
    """2 * MACs of every Conv2d / Linear, from hooks (independent of
    FlopCounterMode)."""
    total = []

    def hook(m, inp, out):
        if isinstance(m, nn.Conv2d):
            k = m.kernel_size[0] * m.kernel_size[1] * m.in_channels // \
                m.groups
            total.append(2 * k * out.numel())
        elif isinstance(m, nn.Linear):
            total.append(2 * m.in_features * out.numel())

    handles = [m.register_forward_hook(hook) for m in module.modules()]
    with torch.no_grad():
        module(x)
    for h in handles:
        h.remove()
    return sum(total)


def test_report_fields_and_consistency(report):
    rep, saved = report
    assert saved['train']['time_s'] == pytest.approx(rep['train']['time_s'])
    assert rep['input_size'] == 80 and rep['train_size'] == 80  # no crop
    batch, peak = rep['batch_size'], rep['peak_tflops']
    sections = [rep['train'], rep['inference']['single_view'],
                rep['inference']['ten_view'], rep['inference']['ensemble']]
    for sec in sections:
        assert sec['time_s'] > 0 and sec['flops_per_image'] > 0
        assert sec['images_per_s'] == pytest.approx(batch / sec['time_s'])
        achieved = sec['flops_per_image'] * batch / sec['time_s'] / 1e12
        assert sec['achieved_tflops'] == pytest.approx(achieved)
        assert sec['peak_fraction'] == pytest.approx(achieved / peak)
    tr = rep['train']
    assert tr['head_to_backbone'] == pytest.approx(tr['head_time_s'] /
                                                   tr['backbone_time_s'])
    # backward costs up to twice the forward (the first convolution needs
    # no input gradient): a step is 2-3x the inference
    single = rep['inference']['single_view']['flops_per_image']
    assert 2.0 * single < tr['flops_per_image'] <= 3.0 * single
    assert tr['flops_per_image'] == pytest.approx(
        tr['backbone_flops_per_image'] + tr['head_flops_per_image'],
        rel=0.02)
    tv = rep['inference']['ten_view']
    assert tv['ratio_to_backbone'] == pytest.approx(
        tv['time_s'] / tv['backbone_passes_time_s'])
    ens = rep['inference']['ensemble']
    assert ens['sizes'] == [80, 100]
    assert ens['time_s'] == pytest.approx(sum(ens['scale_times_s']))
    assert ens['scale_times_s'][0] == pytest.approx(tv['time_s'])
    assert ens['flops_per_image'] > tv['flops_per_image']
    assert rep['peak_memory_mib'] > 0
    assert rep['versions']['torch'] == torch.__version__


def _gflops_per_s(flops_per_image, batch, time_s):
    return flops_per_image * batch / time_s / 1e9


def test_head_speed_per_flop_against_the_backbone(report):
    """Issue 13: the head's achieved FLOP/s over the backbone's, from the
    report's own times and FLOPs, in every section."""
    rep, _ = report
    batch = rep['batch_size']
    tr = rep['train']
    sv = rep['inference']['single_view']
    tv = rep['inference']['ten_view']
    # the ten views' head part is what they cost beyond the two passes
    head_parts = [
        (tr, tr['head_flops_per_image'], tr['head_time_s'],
         tr['backbone_flops_per_image'], tr['backbone_time_s']),
        (sv, sv['head_flops_per_image'], sv['head_time_s'],
         sv['backbone_flops_per_image'], sv['backbone_time_s']),
        (tv, tv['flops_per_image'] - tv['backbone_passes_flops_per_image'],
         tv['time_s'] - tv['backbone_passes_time_s'],
         tv['backbone_passes_flops_per_image'], tv['backbone_passes_time_s'])]
    for sec, head_f, head_t, bb_f, bb_t in head_parts:
        assert head_f > 0 and bb_f > 0 and bb_t > 0
        assert sec['head_flop_ratio'] == pytest.approx(head_f / bb_f)
        assert sec['head_to_backbone'] == pytest.approx(head_t / bb_t)
        if head_t > 0:  # ten views: a difference of two times
            assert sec['head_flop_rate_to_backbone'] == pytest.approx(
                _gflops_per_s(head_f, batch, head_t) /
                _gflops_per_s(bb_f, batch, bb_t))
        else:
            assert sec['head_flop_rate_to_backbone'] is None
    # the single view's parts add up to it; its backbone is half the passes
    assert sv['flops_per_image'] == pytest.approx(
        sv['backbone_flops_per_image'] + sv['head_flops_per_image'])
    assert tv['backbone_passes_flops_per_image'] == \
        2 * sv['backbone_flops_per_image']  # same N here (no crop)
    assert tv['flop_ratio_to_backbone'] == pytest.approx(
        tv['flops_per_image'] / tv['backbone_passes_flops_per_image'])
    assert 'head FLOP/s / backbone FLOP/s' in bench.format_table(rep)


def test_flops_match_a_count_by_hand(report, config):
    rep, _ = report
    cfg = Config.fromfile(str(config))
    model = bench.build_model(cfg, torch.device('cpu'), False).eval()
    one_pass = _conv_flops_by_hand(model.backbone, torch.zeros(1, 3, 80, 80))
    tv = rep['inference']['ten_view']
    # ten views need one pass per image and one per flipped image
    assert tv['backbone_passes_flops_per_image'] == 2 * one_pass
    assert tv['flops_per_image'] > 2 * one_pass


def test_targets(report):
    rep, _ = report
    by_name = {t['name']: t for t in rep['targets']}
    assert set(by_name) == {'head_to_backbone_train', 'ten_view_to_backbone',
                            'head_flop_rate_train', 'ensemble_peak_fraction',
                            'train_peak_fraction'}
    rate = by_name['head_flop_rate_train']
    assert rate['value'] == rep['train']['head_flop_rate_to_backbone']
    assert rate['met'] == (rate['value'] >= 0.80)
    head = by_name['head_to_backbone_train']
    assert head['value'] == rep['train']['head_to_backbone']
    assert head['met'] == (head['value'] <= 0.10)
    tv = by_name['ten_view_to_backbone']
    assert tv['met'] == (tv['value'] <= 1.15)
    # FLOP-utilisation targets are for a GPU in bf16: pending on a CPU
    assert by_name['ensemble_peak_fraction']['met'] is None
    assert by_name['train_peak_fraction']['met'] is None
    text = bench.format_table(rep)
    assert 'pending' in text and 'train step' in text


def test_bad_arguments():
    with pytest.raises(SystemExit):
        bench.parse_args([str(BASE_CONFIG), '--batch-size', '0'])
    assert bench.input_sizes(Config(dict(image_size=512, crop_size=448)),
                             None) == (512, 448)
    assert bench.input_sizes(Config(dict(image_size=512, crop_size=448)),
                             640) == (640, 576)
    assert bench.input_sizes(Config(dict()), None) == (224, 224)


def _flops(rep: dict) -> dict:
    """Every FLOP figure of a report, by phase."""
    tr, inf = rep['train'], rep['inference']
    return dict(train=tr['flops_per_image'],
                backbone=tr['backbone_flops_per_image'],
                head=tr['head_flops_per_image'],
                single=inf['single_view']['flops_per_image'],
                single_backbone=inf['single_view']['backbone_flops_per_image'],
                single_head=inf['single_view']['head_flops_per_image'],
                ten_view=inf['ten_view']['flops_per_image'],
                passes=inf['ten_view']['backbone_passes_flops_per_image'],
                ensemble=inf['ensemble']['flops_per_image'])


def _assert_finite(rep: dict) -> None:
    tr, inf = rep['train'], rep['inference']
    for sec in (tr, inf['single_view'], inf['ten_view'], inf['ensemble']):
        for key in ('time_s', 'images_per_s', 'achieved_tflops'):
            assert math.isfinite(sec[key]) and sec[key] > 0, key
    for sec in (tr, inf['single_view']):
        for key in ('backbone_time_s', 'head_time_s', 'head_to_backbone',
                    'head_flop_rate_to_backbone'):
            assert math.isfinite(sec[key]) and sec[key] > 0, key


def test_amp_and_channels_last_count_the_same_flops(report, config):
    """--amp bf16 --channels-last: the same FLOPs in every phase as the
    fp32 contiguous run, finite times and ratios."""
    plain, _ = report
    # batch 1 (FLOPs per image do not depend on the batch): bf16 is slow on
    # CPUs without bf16 units
    rep = bench.main([str(config), '--input-size', '80', '--batch-size', '1',
                      '--iters', '1', '--warmup', '1', '--peak-tflops', '2.5',
                      '--amp', 'bf16', '--channels-last'])
    assert rep['amp'] == 'bf16' and rep['channels_last']
    assert _flops(rep) == _flops(plain)
    _assert_finite(rep)


def test_timer_warms_compiled_code_beyond_the_eager_flop_count():
    """--compile: the FLOP-counted run is eager (not compiled) and comes on
    top of the warm-up runs, so no timed run compiles. (torch.compile itself
    is not run here: it took 122 s for the tiny model on the 2-core CI
    machine; the FLOPs came out equal to the uncompiled run's.)"""
    calls = []
    x = torch.ones(4, 4)

    def fn():
        calls.append(1)
        x @ x

    for compiled, expected in ((False, 2 + 3), (True, 1 + 2 + 3)):
        calls.clear()
        _, flops = bench.Timer(torch.device('cpu'), iters=3, warmup=2,
                               compiled=compiled)(fn)
        assert len(calls) == expected and flops == 2 * 4 * 4 * 4


def test_frozen_backbone_is_timed_forward_only(config, tmp_path):
    """A backbone whose output needs no gradient (every stage frozen, as the
    pretrained Lite0 configs) is timed forward only in the training step,
    instead of failing on a backward with nothing to differentiate."""
    frozen = tmp_path / 'tiny_rarl_frozen.py'
    frozen.write_text(f"_base_ = ['{config}']\n"
                      'model = dict(backbone=dict(frozen_stages=3))\n')
    rep = bench.main([str(frozen), '--input-size', '80', '--batch-size', '1',
                      '--iters', '1', '--warmup', '1'])
    tr = rep['train']
    assert tr['backbone_frozen'] is True
    assert rep['inference']['single_view']['backbone_flops_per_image'] == \
        tr['backbone_flops_per_image']  # the forward alone
    assert 'backbone fwd (frozen)' in bench.format_table(rep)


def test_trainable_backbone_is_timed_forward_and_backward(report):
    rep, _ = report
    tr, sv = rep['train'], rep['inference']['single_view']
    assert tr['backbone_frozen'] is False
    assert tr['backbone_flops_per_image'] > 2 * sv['backbone_flops_per_image']
