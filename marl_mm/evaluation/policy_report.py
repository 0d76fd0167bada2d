"""Does the learned policy help? The RL side of a trained model, measured.

docs/method.md ("Known pitfalls") asks that the reinforcement parts be *shown*
to learn: the reward above chance, RARL's locations spread over the images
(not collapsed to one corner), RARNN's emission neither all nor nothing.
The training logs show the sampled policy; this module measures the
deterministic test-time policy against policy-free controls on the same
images and the same backbone features:

* RARL (:class:`LSTMGlimpseHead`): ``'learned'`` (``l = mu``, what
  ``predict`` uses) against ``'random'`` (uniform random locations, the
  paper's "random" ablation run through the same trained head) and
  ``'centre'`` (every ``l_t = (0, 0)``, same head: where a collapsed
  policy often ends).
* RARNN (:class:`GRREHead` with an emission indicator): ``'learned'``
  (``e_t = [p_t > 0.5]`` with the fallback of docs/method.md) against ``'all'``
  (every candidate emitted, "w/o EI") and ``'random'`` (each image emits
  as many glimpses as the learned policy does for it, chosen uniformly);
  and ``'drop_wrong'``, not a control but a reference that reads the
  labels: it drops exactly the candidates whose argmax label (every
  candidate emitted) the image does not have (an image with none right
  keeps its most confident candidate). It is not a bound: a candidate
  whose argmax is wrong still gives the image's other labels graded
  scores, which the ranking metric counts, so dropping it can lower the
  mAP; ``drop_wrong - all`` says whether, on this checkpoint, removing
  the misleading glimpses is worth anything at all.

For each mode: the reward the head is trained with (RARL: top-K recall of
the pooled scores; RARNN: Eq. 6 with the head's constants, ``emit_cost``
included) averaged over labelled images, and the non-interpolated mAP of the
resulting image scores. For RARL also the locations' spread (standard
deviation over images, mean over steps and axes: 0.58 for uniform random
locations, ~0 for a collapsed policy), their mean, and the share of
locations within 0.1 of the border; for RARNN the emission rate, the mean
number of emitted glimpses and the share of images that emit all of them.

A choice needs something to choose between: for RARNN the ``'all'`` row
also describes the T candidate glimpses themselves, ``one_label`` (share of
images whose candidates all predict the same argmax label) and ``p_spread``
(standard deviation of the emission probabilities ``p_t`` over an image's
candidates, averaged over images). Near 1 and near 0 they say the RHN gave
the indicator T copies of one glimpse, so no emission policy can beat a
random one.

Columns (what each figure means):

* ``reward``: the training reward of the mode, mean over labelled images;
* ``mAP``: non-interpolated mAP (%) of the mode's image scores;
* ``loc_spread``: RARL, standard deviation of the locations over images
  (mean over steps and x / y; locations in ``[-1, 1]``): 0.58 for uniform
  random locations, 0 when every image gets the same locations;
* ``loc_mean_x`` / ``loc_mean_y``: RARL, mean location;
* ``near_border``: RARL, share of locations with ``|x|`` or ``|y| > 0.9``;
* ``on_object`` (with GT boxes, ``--boxes voc``): RARL, share of the
  locations (over images and steps) inside at least one GT box;
* ``region_iou`` (with boxes): RARL, per step the best IoU between any of
  its k regions (in input pixels, not clipped) and any GT box, mean over
  steps and images;
* ``attn_on_object`` (with boxes): RARNN, share of the RHN's spatial
  attention mass (``A_t`` averaged over channels, normalised to 1 over the
  ``S x S`` cells) on the GT boxes, mean over the mode's emitted glimpses
  and over images;
* ``box_share`` (with boxes): the area share of the union of an image's GT
  boxes, mean over images: what ``on_object`` of uniform random locations
  and ``attn_on_object`` of a uniform attention come to (the chance level).
  Box figures are over the images with at least one non-difficult box;
  their geometry: :mod:`marl_mm.evaluation.object_boxes`;
* ``wrong_label``: RARNN (``'all'`` row), share of the candidates whose
  argmax label is not one of the image's labels (difficult ones count as
  right): the glimpses an indicator could learn to drop. ``--split
  train`` measures it where the indicator learns (0 there means the
  reward never shows it a wrong glimpse);
* ``attn_spread``: RARNN (``'all'`` row), standard deviation over images of
  each candidate's attention centre of mass (``A_t`` averaged over
  channels, cell centres in ``[-1, 1]``), mean over candidates and x / y:
  0 when candidate ``t`` looks at the same place on every image (verdict
  ``COLLAPSE attention`` below ``LOC_SPREAD_MIN``, as RARL's locations);
* ``emission_rate``: RARNN, share of the T candidate glimpses emitted;
  ``num_emitted`` the mean count per image, ``emit_all`` the share of
  images that emit every candidate;
* ``one_label`` (``'all'`` row): share of images whose T candidates all
  predict the same argmax label: 1 when the candidates are copies of one
  glimpse, near 0 when they look at different objects. An image with one
  label is right to have every candidate predict it (a glimpse's softmax
  has no background class), so ``gt_one_label``, the share of images with
  one label (61% of our VOC 2007 split), is the value that good candidates
  come to, and ``one_label_multi`` is ``one_label`` over the images with two
  or more labels, where copies show;
* ``p_spread`` (``'all'`` row): standard deviation of the emission
  probabilities ``p_t`` over an image's candidates, mean over images: 0 when
  the indicator cannot tell the candidates apart.

Verdicts (:func:`verdicts`, one line per check, thresholds chosen here and
named in the line):

* RARL ``loc_spread < 0.15`` (a quarter of uniform's 0.58): COLLAPSE, one
  location for all images;
* RARL ``near_border >= 0.5``: COLLAPSE, the locations ran into the border;
* RARNN ``emission_rate == 1``: COLLAPSE, emit-all (the learned policy is
  the ``'all'`` control); one glimpse per image (``num_emitted <= 1`` of
  T > 1): COLLAPSE, only the fallback glimpse;
* RARNN ``one_label_multi >= 0.5`` (``one_label`` where no image has two
  labels): COPIES, the candidates are copies in most images with several
  labels, so no emission policy can pick them apart;
  ``p_spread < 0.01``: the indicator gives every candidate the same ``p_t``;
* both: the learned reward above every control's (``reward`` margin
  ``> 0.005``) or NO GAIN;
* with boxes: ``on_object`` / ``attn_on_object`` of the learned policy
  above every control's by more than 0.02, ``region_iou`` by more than
  0.01, or NO GAIN; RARNN: the candidates' (``'all'`` row)
  ``attn_on_object`` above ``box_share`` by more than 0.02 (the RHN attends
  to the objects more than a uniform attention) or NO GAIN.

Everything is batched over images; ``tools/analysis_tools/policy_report.py``
runs it over a dataset.
"""
import math
from typing import Dict, List, Optional, Tuple

