"""Speed, FLOPs and memory of a marl_mm model, with the targets of issue 5.

``python tools/analysis_tools/benchmark.py CONFIG [--device cpu|cuda]
[--amp bf16] [--channels-last] [--compile] [--batch-size B] [--iters N]
[--warmup W] [--input-size N] [--peak-tflops P] [--threads T] [--json OUT]``

Runs on synthetic images (the model's speed does not depend on the pixels;
pretrained ``init_cfg`` entries are removed, so nothing is downloaded) and
reports, as JSON and a table:

* **train**: one training step (data preprocessor, forward, loss, backward,
  optimizer step) -- time and images/s; the backbone (forward + backward
  with a fixed random output gradient; forward only when it is frozen,
  ``backbone_frozen``) and the neck + head (forward, loss,
  backward on a detached feature map that requires grad) timed separately,
  and their ratio;
* **inference**: single view (the training-size input; its backbone and
  neck + head forward also timed apart), RARL's ten views
  on feature maps (:class:`TenViewClassifier` at ``N x N``: one backbone
  pass per image and per flipped image) against those two backbone passes
  alone, and the two-scale ensemble (ten views at ``N`` and ``1.25 N``, as
  RARL's 512 + 640 models);
* FLOPs of every phase counted on the model's own operators with
  :class:`torch.utils.flop_counter.FlopCounterMode` (matmuls and
  convolutions, forward and backward, RARL's region crops included: they
  are matrix products; element-wise ops are not counted), the achieved
  TFLOP/s and its fraction of ``--peak-tflops`` (default 989: the H100
  SXM dense bf16 figure of NVIDIA's data sheet);
* the heads' speed per FLOP (issue 13): ``head_flop_rate_to_backbone``,
  the neck + head's achieved FLOP/s over the backbone's in the same run,
  ``(head FLOPs / head time) / (backbone FLOPs / backbone time)``, for the
  training step (their forward + backward, timed apart), single-view
  inference (forward, timed apart) and the ten views (the ten views'
  time and FLOPs beyond their two backbone passes); 1 means the head does
  its FLOPs as fast as the backbone. Each section also gives
  ``head_flop_ratio`` (head FLOPs / backbone FLOPs);
* peak memory: ``torch.cuda.max_memory_allocated`` per phase on GPU; on CPU
  the process's peak resident set (``resource.getrusage``), one figure.

Each time is the median of ``--iters`` runs after ``--warmup`` runs (the
first warm-up run is the one counted by FlopCounterMode), with
``torch.cuda.synchronize`` around each run on GPU. The input size ``N``
defaults to the config's ``image_size`` (224 if it has none); the training
and single-view input is ``crop_size`` (``N - 64``) when the config crops,
else ``N``.

``--amp bf16`` autocasts every phase to bfloat16 (the glimpse policies keep
their own math in float32), ``--channels-last`` converts the model and the
inputs, and ``--compile`` compiles the backbone in place
(``nn.Module.compile``). FLOPs are always counted on the **uncompiled**
model: the counted run is made under
``torch.compiler.set_stance('force_eager')``. FlopCounterMode's own
documentation warns that ``torch.compile`` "may expose decomposed or fused
work differently from eager execution", so a count over the compiled graph
would depend on the compiler (torch 2.14 counted a small conv net the same
either way, which nothing guarantees). Under ``--compile`` that eager run comes
on top of the ``--warmup`` runs, which are compiled, so compilation never
lands in a timed run. None of the three flags changes the FLOP count
(tests/test_tools/test_benchmark.py).

Targets (each a ratio from the same run; see docs/benchmarks.md):
``head_to_backbone_train <= 0.10``, ``ten_view_to_backbone <= 1.15``,
``head_flop_rate_train >= 0.80`` (issue 13), ``peak_fraction >= 0.40`` for
the ensemble inference and training on a GPU in bf16 (``None`` = pending
elsewhere).
"""
import argparse
import contextlib
import copy
import json
import logging
import os
import platform
import resource
import statistics
import time
from typing import Callable, Dict, List, Optional, Tuple

