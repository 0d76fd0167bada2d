"""Does the learned policy help? The RL side of a trained model, measured.

METHOD.md ("Known pitfalls") asks that the reinforcement parts be *shown*
to learn: the reward above chance, RARL's locations spread over the images
(not collapsed to one corner), RARNN's emission neither all nor nothing.
The training logs show the sampled policy; this module measures the
deterministic test-time policy against policy-free controls on the same
images and the same backbone features:

* RARL (:class:`LSTMGlimpseHead`): ``'learned'`` (``l = mu``, what
  ``predict`` uses) against ``'random'`` (uniform random locations, the
  paper's "random" ablation run through the same trained head).
* RARNN (:class:`GRREHead` with an emission indicator): ``'learned'``
  (``e_t = [p_t > 0.5]`` with the fallback of METHOD.md) against ``'all'``
  (every candidate emitted, "w/o EI") and ``'random'`` (each image emits
  as many glimpses as the learned policy does for it, chosen uniformly).

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

Everything is batched over images; ``tools/analysis_tools/policy_report.py``
runs it over a dataset.
"""
from typing import Dict, Optional

import numpy as np
import torch

from .metrics.functional import average_precision

RARL_MODES = ('learned', 'random')
RARNN_MODES = ('learned', 'all', 'random')


@torch.no_grad()
def rarl_policy_outputs(head, feats, y: torch.Tensor
                        ) -> Dict[str, Dict[str, torch.Tensor]]:
    """Scores, rewards and locations of an ``LSTMGlimpseHead`` per mode.

    Args:
        head: the trained head (eval mode is not required; no sampling).
        feats: the backbone output the head takes.
        y: ``(B, D)`` multi-hot targets.

    Returns:
        ``{mode: {'scores' (B, D) probabilities, 'reward' (B,),
        'valid' (B,) bool, 'locations' (B, T, 2)}}``.
    """
    out = {}
    for mode, head_mode in (('learned', 'mean'), ('random', 'random')):
        g = head.glimpse(feats, head_mode)
        reward, valid = head.reward_fn(g['scores'], y)
        out[mode] = dict(scores=head._probabilities(g['scores']),
                         reward=reward, valid=valid,
                         locations=g['locations'])
    return out


@torch.no_grad()
def rarnn_policy_outputs(head, feats, y: torch.Tensor,
                         generator: Optional[torch.Generator] = None
                         ) -> Dict[str, Dict[str, torch.Tensor]]:
    """Scores, rewards and emission masks of a ``GRREHead`` per mode.

    Args:
        head: the trained head (``use_emission=True``).
        feats: the neck output the head takes (``GlimpseFeatures``).
        y: ``(B, D)`` multi-hot targets.
        generator: for the random emissions (CPU generator).

    Returns:
        ``{mode: {'scores' (B, D), 'reward' (B,), 'valid' (B,) bool,
        'emitted' (B, T) bool}}``.
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
    for mode, emitted in masks.items():
        log_p = log_ps[mode] = head._glimpse_log_probs(feats, emitted, 1)
        out[mode] = dict(scores=head._image_scores(log_p, emitted),
                         reward=head.reward_fn(log_p, emitted, y),
                         valid=y.sum(-1) > 0, emitted=emitted)
    # the candidates themselves (every glimpse emitted)
    out['all'].update(emission_prob=logits.sigmoid(),
                      labels=log_ps['all'].argmax(-1))  # (B, T)
    return out


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
        if 'emitted' in o:
            e = o['emitted'].float()  # (N, T)
            row.update(emission_rate=float(e.mean()),
                       num_emitted=float(e.sum(-1).mean()),
                       emit_all=float((e.mean(-1) == 1).float().mean()))
        if 'labels' in o:
            labels = o['labels']  # (N, T)
            p = o['emission_prob'].float()  # (N, T)
            row.update(
                one_label=float((labels == labels[:, :1]).all(-1)
                                .float().mean()),
                p_spread=float(p.std(-1).mean()) if p.shape[-1] > 1 else 0.)
        report[mode] = row
    return report