import numpy as np
import torch
import torch.nn.functional as F

from .metrics.functional import average_precision
from .object_boxes import (attention_on_object, best_iou, on_object,
                           to_input_pixels, union_cover)

RARL_MODES = ('learned', 'random', 'centre')
RARNN_MODES = ('learned', 'all', 'random', 'drop_wrong')


Objects = Tuple[torch.Tensor, torch.Tensor]


def _centre_glimpse(head, feats) -> Dict[str, torch.Tensor]:
    """``head.glimpse(feats, 'mean')`` with the location network's output
    ``mu`` and ``pre_tanh`` replaced by 0 (a forward hook, removed after):
    every ``l_t = (0, 0)`` (the deterministic location, also for the
    mixture policy), everything else the trained head."""
    handle = head.loc_net.register_forward_hook(
        lambda module, args, out: out._replace(
            mu=torch.zeros_like(out.mu),
            pre_tanh=torch.zeros_like(out.pre_tanh)))
    try:
        return head.glimpse(feats, 'mean')
    finally:
        handle.remove()


def _has_boxes(valid: torch.Tensor) -> torch.Tensor:
    return valid.any(-1)  # (B,)


@torch.no_grad()
def rarl_policy_outputs(head, feats, y: torch.Tensor,
                        objects: Optional[Objects] = None
                        ) -> Dict[str, Dict[str, torch.Tensor]]:
    """Scores, rewards and locations of an ``LSTMGlimpseHead`` per mode.

    Modes: ``'learned'`` (``l = mu``), ``'random'`` (uniform locations) and
    ``'centre'`` (every ``l_t = (0, 0)``), all through the same head.

    Args:
        head: the trained head (eval mode is not required; no sampling).
        feats: the backbone output the head takes.
        y: ``(B, D)`` multi-hot targets.
        objects: optional ``(boxes (B, M, 4) in [-1, 1], valid (B, M))``
            GT boxes (:func:`~marl_mm.evaluation.object_boxes.voc_boxes`).

    Returns:
        ``{mode: {'scores' (B, D) probabilities, 'reward' (B,),
        'valid' (B,) bool, 'locations' (B, T, 2)}}``; with ``objects``
        also per image ``'on_object'``, ``'region_iou'``, ``'box_share'``
        (B,) and ``'has_boxes'`` (B,) bool.
    """
    out = {}
    for mode in RARL_MODES:
        g = (_centre_glimpse(head, feats) if mode == 'centre' else
             head.glimpse(feats, 'mean' if mode == 'learned' else mode))
        reward, valid = head.reward_fn(g['scores'], y)
        out[mode] = dict(scores=head._probabilities(g['scores']),
                         reward=reward, valid=valid,
                         locations=g['locations'])
        if objects is not None:
            boxes, box_valid = objects
            input_size = head.cropper.input_size(head._feature_map(feats))
            boxes = boxes.to(g['boxes'])
            out[mode].update(
                on_object=on_object(g['locations'], boxes, box_valid),
                region_iou=best_iou(g['boxes'],
                                    to_input_pixels(boxes, input_size),
                                    box_valid),
                box_share=union_cover(boxes, box_valid)[:, 0, 0],
                has_boxes=_has_boxes(box_valid))
    return out


