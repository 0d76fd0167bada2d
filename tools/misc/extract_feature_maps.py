"""Run a config's frozen backbone once over its data and cache the maps.

    python tools/misc/extract_feature_maps.py CONFIG OUT_DIR \\
        [--splits train val] [--batch-size 16] [--cfg-options ...]

CONFIG is an ordinary image config (e.g.
``configs/efficientnet_lite/effnet-lite0_gap_voc07.py``): its
``model.backbone`` (with its pretrained ``init_cfg``), its data
preprocessor, and per split the dataset of ``<split>_dataloader`` read
through the *val* pipeline (no augmentation). For each split it writes
``OUT_DIR/<split>.npy`` (float16, (N, H, W, C)) and ``OUT_DIR/<split>.json``
for :class:`marl_mm.datasets.CachedFeatureMaps`, each to a temporary name
first and renamed when complete. The configs under
``configs/efficientnet_lite/*_cached.py`` train on such a cache.
"""
import argparse
import json
import os
import os.path as osp
import time

import numpy as np
import torch
from mmengine.config import Config, DictAction
from mmengine.dataset import pseudo_collate
from mmengine.registry import init_default_scope


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='image config with the backbone')
    parser.add_argument('out_dir', help='folder for <split>.npy / .json')
    parser.add_argument('--splits', nargs='+', default=['train', 'val'],
                        choices=['train', 'val', 'test'])
    parser.add_argument('--batch-size', type=int, default=16)
    parser.add_argument('--num-workers', type=int, default=1)
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override settings in the config')
    return parser.parse_args(argv)


def build_extractor(cfg: Config) -> torch.nn.Module:
    """The config's model with its initialisation (pretrained weights) run,
    in eval mode."""
    from marl_mm.utils import runner_model_cfg
    from mmpretrain.registry import MODELS
    model = MODELS.build(runner_model_cfg(cfg))
    model.init_weights()
    return model.eval()


def extract_split(model: torch.nn.Module, cfg: Config, split: str,
                  out_dir: str, batch_size: int, num_workers: int) -> dict:
    """Write ``<split>.npy`` / ``<split>.json``; return the json's metainfo."""
    from mmpretrain.registry import DATASETS
    ds_cfg = cfg[f'{split}_dataloader'].dataset.copy()
    ds_cfg['pipeline'] = cfg.val_dataloader.dataset.pipeline
    ds_cfg['test_mode'] = True
    dataset = DATASETS.build(ds_cfg)
    loader = torch.utils.data.DataLoader(
        dataset, batch_size=batch_size, shuffle=False,
        num_workers=num_workers, collate_fn=pseudo_collate)
    npy, ann = osp.join(out_dir, f'{split}.npy'), \
        osp.join(out_dir, f'{split}.json')
    tmp_npy, tmp_ann = npy + '.tmp.npy', ann + '.tmp'
    feats, data_list, start, input_hw = None, [], time.time(), None
    with torch.no_grad():
        for batch in loader:
            data = model.data_preprocessor(batch, False)
            fmap = model.backbone(data['inputs'])[-1]  # (B, C, H, W)
            if feats is None:
                input_hw = tuple(data['inputs'].shape[-2:])
                shape = (len(dataset), *fmap.shape[2:], fmap.shape[1])
                feats = np.lib.format.open_memmap(
                    tmp_npy, mode='w+', dtype=np.float16, shape=shape)
            i = len(data_list)
            feats[i:i + len(fmap)] = fmap.permute(0, 2, 3, 1).to(
                torch.float16).numpy()
            for sample in data['data_samples']:
                data_list.append(dict(
                    img_path=sample.img_path,
                    gt_label=[int(x) for x in sample.gt_label],
                    gt_label_difficult=[
                        int(x) for x in sample.get('gt_label_difficult', [])],
                    feat_index=len(data_list)))
            print(f'{split}: {len(data_list)}/{len(dataset)} '
                  f'({time.time() - start:.0f} s)', flush=True)
    feats.flush()
    del feats
    h, w, c = shape[1:]
    metainfo = dict(
        classes=list(dataset.metainfo['classes']),
        feat_shape=[h, w, c],
        stride=round(input_hw[0] / h),
        input_size=list(input_hw),
        source_config=cfg.filename,
        backbone=cfg.model.backbone.to_dict()
        if hasattr(cfg.model.backbone, 'to_dict') else cfg.model.backbone,
        seconds=round(time.time() - start, 1))
    with open(tmp_ann, 'w') as f:
        json.dump(dict(metainfo=metainfo, data_list=data_list), f)
    os.replace(tmp_npy, npy)
    os.replace(tmp_ann, ann)
    return metainfo


def main(argv=None) -> dict:
    args = parse_args(argv)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    import marl_mm  # noqa: F401
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    os.makedirs(args.out_dir, exist_ok=True)
    model = build_extractor(cfg)
    out = {}
    for split in args.splits:
        out[split] = extract_split(model, cfg, split, args.out_dir,
                                   args.batch_size, args.num_workers)
        print(f'{split}: {out[split]["feat_shape"]} maps, stride '
              f'{out[split]["stride"]}, {out[split]["seconds"]} s')
    return out


if __name__ == '__main__':
    main()