import torch
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from torch.utils.flop_counter import FlopCounterMode

#: H100 SXM, dense bf16 tensor-core peak (NVIDIA data sheet), TFLOP/s
H100_BF16_DENSE_TFLOPS = 989.0
TARGETS = dict(head_to_backbone_train=0.10, ten_view_to_backbone=1.15,
               head_flop_rate_train=0.80, peak_fraction=0.40)


def strip_pretrained(cfg):
    """Drop every ``init_cfg`` of type Pretrained, recursively."""
    if isinstance(cfg, dict):
        init = cfg.get('init_cfg')
        if isinstance(init, dict) and init.get('type') == 'Pretrained':
            cfg['init_cfg'] = None
        for v in cfg.values():
            strip_pretrained(v)
    elif isinstance(cfg, (list, tuple)):
        for v in cfg:
            strip_pretrained(v)
    return cfg


def input_sizes(cfg: Config, input_size: Optional[int]) -> Tuple[int, int]:
    """``(N, training / single-view size)`` from the config or the flag."""
    size = int(input_size or cfg.get('image_size', 224))
    crop = cfg.get('crop_size', None)
    margin = 0  # the config trains and tests single-view on the whole image
    if crop is not None and 'image_size' in cfg:
        margin = int(cfg.image_size) - int(crop)  # RARL: N - 64
    return size, size - margin


class Timer:
    """Median wall time of a callable, synchronising the GPU around it.

    Args:
        device: where the callable runs.
        iters: timed runs (the median is reported).
        warmup: untimed runs, the first of them FLOP-counted.
        compiled: something in the callable is ``torch.compile``'d: the
            FLOP-counted run (eager) comes on top of ``warmup`` compiled
            runs.
    """

    def __init__(self, device: torch.device, iters: int, warmup: int,
                 compiled: bool = False):
        self.device, self.iters, self.warmup = device, iters, warmup
        self.compiled = compiled

    def sync(self) -> None:
        if self.device.type == 'cuda':
            torch.cuda.synchronize(self.device)

    def __call__(self, fn: Callable[[], None]) -> Tuple[float, float]:
        """Returns ``(median seconds, FLOPs of one call)``."""
        counter = FlopCounterMode(display=False)
        # counted, not timed, on the uncompiled model (see the module doc)
        with torch.compiler.set_stance('force_eager'), counter:
            fn()
        for _ in range(self.warmup - (0 if self.compiled else 1)):
            fn()
        times = []
        for _ in range(self.iters):
            self.sync()
            start = time.perf_counter()
            fn()
            self.sync()
            times.append(time.perf_counter() - start)
        return statistics.median(times), float(counter.get_total_flops())


def _versions() -> dict:
    import mmengine
    import mmpretrain
    import torchvision
    return dict(python=platform.python_version(), torch=torch.__version__,
                torchvision=torchvision.__version__,
                mmengine=mmengine.__version__,
                mmpretrain=mmpretrain.__version__)


def _hardware(device: torch.device) -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        with open('/proc/cpuinfo') as f:
            names = [ln.split(':', 1)[1].strip() for ln in f
                     if ln.startswith('model name')]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    hw = dict(cpu=cpu, cpu_count=os.cpu_count(),
              threads=torch.get_num_threads())
    if device.type == 'cuda':
        hw['gpu'] = torch.cuda.get_device_name(device)
    return hw


def _reset_peak(device: torch.device) -> None:
    if device.type == 'cuda':
        torch.cuda.reset_peak_memory_stats(device)


def _peak_mib(device: torch.device) -> float:
    if device.type == 'cuda':
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB


