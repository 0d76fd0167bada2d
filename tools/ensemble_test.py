"""Test several models and evaluate their averaged probabilities.

RARL's final result ("Ours", Chen et al., AAAI 2018) averages the ten-view
scores of the N = 512 and N = 640 models::

    python tools/ensemble_test.py \\
        CONFIG_512 CKPT_512 CONFIG_640 CKPT_640 [CONFIG CKPT ...] \\
        [--work-dir DIR] [--out preds.pkl] [--cfg-options key=value ...]

Each model runs its own config's test (use the ten-view configs, see
``configs/_base_/tta/``) through an mmengine ``Runner``, which also logs
that model's own metrics. The per-image probabilities are averaged with
:func:`marl_mm.models.tta.average_predictions`, which refuses test sets that
differ in length, ``sample_idx`` or ``img_path`` (same images in the same
order are required), and the FIRST config's ``test_evaluator`` evaluates the
average. Metrics are printed and saved to ``<work-dir>/ensemble_metrics.json``
(with every model's own metrics); ``--out`` dumps the averaged predictions.

Runs in one process (no ``--launcher``): each model's test is sequential.
Checkpoints load through the configs' runner (``MarlRunner``: safe, checked).
"""
import argparse
import os.path as osp
import time
from typing import List, Optional, Sequence

import mmengine
from mmengine.config import Config, DictAction
from mmengine.evaluator import BaseMetric


class PredictionCollector(BaseMetric):
    """Keeps every test prediction (as the evaluator's dicts) in memory.

    Added to a runner's test evaluator, like ``DumpResults`` in
    ``tools/test.py``; reports no metric itself.
    """

    default_prefix = 'ensemble_collect'

    def __init__(self) -> None:
        super().__init__()
        self.predictions: List[dict] = []

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        for ds in data_samples:
            self.results.append({
                k: (v.detach().cpu() if hasattr(v, 'detach') else v)
                for k, v in ds.items()
            })

    def compute_metrics(self, results: list) -> dict:
        self.predictions = list(results)
        return {}


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Average the test probabilities of several models')
    parser.add_argument(
        'models', nargs='+', metavar='CONFIG CHECKPOINT',
        help='pairs of config file and checkpoint, at least two pairs')
    parser.add_argument(
        '--work-dir', help='where to save logs and ensemble_metrics.json')
    parser.add_argument(
        '--out', help='dump the averaged predictions to this .pkl file')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override settings in every config, key=value')
    args = parser.parse_args(argv)
    if len(args.models) % 2 or len(args.models) < 4:
        parser.error('expected CONFIG CHECKPOINT pairs for at least two '
                     f'models, got {len(args.models)} paths: {args.models}')
    if args.out is not None and not args.out.endswith(('.pkl', '.pickle')):
        parser.error(f'--out must end with .pkl or .pickle, got {args.out!r}')
    args.pairs = list(zip(args.models[0::2], args.models[1::2]))
    if args.work_dir is None:
        stems = [osp.splitext(osp.basename(c))[0] for c, _ in args.pairs]
        args.work_dir = osp.join('./work_dirs', 'ensemble_' + '+'.join(stems))
    return args


def model_cfg(config: str, checkpoint: str, index: int, work_dir: str,
              cfg_options: Optional[dict], stamp: str) -> Config:
    """The config of model ``index``, set up to test ``checkpoint``."""
    if not osp.isfile(config):
        raise FileNotFoundError(f'config not found: {config}')
    if not osp.isfile(checkpoint):
        raise FileNotFoundError(f'checkpoint not found: {checkpoint}')
    cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    if cfg.get('test_dataloader') is None or \
            cfg.get('test_evaluator') is None:
        raise ValueError(f'{config}: test_dataloader and test_evaluator are '
                         'needed to test the model')
    stem = osp.splitext(osp.basename(config))[0]
    cfg.work_dir = osp.join(work_dir, f'{index}_{stem}')
    cfg.load_from = checkpoint
    cfg.resume = False
    cfg.launcher = 'none'
    # one runner per model in this process: unique logger/visualizer names
    cfg.experiment_name = f'ensemble{index}_{stem}_{stamp}'
    return cfg


def main(argv=None) -> dict:
    args = parse_args(argv)
    import marl_mm  # noqa: F401  (registers components and MarlRunner)
    from marl_mm.engine import build_runner
    from marl_mm.models.tta import average_predictions

    stamp = time.strftime('%Y%m%d_%H%M%S', time.localtime())
    cfgs = [model_cfg(c, k, i, args.work_dir, args.cfg_options, stamp)
            for i, (c, k) in enumerate(args.pairs)]
    per_model, per_model_metrics = [], []
    first_runner = None
    for cfg in cfgs:
        runner = build_runner(cfg)
        collector = PredictionCollector()
        runner.test_evaluator.metrics.append(collector)
        per_model_metrics.append(runner.test())
        per_model.append(collector.predictions)
        first_runner = first_runner or runner
    for (config, _), cfg in zip(args.pairs[1:], cfgs[1:]):
        if cfg.test_evaluator != cfgs[0].test_evaluator:
            first_runner.logger.warning(
                f'{config} has another test_evaluator than '
                f'{args.pairs[0][0]}; the ensemble uses the first one')

    averaged = average_predictions(per_model)
    evaluator = first_runner.build_evaluator(
        mmengine.ConfigDict(cfgs[0].test_evaluator).to_dict() if isinstance(
            cfgs[0].test_evaluator, dict) else
        [dict(m) for m in cfgs[0].test_evaluator])
    evaluator.dataset_meta = first_runner.test_dataloader.dataset.metainfo
    metrics = evaluator.offline_evaluate(averaged, chunk_size=256)

    lines = [f'Ensemble of {len(cfgs)} models:'] + [
        f'  {c} ({k})' for c, k in args.pairs] + [
        f'  {name}: {value}' for name, value in metrics.items()]
    first_runner.logger.info('\n'.join(lines))
    mmengine.mkdir_or_exist(args.work_dir)
    mmengine.dump(
        dict(models=[dict(config=c, checkpoint=k) for c, k in args.pairs],
             ensemble=metrics, per_model=per_model_metrics),
        osp.join(args.work_dir, 'ensemble_metrics.json'), indent=2)
    if args.out is not None:
        mmengine.dump(averaged, args.out)
    return metrics


if __name__ == '__main__':
    main()
