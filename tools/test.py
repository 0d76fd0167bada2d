"""Test a marl_mm model: ``python tools/test.py CONFIG CHECKPOINT [options]``.

``--out`` dumps every image's predictions (mmengine's ``DumpResults``) for
offline analysis; ``--show-dir`` saves drawn predictions through the
visualisation hook: every ``--interval``-th image (default 1: all of them,
as mmpretrain's ``tools/test.py``), with the label set of the config's
``MultiLabelTopKMetric`` (``GlimpseVisualizer``'s ``pred_topk`` /
``pred_thr`` taken from ``test_evaluator`` unless the config's
``visualizer`` sets them), so the picture and the metric agree on what was
predicted. Ten-view testing is a config switch
(``configs/_base_/tta/ten_view_*.py``), not a flag, so that the protocol
travels with the config.
"""
import argparse
import os
import os.path as osp
import sys

from mmengine.config import Config, DictAction
from mmengine.evaluator import DumpResults


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Test a marl_mm model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='where to save the metrics')
    parser.add_argument(
        '--out', help='dump predictions to this pickle file (.pkl)')
    parser.add_argument(
        '--show-dir', help='save drawn predictions to this folder')
    parser.add_argument(
        '--show', action='store_true', help='show drawn predictions')
    parser.add_argument(
        '--interval',
        type=int,
        default=1,
        help='draw every n-th test image with --show / --show-dir '
        '(default 1: every image)')
    parser.add_argument(
        '--wait-time',
        type=float,
        default=2,
        help='seconds each image is shown with --show (default 2)')
    parser.add_argument(
        '--no-data-check',
        action='store_true',
        help='skip the check that the data roots in the config exist')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings in the config, key=value (xxx=yyy format)')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher (torchrun sets pytorch)')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    if args.interval < 1:
        parser.error(f'--interval must be >= 1, got {args.interval}')
    if args.out is not None and not args.out.endswith(('.pkl', '.pickle')):
        parser.error(f'--out must end with .pkl or .pickle, got {args.out!r}')
    return args


def sync_label_protocol(cfg: Config, evaluator_key: str) -> None:
    """Draw the evaluator's label set: ``pred_topk`` / ``pred_thr`` of a
    ``GlimpseVisualizer`` from the first ``MultiLabelTopKMetric`` of
    ``cfg[evaluator_key]``, unless the config's ``visualizer`` sets either
    (then the config wins) or the evaluator has no such metric."""
    from marl_mm.visualization import label_protocol_from_evaluator
    vis = cfg.get('visualizer', None)
    if vis is None or str(vis.get('type', '')).split('.')[-1] != \
            'GlimpseVisualizer' or 'pred_topk' in vis or 'pred_thr' in vis:
        return
    protocol = label_protocol_from_evaluator(cfg.get(evaluator_key, None))
    if protocol is not None:
        vis.update(protocol)


def merge_args(cfg: Config, args: argparse.Namespace) -> Config:
    cfg.launcher = args.launcher
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])
    cfg.load_from = args.checkpoint
    if args.show or args.show_dir:
        vis = cfg.default_hooks.get('visualization', None)
        if vis is None:
            raise ValueError(
                f'{args.config}: default_hooks.visualization is missing, so '
                '--show / --show-dir cannot draw predictions')
        vis.enable = True
        vis.show = args.show
        vis.interval = args.interval
        if args.show:
            vis.wait_time = args.wait_time
        if args.show_dir:
            vis.out_dir = args.show_dir
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    if args.show or args.show_dir:  # after --cfg-options: those win
        sync_label_protocol(cfg, 'test_evaluator')
    return cfg


def main(argv=None) -> dict:
    args = parse_args(argv)
    # a user error is one line with the fix, not a traceback
    if not osp.isfile(args.config):
        sys.exit(f'error: config file {args.config} not found; check the '
                 'path (configs are under configs/, e.g. '
                 'configs/resnet18_gap_shapes.py)')
    if not osp.isfile(args.checkpoint):
        sys.exit(f'error: checkpoint {args.checkpoint} not found; check the '
                 'path (training writes work_dirs/<config name>/epoch_N.pth)')
    cfg = merge_args(Config.fromfile(args.config), args)

    import marl_mm  # noqa: F401
    from marl_mm.engine import build_runner
    if not args.no_data_check:
        from marl_mm.datasets import check_data_roots
        check_data_roots(cfg, splits=('test', ))

    from marl_mm.utils import close_distributed, setup_cpu_distributed
    setup_cpu_distributed(cfg, args.launcher)  # torchrun without a GPU

    runner = build_runner(cfg)
    if args.out is not None:
        runner.test_evaluator.metrics.append(
            DumpResults(out_file_path=args.out))
    metrics = runner.test()
    close_distributed()  # after a clean run only (its docstring)
    return metrics


if __name__ == '__main__':
    main()