def head_rates(head_time: float, head_flops: float, backbone_time: float,
               backbone_flops: float) -> dict:
    """The head's FLOPs and achieved FLOP/s relative to the backbone's.

    Returns:
        ``head_flop_ratio`` (head FLOPs / backbone FLOPs) and
        ``head_flop_rate_to_backbone`` (head FLOP/s / backbone FLOP/s;
        ``None`` when the head's time is not positive, as a difference of
        two noisy times can be).
    """
    ratio = head_flops / backbone_flops
    rate = (head_flops / head_time) / (backbone_flops / backbone_time) \
        if head_time > 0 else None
    return dict(head_flop_ratio=ratio, head_flop_rate_to_backbone=rate)


def _rates(time_s: float, batch: int, flops: float,
           peak_tflops: float) -> dict:
    """images/s, FLOPs per image, achieved TFLOP/s and fraction of peak."""
    achieved = flops / time_s / 1e12
    return dict(time_s=time_s, images_per_s=batch / time_s,
                flops_per_image=flops / batch, achieved_tflops=achieved,
                peak_fraction=achieved / peak_tflops)


@contextlib.contextmanager
def quiet():
    """Silence mmengine's INFO logs (init_weights and the optimizer
    constructor log every parameter)."""
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


def build_model(cfg: Config, device: torch.device, channels_last: bool):
    """The config's model without pretrained weights, on ``device``."""
    from mmpretrain.registry import MODELS
    model = MODELS.build(strip_pretrained(copy.deepcopy(cfg.model.to_dict())))
    with quiet():
        model.init_weights()
    model.to(device)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    return model


def ten_view_model(model, crop_margin: int):
    """A :class:`TenViewClassifier` sharing ``model``'s modules (crops of
    ``N - crop_margin`` pixels, paper: N - 64)."""
    from marl_mm.models.classifiers import TenViewClassifier
    return TenViewClassifier(
        backbone=model.backbone, neck=model.neck, head=model.head,
        data_preprocessor=model.data_preprocessor,
        test_cfg=dict(mode='ten_view',
                      crop_margin=crop_margin)).eval()