@torch.no_grad()
def rarnn_policy_outputs(head, feats, y: torch.Tensor,
                         generator: Optional[torch.Generator] = None,
                         objects: Optional[Objects] = None
                         ) -> Dict[str, Dict[str, torch.Tensor]]:
    """Scores, rewards and emission masks of a ``GRREHead`` per mode.

    Args:
        head: the trained head (``use_emission=True``).
        feats: the neck output the head takes (``GlimpseFeatures``).
        y: ``(B, D)`` multi-hot targets.
        generator: for the random emissions (CPU generator).
        objects: optional ``(boxes (B, M, 4) in [-1, 1], valid (B, M))``
            GT boxes; needs the RHN's attention maps ``feats.a``.

    Returns:
        ``{mode: {'scores' (B, D), 'reward' (B,), 'valid' (B,) bool,
        'emitted' (B, T) bool}}``; with ``objects`` also per image
        ``'attn_on_object'`` (mean over the emitted glimpses),
        ``'box_share'`` (B,) and ``'has_boxes'`` (B,) bool.
    """
    if not head.use_emission:
        raise ValueError('rarnn_policy_outputs: the head has no emission '
                         'indicator (use_emission=False): no policy to '
                         'report on')
    feats = head._features(feats)
    logits, learned = head._emit(feats)  # (B, T)
    n = learned.sum(-1, keepdim=True)  # (B, 1)
    u = torch.rand(learned.shape, generator=generator).to(learned.device)
    rank = u.argsort(-1).argsort(-1)  # (B, T) a random permutation rank
    masks = dict(learned=learned, all=torch.ones_like(learned),
                 random=rank < n)  # same count per image as 'learned'
    out, log_ps = {}, {}

    def score(mode, emitted):
        log_p = log_ps[mode] = head._glimpse_log_probs(feats, emitted, 1)
        out[mode] = dict(scores=head._image_scores(log_p, emitted),
                         reward=head.reward_fn(log_p, emitted, y),
                         valid=y.sum(-1) > 0, emitted=emitted)

    for mode, emitted in masks.items():
        score(mode, emitted)
    # a reference that reads the labels: drop exactly the candidates whose
    # argmax label (every candidate emitted) the image does not have; an
    # image with none right keeps its most confident candidate
    p_all = log_ps['all'].exp()  # (B, T, D)
    right = (y > 0).gather(1, p_all.argmax(-1))  # (B, T)
    top = F.one_hot(p_all.amax(-1).argmax(-1), right.shape[1]).bool()
    score('drop_wrong', torch.where(right.any(-1, keepdim=True), right, top))
    # the candidates themselves (every glimpse emitted)
    out['all'].update(emission_prob=logits.sigmoid(),
                      labels=log_ps['all'].argmax(-1))  # (B, T)
    if feats.a is not None:
        out['all']['attn_centres'] = attention_centres(feats.a)
    if objects is not None:
        if feats.a is None:
            raise ValueError('rarnn_policy_outputs: objects need the RHN '
                             'attention maps (GlimpseFeatures.a), got None')
        boxes, box_valid = objects
        a = feats.a  # (B, T, C, S, S)
        cover = union_cover(boxes.to(a.device).float(), box_valid,
                            a.shape[-1])  # (B, S, S)
        mass = attention_on_object(a, cover)  # (B, T)
        for mode, emitted in masks.items():
            e = emitted.float()  # (B, T), at least one emitted per image
            out[mode].update(
                attn_on_object=(mass * e).sum(-1) / e.sum(-1).clamp(min=1),
                box_share=cover.mean((-2, -1)),
                has_boxes=_has_boxes(box_valid))
    return out


