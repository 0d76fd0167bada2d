"""Report on the learned policy of a trained RARL or RARNN model.

``python tools/analysis_tools/policy_report.py CONFIG CHECKPOINT [--split
val|test] [--max-images N] [--seed S] [--boxes voc] [--json OUT]``

Runs the model's backbone (and neck) once per image of the split and the
head under several policies on the same features (see
:mod:`marl_mm.evaluation.policy_report`): RARL's learned locations against
uniform random ones and the centre (0, 0); RARNN's learned emission against emitting all and a
random emission of the same size, beside ``drop_wrong`` (a reference that
reads the labels: exactly the candidates whose argmax label is right).
Prints, per policy, the training reward and the non-interpolated mAP, with
RARL's location spread and RARNN's emission rate, then one verdict line
per check (``OK`` / ``COLLAPSE`` / ``COPIES`` / ``NO GAIN``, with the
figure and its threshold; ``REFERENCE``: ``drop_wrong`` against all) and
what each column means. A policy that learned something beats its controls on the
reward; a collapsed RARL policy shows a spread near 0 (< 0.15: one location
for all images) and locations at the border; a collapsed RARNN indicator an
emission rate of 1 (emit-all) or only the fallback glimpse; RARNN candidates
whose ``one_label_multi`` (``one_label`` over the images with two or more
labels) is >= 0.5 are copies of one glimpse (nothing to choose between). Thresholds and definitions: :mod:`marl_mm.evaluation.policy_report`.

``--boxes voc`` adds where the policies look relative to the objects: each
image's PASCAL VOC annotation (``.../JPEGImages/<id>.jpg`` ->
``.../Annotations/<id>.xml``, its non-difficult ``<bndbox>`` boxes)
mapped to the model input; RARL's ``on_object`` (locations inside a box) and
``region_iou`` (best IoU of a step's regions with a box), RARNN's
``attn_on_object`` (the RHN's attention mass on the boxes), each against
``box_share`` (the boxes' area share: chance). Valid for a test pipeline
that resizes the whole image (no crop, flip or padding; for a feature cache
the pipeline it was made with): anything else is refused. Geometry:
:mod:`marl_mm.evaluation.object_boxes`.

The checkpoint is loaded with marl_mm's checked, allowlisted loader: a
checkpoint of another model is refused with the keys that do not fit.
"""
import argparse
import json
import os.path as osp

import numpy as np
import torch
from mmengine.config import Config, DictAction
from mmengine.registry import init_default_scope
from mmengine.runner import Runner
from mmpretrain.registry import MODELS
from mmpretrain.structures import label_to_onehot

import marl_mm  # noqa: F401  (registers the models)
from marl_mm.datasets import CachedFeatureMaps
from marl_mm.evaluation.metrics import MultiLabelAP
from marl_mm.evaluation.object_boxes import (boxes_of_samples,
                                             check_whole_image_pipeline)
from marl_mm.evaluation.policy_report import (rarl_policy_outputs,
                                              rarnn_policy_outputs, summarise,
                                              verdicts)
from marl_mm.models.heads import GRREHead, LSTMGlimpseHead
from marl_mm.utils import runner_model_cfg
from marl_mm.utils.checkpoint import load_checkpoint_checked


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--split', choices=('val', 'test', 'train'),
                        default='val',
                        help="'train': the training images through the "
                        "training pipeline (augmentation included), to "
                        "compare what the policy sees where it learns")
    parser.add_argument('--max-images', type=int, default=None,
                        help='stop after this many images')
    parser.add_argument('--seed', type=int, default=0,
                        help='seed of the random-policy controls')
    parser.add_argument('--boxes', choices=('voc', ),
                        help='compare where the policies look with the '
                        'objects: GT boxes from the VOC annotation beside '
                        'each image')
    parser.add_argument('--json', help='also write the report here')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args(argv)


def targets(data_samples, num_classes):
    """``(B, D)`` multi-hot training targets of a batch."""
    return torch.stack([
        ds.gt_score.float() if 'gt_score' in ds else
        label_to_onehot(ds.gt_label, num_classes).float()
        for ds in data_samples])


def check_box_mapping(cfg: Config, split: str, dataset, where: str) -> bool:
    """Refuse a pipeline the box mapping cannot follow; for a feature
    cache check the pipeline it was made with (its ``source_config``).
    Returns whether the samples' ``ori_shape`` is the image's (not a
    cache's map)."""
    if not isinstance(dataset, CachedFeatureMaps):
        check_whole_image_pipeline(
            cfg[f'{split}_dataloader'].dataset.pipeline, where)
        return True
    source = dataset.metainfo.get('source_config')
    root = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
    found = [p for p in (source, osp.join(root, source or ''))
             if source and osp.isfile(p)]
    if not found:
        print(f'note: the feature cache names no config that is here '
              f'({source!r}); its pipeline is assumed to resize the whole '
              'image (as tools/misc/extract_feature_maps.py with the '
              'EfficientNet-Lite configs)')
    else:  # the cache was made with the source config's val pipeline
        check_whole_image_pipeline(
            Config.fromfile(found[0]).val_dataloader.dataset.pipeline,
            f'{found[0]} (the config of the feature cache of {where})')
    return False