def run(args: argparse.Namespace) -> dict:
    """Measure everything; returns the JSON-ready report."""
    import marl_mm  # noqa: F401
    from mmpretrain.structures import DataSample
    init_default_scope('mmpretrain')
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    device = torch.device(args.device)
    if device.type == 'cuda' and not torch.cuda.is_available():
        raise ValueError('--device cuda: no CUDA device is visible')
    cfg = Config.fromfile(args.config)
    size, train_size = input_sizes(cfg, args.input_size)
    model = build_model(cfg, device, args.channels_last)
    if args.compile:  # in place: the same module, uncompiled on demand
        model.backbone.compile()
    amp = (torch.autocast(device.type, dtype=torch.bfloat16)
           if args.amp == 'bf16' else contextlib.nullcontext())
    fmt = torch.channels_last if args.channels_last else \
        torch.contiguous_format
    num_classes = int(cfg.model.head.num_classes)
    batch = args.batch_size
    timer = Timer(device, args.iters, max(1, args.warmup), args.compile)
    g = torch.Generator().manual_seed(0)

    def images(side: int) -> torch.Tensor:
        x = torch.randint(0, 256, (batch, 3, side, side), generator=g,
                          dtype=torch.uint8)
        return x.to(device)

    samples = [DataSample().set_gt_label(
        torch.randperm(num_classes, generator=g)[:1 + i % 3])
        for i in range(batch)]
    data = model.data_preprocessor(
        dict(inputs=images(train_size), data_samples=samples), True)
    inputs = data['inputs'].contiguous(memory_format=fmt)
    data_samples = data['data_samples']
    report = dict(config=args.config, device=str(device), amp=args.amp,
                  channels_last=args.channels_last, compile=args.compile,
                  batch_size=batch, iters=args.iters, warmup=args.warmup,
                  input_size=size, train_size=train_size,
                  peak_tflops=args.peak_tflops, versions=_versions(),
                  hardware=_hardware(device))

    # ------------------------------------------------------------ training
    model.train()
    with quiet():
        optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)

    def loss_of(x, samples_):
        with amp:
            losses = model(x, samples_, mode='loss')
        return model.parse_losses(losses)[0]

    def train_step():
        optim_wrapper.update_params(loss_of(inputs, data_samples))

    _reset_peak(device)
    step_time, step_flops = timer(train_step)
    train = _rates(step_time, batch, step_flops, args.peak_tflops)
    train['peak_memory_mib'] = _peak_mib(device)

    with torch.no_grad(), amp:
        feats = model.backbone(inputs)
    grads = [torch.randn_like(f) for f in feats]

    # a frozen backbone (e.g. the pretrained EfficientNet-Lite0 configs)
    # runs forward only in training: there is nothing to back-propagate
    with amp:
        frozen = not any(f.requires_grad for f in model.backbone(inputs))
    train['backbone_frozen'] = frozen

    def backbone_step():
        with amp:
            out = model.backbone(inputs)
        if not frozen:
            torch.autograd.backward(list(out), grads)
        model.zero_grad(set_to_none=True)

    def head_step():
        detached = tuple(f.detach().requires_grad_() for f in feats)
        with amp:
            neck_out = model.neck(detached) if model.with_neck else detached
            losses = model.head.loss(neck_out, data_samples)
        model.parse_losses(losses)[0].backward()
        model.zero_grad(set_to_none=True)

    train['backbone_time_s'], train['backbone_flops_per_image'] = [
        v / d for v, d in zip(timer(backbone_step), (1, batch))]
    train['head_time_s'], train['head_flops_per_image'] = [
        v / d for v, d in zip(timer(head_step), (1, batch))]
    train['head_to_backbone'] = train['head_time_s'] / \
        train['backbone_time_s']
    train.update(head_rates(train['head_time_s'],
                            train['head_flops_per_image'],
                            train['backbone_time_s'],
                            train['backbone_flops_per_image']))
    report['train'] = train

    # ----------------------------------------------------------- inference
    model.eval()
    infer: Dict[str, dict] = {}
    with torch.no_grad():
        def single():
            with amp:
                model(inputs, mode='tensor')

        def single_backbone():
            with amp:
                model.backbone(inputs)

        def single_head():  # what mode='tensor' runs after the backbone
            with amp:
                model.head(model.neck(feats) if model.with_neck else feats)

        _reset_peak(device)
        t, flops = timer(single)
        sv = infer['single_view'] = _rates(t, batch, flops, args.peak_tflops)
        sv['peak_memory_mib'] = _peak_mib(device)
        for part, fn in (('backbone', single_backbone), ('head', single_head)):
            t_part, f_part = timer(fn)
            sv[f'{part}_time_s'] = t_part
            sv[f'{part}_flops_per_image'] = f_part / batch
        sv['head_to_backbone'] = sv['head_time_s'] / sv['backbone_time_s']
        sv.update(head_rates(sv['head_time_s'], sv['head_flops_per_image'],
                             sv['backbone_time_s'],
                             sv['backbone_flops_per_image']))

        def ten_view(side: int) -> dict:
            x = model.data_preprocessor(
                dict(inputs=images(side)), False)['inputs'].contiguous(
                    memory_format=fmt)
            tv = ten_view_model(model, crop_margin)
            x2 = torch.cat([x, x.flip(-1)])

            def passes():
                with amp:
                    model.backbone(x2)

            def views():
                with amp:
                    tv.ten_view_scores(x)

            _reset_peak(device)
            t_views, f_views = timer(views)
            res = _rates(t_views, batch, f_views, args.peak_tflops)
            res['peak_memory_mib'] = _peak_mib(device)
            res['backbone_passes_time_s'], f_pass = timer(passes)
            res['backbone_passes_flops_per_image'] = f_pass / batch
            res['ratio_to_backbone'] = t_views / res['backbone_passes_time_s']
            res['flop_ratio_to_backbone'] = f_views / f_pass
            # the head's share: what the ten views cost beyond the passes
            t_head = t_views - res['backbone_passes_time_s']
            res['head_to_backbone'] = t_head / res['backbone_passes_time_s']
            res.update(head_rates(t_head, f_views - f_pass,
                                  res['backbone_passes_time_s'], f_pass))
            return res

        crop_margin = (size - train_size) or 64  # paper: N - 64 crops
        sizes = [size, int(round(size * 1.25))]
        results = []
        for side in sizes:
            try:
                results.append(ten_view(side))
            except Exception as e:  # e.g. a head tied to one map size
                results.append(dict(error=f'{type(e).__name__}: {e}'))
        infer['ten_view'] = dict(size=size, **results[0])
        if all('error' not in r for r in results):
            t = sum(r['time_s'] for r in results)
            flops = sum(r['flops_per_image'] for r in results) * batch
            infer['ensemble'] = dict(
                sizes=sizes, scale_times_s=[r['time_s'] for r in results],
                **_rates(t, batch, flops, args.peak_tflops))
        else:
            infer['ensemble'] = dict(sizes=sizes, error=next(
                r['error'] for r in results if 'error' in r))
    report['inference'] = infer
    report['peak_memory_mib'] = _peak_mib(device)
    report['targets'] = targets(report)
    return report