def attention_centres(attention: torch.Tensor) -> torch.Tensor:
    """Centre of mass of each glimpse's attention, channels averaged.

    Args:
        attention: ``(B, T, C, S, S)`` (RHN's ``A_t``).

    Returns:
        ``(B, T, 2)`` ``(x, y)`` in ``[-1, 1]`` (cell centres at
        ``-1 + (2i + 1) / S``; a glimpse with no mass at ``(0, 0)``).
    """
    m = attention.float().mean(2)  # (B, T, S, S)
    size = m.shape[-1]
    coords = (torch.arange(size, dtype=m.dtype, device=m.device) * 2 + 1
              ) / size - 1  # (S,)
    total = m.sum((-2, -1))  # (B, T)
    safe = total.clamp(min=1e-30)
    cx = (m.sum(-2) * coords).sum(-1) / safe  # (B, T): over columns
    cy = (m.sum(-1) * coords).sum(-1) / safe  # (B, T): over rows
    centres = torch.stack([cx, cy], -1)  # (B, T, 2)
    return torch.where((total > 0)[..., None], centres,
                       torch.zeros_like(centres))


def summarise(outputs: Dict[str, Dict[str, torch.Tensor]],
              target: np.ndarray,
              ignore: Optional[np.ndarray] = None) -> Dict[str, dict]:
    """Figures per mode from outputs concatenated over a dataset.

    Args:
        outputs: as returned by ``rarl_policy_outputs`` /
            ``rarnn_policy_outputs``, every tensor concatenated over images.
        target: ``(N, D)`` multi-hot targets (for the mAP).
        ignore: optional ``(N, D)`` bool, labels ignored by the mAP
            (VOC difficult).

    Returns:
        ``{mode: {'reward', 'mAP', ...}}`` (floats; mAP in percent).
    """
    report = {}
    for mode, o in outputs.items():
        valid = o['valid'].bool()
        row = dict(
            reward=float(o['reward'][valid].float().mean())
            if valid.any() else float('nan'),
            mAP=100 * float(np.mean(average_precision(
                o['scores'].float().cpu().numpy(), target, 'noninterp',
                ignore_mask=ignore))))
        if 'locations' in o:
            loc = o['locations'].float()  # (N, T, 2)
            row.update(
                loc_spread=float(loc.std(0).mean()) if len(loc) > 1 else 0.,
                loc_mean_x=float(loc[..., 0].mean()),
                loc_mean_y=float(loc[..., 1].mean()),
                near_border=float((loc.abs() > 0.9).any(-1).float().mean()))
        if 'attn_centres' in o:
            c = o['attn_centres'].float()  # (N, T, 2)
            row['attn_spread'] = (float(c.std(0).mean()) if len(c) > 1
                                  else 0.)
        if 'emitted' in o:
            e = o['emitted'].float()  # (N, T)
            row.update(emission_rate=float(e.mean()),
                       num_emitted=float(e.sum(-1).mean()),
                       emit_all=float((e.mean(-1) == 1).float().mean()))
        if 'has_boxes' in o:
            has = o['has_boxes'].bool()
            for name in ('on_object', 'region_iou', 'attn_on_object',
                         'box_share'):
                if name in o:
                    row[name] = (float(o[name][has].float().mean())
                                 if has.any() else float('nan'))
        if 'labels' in o:
            labels = o['labels']  # (N, T)
            p = o['emission_prob'].float()  # (N, T)
            same = (labels == labels[:, :1]).all(-1).float()  # (N,)
            tgt = torch.as_tensor(np.asarray(target) > 0)  # (N, D)
            multi = tgt.sum(-1) >= 2  # (N,)
            hit = tgt.gather(1, labels.long().cpu())  # (N, T)
            if ignore is not None:  # an ignored (difficult) label: not wrong
                hit |= torch.as_tensor(np.asarray(ignore)).bool().gather(
                    1, labels.long().cpu())
            row.update(
                wrong_label=float((~hit).float().mean()),
                one_label=float(same.mean()),
                one_label_multi=float(same[multi].mean()) if multi.any()
                else float('nan'),
                gt_one_label=1. - float(multi.float().mean()),
                p_spread=float(p.std(-1).mean()) if p.shape[-1] > 1 else 0.)
        report[mode] = row
    return report


