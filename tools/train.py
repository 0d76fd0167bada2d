"""Train a marl_mm model: ``python tools/train.py CONFIG [options]``.

A thin front end over :class:`mmengine.runner.Runner`, with the flags users of
OpenMMLab tools expect. Before the runner is built, the data roots named in
the config are checked so that a missing dataset stops at once with the
expected layout instead of failing inside a dataloader worker.
"""
import argparse
import os
import os.path as osp
import sys

from mmengine.config import Config, DictAction


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train a marl_mm model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='where to save logs and models')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='resume from the given checkpoint, or with no value from the '
        'latest checkpoint in the work dir')
    parser.add_argument(
        '--amp', action='store_true', help='mixed-precision training')
    parser.add_argument(
        '--no-validate', action='store_true', help='skip validation')
    parser.add_argument(
        '--auto-scale-lr',
        action='store_true',
        help='scale the lr by total batch size / auto_scale_lr.base_batch_size')
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
    return args


def merge_args(cfg: Config, args: argparse.Namespace) -> Config:
    """Fold the command-line flags into the config."""
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])
    cfg.launcher = args.launcher

    if args.amp:
        optim_wrapper = cfg.optim_wrapper.get('type', 'OptimWrapper')
        if optim_wrapper == 'AmpOptimWrapper':
            print('AMP is already enabled in the config.')
        else:
            cfg.optim_wrapper.type = 'AmpOptimWrapper'
            cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')

    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        cfg.resume = True
        cfg.load_from = args.resume

    if args.no_validate:
        cfg.val_cfg = None
        cfg.val_dataloader = None
        cfg.val_evaluator = None

    if args.auto_scale_lr:
        cfg.setdefault('auto_scale_lr', {})
        cfg.auto_scale_lr.enable = True

    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    return cfg


def main(argv=None) -> None:
    args = parse_args(argv)
    # a user error is one line with the fix, not a traceback
    if not osp.isfile(args.config):
        sys.exit(f'error: config file {args.config} not found; check the '
                 'path (configs are under configs/, e.g. '
                 'configs/resnet18_gap_shapes.py)')
    cfg = Config.fromfile(args.config)
    cfg = merge_args(cfg, args)

    # Registers every component (and MarlRunner, the configs' runner_type).
    import marl_mm  # noqa: F401
    from marl_mm.engine import build_runner
    if not args.no_data_check:
        from marl_mm.datasets import check_data_roots
        check_data_roots(cfg, splits=('train', 'val') if cfg.get(
            'val_dataloader') else ('train', ))

    from marl_mm.utils import close_distributed, setup_cpu_distributed
    setup_cpu_distributed(cfg, args.launcher)  # torchrun without a GPU

    runner = build_runner(cfg)
    runner.train()
    close_distributed()  # after a clean run only (its docstring)


if __name__ == '__main__':
    main()