def targets(report: dict) -> List[dict]:
    """Each target: value, limit, met (True/False, None = pending)."""
    gpu_bf16 = report['device'].startswith('cuda') and report['amp'] == 'bf16'
    out = [dict(name='head_to_backbone_train',
                value=report['train']['head_to_backbone'],
                limit=f"<= {TARGETS['head_to_backbone_train']}")]
    out[-1]['met'] = out[-1]['value'] <= TARGETS['head_to_backbone_train']
    tv = report['inference']['ten_view']
    out.append(dict(name='ten_view_to_backbone',
                    value=tv.get('ratio_to_backbone'),
                    limit=f"<= {TARGETS['ten_view_to_backbone']}"))
    out[-1]['met'] = None if out[-1]['value'] is None else \
        out[-1]['value'] <= TARGETS['ten_view_to_backbone']
    out.append(dict(name='head_flop_rate_train',
                    value=report['train']['head_flop_rate_to_backbone'],
                    limit=f">= {TARGETS['head_flop_rate_train']}"))
    out[-1]['met'] = None if out[-1]['value'] is None else \
        out[-1]['value'] >= TARGETS['head_flop_rate_train']
    for name, section in (('ensemble_peak_fraction',
                           report['inference']['ensemble']),
                          ('train_peak_fraction', report['train'])):
        value = section.get('peak_fraction')
        out.append(dict(
            name=name, value=value,
            limit=f">= {TARGETS['peak_fraction']} (GPU, bf16)",
            met=(value >= TARGETS['peak_fraction'])
            if gpu_bf16 and value is not None else None))
    return out