#: thresholds of :func:`verdicts` (choices made here, see the module doc)
LOC_SPREAD_MIN = 0.15
NEAR_BORDER_MAX = 0.5
ONE_LABEL_MAX = 0.5
P_SPREAD_MIN = 0.01
REWARD_MARGIN = 0.005
ON_OBJECT_MARGIN = 0.02
IOU_MARGIN = 0.01


def _beats_controls(report: Dict[str, dict], name: str, margin: float,
                    controls: List[str], note: str = '') -> Optional[str]:
    """``OK <name>: learned a > best b (+d)`` or ``NO GAIN ...``."""
    learned = report.get('learned', {})
    controls = [m for m in controls if name in report[m]]
    if name not in learned or not controls:
        return None
    best = max(controls, key=lambda m: report[m][name])
    v, c = learned[name], report[best][name]
    if v - c > margin:
        return (f'OK {name}: learned {v:.3f} > {best} {c:.3f} '
                f'({v - c:+.3f} > {margin}{note})')
    return (f'NO GAIN {name}: learned {v:.3f} vs {best} {c:.3f} '
            f'({v - c:+.3f}, margin {margin}{note}): the policy looks no '
            'more at the objects than its control')


def verdicts(report: Dict[str, dict]) -> List[str]:
    """One line per check of :func:`summarise`'s report, each starting with
    ``OK``, ``COLLAPSE``, ``COPIES``, ``NO GAIN`` or ``REFERENCE`` (the
    label-reading ``drop_wrong`` emission against all, a figure, not a
    check) and naming the figure,
    its value and the threshold (see the module docstring).

    Args:
        report: ``{mode: row}`` as returned by :func:`summarise` (keys
            starting with ``_`` are ignored).

    Returns:
        the verdict lines, in the order of the checks.
    """
    learned = report.get('learned', {})
    lines = []
    if 'loc_spread' in learned:
        v = learned['loc_spread']
        lines.append(
            f'COLLAPSE location: loc_spread {v:.3f} < {LOC_SPREAD_MIN}: one '
            'location for all images (uniform random: 0.58)'
            if v < LOC_SPREAD_MIN else
            f'OK location: loc_spread {v:.3f} >= {LOC_SPREAD_MIN}: the '
            'locations differ between images')
        v = learned['near_border']
        lines.append(
            f'COLLAPSE border: near_border {v:.3f} >= {NEAR_BORDER_MAX}: '
            'most locations ran into the image border'
            if v >= NEAR_BORDER_MAX else
            f'OK border: near_border {v:.3f} < {NEAR_BORDER_MAX}')
    if 'emission_rate' in learned:
        v, n = learned['emission_rate'], learned['num_emitted']
        num = report.get('all', {}).get('num_emitted', None)
        if v >= 1. - 1e-9:
            lines.append(f'COLLAPSE emission: emission_rate {v:.3f} = 1: '
                         'emit-all, the learned policy is the "all" control')
        elif num is not None and n <= 1. + 1e-9 < num:
            lines.append(f'COLLAPSE emission: num_emitted {n:.3f} of '
                         f'{num:.0f}: only the fallback glimpse is emitted')
        else:
            lines.append(f'OK emission: emission_rate {v:.3f}: the indicator '
                         'emits some candidates and drops others')
    all_row = report.get('all', {})
    if 'attn_spread' in all_row:
        v = all_row['attn_spread']
        lines.append(
            f'COLLAPSE attention: attn_spread {v:.3f} < {LOC_SPREAD_MIN}: '
            'each candidate looks at the same place on every image'
            if v < LOC_SPREAD_MIN else
            f'OK attention: attn_spread {v:.3f} >= {LOC_SPREAD_MIN}: where '
            'a candidate looks differs between images')
    if 'one_label' in all_row:
        name = 'one_label_multi'
        v = all_row.get(name, float('nan'))
        where = 'images with two or more labels'
        if math.isnan(v):
            name, v, where = 'one_label', all_row['one_label'], 'images'
        lines.append(
            f'COPIES candidates: {name} {v:.3f} >= {ONE_LABEL_MAX}: in most '
            f'{where} every candidate glimpse predicts the same label, so '
            'no emission policy can pick them apart'
            if v >= ONE_LABEL_MAX else
            f'OK candidates: {name} {v:.3f} < {ONE_LABEL_MAX}: in most '
            f'{where} the candidates predict different labels')
        v = all_row['p_spread']
        lines.append(
            f'COPIES emission probabilities: p_spread {v:.3f} < '
            f'{P_SPREAD_MIN}: the indicator gives every candidate the same '
            'p_t' if v < P_SPREAD_MIN else
            f'OK emission probabilities: p_spread {v:.3f} >= {P_SPREAD_MIN}')
    controls = [m for m in report
                if not m.startswith('_') and m not in ('learned', 'drop_wrong')]
    if 'reward' in learned and controls:
        best = max(controls, key=lambda m: report[m]['reward'])
        gain = learned['reward'] - report[best]['reward']
        lines.append(
            f'OK reward: learned {learned["reward"]:.3f} beats every '
            f'control (best: {best} {report[best]["reward"]:.3f}, +'
            f'{gain:.3f} > {REWARD_MARGIN})' if gain > REWARD_MARGIN else
            f'NO GAIN reward: learned {learned["reward"]:.3f} vs {best} '
            f'{report[best]["reward"]:.3f} ({gain:+.3f}, margin '
            f'{REWARD_MARGIN}): the policy is no better than its control')
    ref = report.get('drop_wrong', {})
    if 'mAP' in ref and 'mAP' in all_row:
        lines.append(
            f'REFERENCE emission: drop_wrong (reads the labels, drops exactly '
            f'the wrong-label candidates) mAP {ref["mAP"]:.2f} vs all '
            f'{all_row["mAP"]:.2f} ({ref["mAP"] - all_row["mAP"]:+.2f}): '
            'what removing the misleading glimpses is worth here')
    share = learned.get('box_share')
    note = f'; chance: box_share {share:.3f}' if share is not None else ''
    for name, margin in (('on_object', ON_OBJECT_MARGIN),
                         ('region_iou', IOU_MARGIN),
                         ('attn_on_object', ON_OBJECT_MARGIN)):
        line = _beats_controls(report, name, margin, controls,
                               note if name != 'region_iou' else '')
        if line is not None:
            lines.append(line)
    if 'attn_on_object' in all_row:
        v, gain = all_row['attn_on_object'], all_row['attn_on_object'] - share
        lines.append(
            f'OK attention: attn_on_object of all candidates {v:.3f} > '
            f'box_share {share:.3f} ({gain:+.3f} > {ON_OBJECT_MARGIN}): the '
            'RHN attends to the objects more than a uniform attention'
            if gain > ON_OBJECT_MARGIN else
            f'NO GAIN attention: attn_on_object of all candidates {v:.3f} vs '
            f'box_share {share:.3f} ({gain:+.3f}, margin {ON_OBJECT_MARGIN}):'
            ' the RHN attends to the objects no more than a uniform '
            'attention')
    return lines