def run(args) -> dict:
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    model = MODELS.build(runner_model_cfg(cfg))
    load_checkpoint_checked(model, args.checkpoint)
    model.eval()
    head = model.head
    if isinstance(head, LSTMGlimpseHead):
        collect = rarl_policy_outputs
    elif isinstance(head, GRREHead):
        gen = torch.Generator().manual_seed(args.seed)

        def collect(h, f, y, objects=None):
            return rarnn_policy_outputs(h, f, y, generator=gen,
                                        objects=objects)
    else:
        raise ValueError(f'{args.config}: the head is {type(head).__name__}; '
                         'a policy report needs LSTMGlimpseHead (RARL) or '
                         'GRREHead (RARNN)')
    torch.manual_seed(args.seed)  # RARL's random locations
    loader = Runner.build_dataloader(cfg[f'{args.split}_dataloader'])
    image_shapes = True  # check the annotations' sizes against ori_shape
    if args.boxes:
        image_shapes = check_box_mapping(cfg, args.split, loader.dataset,
                                         args.config)
    parts, gt = {}, MultiLabelAP()
    seen = 0
    for batch in loader:
        with torch.no_grad():
            data = model.data_preprocessor(batch, False)
            feats = model.extract_feat(data['inputs'])
        samples = data['data_samples']
        objects = (boxes_of_samples(samples, ori_shape=image_shapes)
                   if args.boxes else None)
        out = collect(head, feats, targets(samples, head.num_classes),
                      objects=objects)
        for mode, tensors in out.items():
            for name, t in tensors.items():
                parts.setdefault(mode, {}).setdefault(name, []).append(t)
        # the metrics' own reading of the ground truth (difficult ignored)
        gt.process(None, [dict(ds.to_dict(), pred_score=s) for ds, s in
                          zip(samples, out['learned']['scores'])])
        seen += len(samples)
        if args.max_images is not None and seen >= args.max_images:
            break
    outputs = {m: {n: torch.cat(v) for n, v in d.items()}
               for m, d in parts.items()}
    _, target = gt._stack_results(gt.results)
    ignore = target < 0
    report = summarise(outputs, (target > 0).astype(np.int64), ignore)
    report['_meta'] = dict(config=args.config, checkpoint=args.checkpoint,
                           split=args.split, images=seen, boxes=args.boxes,
                           head=type(head).__name__)
    if 'has_boxes' in outputs['learned']:
        report['_meta']['box_images'] = int(
            outputs['learned']['has_boxes'].sum())
    report['_verdicts'] = verdicts(report)
    return report


#: one line per column, printed under the table
COLUMN_HELP = dict(
    reward='training reward of the policy (mean over labelled images)',
    mAP='non-interpolated mAP (%) of the resulting image scores',
    loc_spread='std of the locations over images (uniform random 0.58, one '
    'location for all images 0)',
    loc_mean_x='mean x location in [-1, 1]',
    loc_mean_y='mean y location in [-1, 1]',
    near_border='share of locations with |x| or |y| > 0.9',
    emission_rate='share of the candidate glimpses emitted',
    num_emitted='mean number of emitted glimpses per image',
    emit_all='share of images that emit every candidate',
    one_label='share of images whose candidates all predict one label (1: '
    'the candidates are copies of one glimpse)',
    one_label_multi='one_label over the images with two or more labels',
    wrong_label='share of the candidates whose argmax label is not in the '
    'image\'s labels (what an indicator could learn to drop)',
    gt_one_label='share of images with one label (where one_label is '
    'right)',
    p_spread='std of the emission probabilities p_t over an image\'s '
    'candidates (0: the indicator cannot tell them apart)',
    on_object='share of the locations inside a GT box (chance: box_share)',
    region_iou='best IoU of a step\'s regions with a GT box, mean over steps',
    attn_spread='std over images of each candidate\'s attention centre '
    '(channels averaged), mean over candidates and x / y (the same place '
    'on every image: 0)',
    attn_on_object='share of the RHN attention mass (emitted glimpses) on '
    'the GT boxes (uniform attention: box_share)',
    box_share='area share of the GT boxes\' union (images with boxes)')


def format_report(report: dict) -> str:
    modes = [m for m in report if not m.startswith('_')]
    cols = sorted({k for m in modes for k in report[m]},
                  key=['reward', 'mAP', 'loc_spread', 'loc_mean_x',
                       'loc_mean_y', 'near_border', 'emission_rate',
                       'num_emitted', 'emit_all', 'one_label',
                       'one_label_multi', 'gt_one_label', 'wrong_label',
                       'p_spread', 'attn_spread', 'on_object', 'region_iou',
                       'attn_on_object', 'box_share'].index)
    width = {c: max(14, len(c) + 2) for c in cols}  # a space between
    lines = ['policy    ' + ''.join(f'{c:>{width[c]}}' for c in cols)]
    for m in modes:
        lines.append(f'{m:<10}' + ''.join(
            f'{report[m][c]:>{width[c]}.3f}' if c in report[m] else
            f'{"-":>{width[c]}}' for c in cols))
    meta = report.get('_meta', {})
    lines.append(f"({meta.get('images')} {meta.get('split')} images)")
    lines += [f'  {c}: {COLUMN_HELP[c]}' for c in cols]
    lines.append('verdicts:')
    lines += [f'  {line}' for line in report.get('_verdicts') or
              verdicts(report)]
    return '\n'.join(lines)


def main(argv=None):
    args = parse_args(argv)
    report = run(args)
    print(format_report(report))
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(report, f, indent=2)


if __name__ == '__main__':
    main()