def format_table(report: dict) -> str:
    """The report as a plain-text table."""
    tr, inf = report['train'], report['inference']
    lines = [
        f"{report['config']}  device={report['device']} amp={report['amp']}"
        f" batch={report['batch_size']} N={report['input_size']} "
        f"train/single size={report['train_size']}",
        f"{'phase':<26}{'time (s)':>10}{'img/s':>10}{'GFLOP/img':>11}"
        f"{'TFLOP/s':>9}{'of peak':>9}"]

    def row(name, d):
        if 'error' in d:
            lines.append(f'{name:<26}  n/a ({d["error"][:60]})')
            return
        lines.append(
            f"{name:<26}{d['time_s']:10.4f}{d['images_per_s']:10.2f}"
            f"{d['flops_per_image'] / 1e9:11.2f}{d['achieved_tflops']:9.3f}"
            f"{100 * d['peak_fraction']:8.2f}%")

    row('train step', tr)
    name = 'backbone fwd (frozen)' if tr.get('backbone_frozen') else \
        'backbone fwd+bwd'
    lines.append(f"{'  ' + name:<26}{tr['backbone_time_s']:10.4f}"
                 f"{'':>10}{tr['backbone_flops_per_image'] / 1e9:11.2f}")
    lines.append(f"{'  neck+head fwd+bwd':<26}{tr['head_time_s']:10.4f}"
                 f"{'':>10}{tr['head_flops_per_image'] / 1e9:11.2f}")
    sv = inf['single_view']
    row('infer single view', sv)
    lines.append(f"{'  backbone fwd':<26}{sv['backbone_time_s']:10.4f}"
                 f"{'':>10}{sv['backbone_flops_per_image'] / 1e9:11.2f}")
    lines.append(f"{'  neck+head fwd':<26}{sv['head_time_s']:10.4f}"
                 f"{'':>10}{sv['head_flops_per_image'] / 1e9:11.2f}")
    row('infer ten-view', inf['ten_view'])
    if 'error' not in inf['ten_view']:
        tv = inf['ten_view']
        lines.append(f"{'  its 2 backbone passes':<26}"
                     f"{tv['backbone_passes_time_s']:10.4f}{'':>10}"
                     f"{tv['backbone_passes_flops_per_image'] / 1e9:11.2f}")
    row(f"infer ensemble {inf['ensemble']['sizes']}", inf['ensemble'])
    lines.append(f"peak memory: {report['peak_memory_mib']:.0f} MiB"
                 f"{' (process RSS)' if report['device'] == 'cpu' else ''}")
    lines.append('neck + head against the backbone (time ratio; FLOP ratio; '
                 'head FLOP/s / backbone FLOP/s):')
    for name, sec in (('train step', tr), ('single view', sv),
                      ('ten views (beyond passes)', inf['ten_view'])):
        if 'error' in sec:
            continue
        rate = sec['head_flop_rate_to_backbone']
        lines.append(f"  {name:<26}{sec['head_to_backbone']:8.3f}"
                     f"{sec['head_flop_ratio']:8.3f}"
                     f"{'n/a' if rate is None else f'{rate:.3f}':>8}")
    lines.append('targets:')
    for t in report['targets']:
        met = {True: 'met', False: 'NOT met', None: 'pending'}[t['met']]
        value = 'n/a' if t['value'] is None else f"{t['value']:.3f}"
        lines.append(f"  {t['name']:<26}{value:>8}  {t['limit']:<24}{met}")
    return '\n'.join(lines)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Benchmark a marl_mm model')
    parser.add_argument('config')
    parser.add_argument('--device', default='cpu', help='cpu | cuda[:i]')
    parser.add_argument('--amp', choices=['bf16'], default=None,
                        help='autocast to bfloat16')
    parser.add_argument('--channels-last', action='store_true')
    parser.add_argument('--compile', action='store_true',
                        help='torch.compile the backbone')
    parser.add_argument('--batch-size', type=int, default=2)
    parser.add_argument('--iters', type=int, default=3,
                        help='timed runs per phase (median)')
    parser.add_argument('--warmup', type=int, default=1,
                        help='untimed runs per phase (>= 1: the first is '
                        'FLOP-counted)')
    parser.add_argument('--input-size', type=int, default=None,
                        help="N (default: the config's image_size or 224)")
    parser.add_argument('--peak-tflops', type=float,
                        default=H100_BF16_DENSE_TFLOPS)
    parser.add_argument('--threads', type=int, default=None,
                        help='torch.set_num_threads on CPU')
    parser.add_argument('--json', help='write the report here')
    args = parser.parse_args(argv)
    for name in ('batch_size', 'iters'):
        if getattr(args, name) < 1:
            parser.error(f'--{name.replace("_", "-")} must be >= 1')
    return args


def main(argv=None) -> dict:
    args = parse_args(argv)
    report = run(args)
    print(format_table(report))
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)),
                    exist_ok=True)
        with open(args.json, 'w') as f:
            json.dump(report, f, indent=2)
    return report


if __name__ == '__main__':
    main()
