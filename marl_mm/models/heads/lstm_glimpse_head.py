"""RARL head: recurrent attention-aware module + hybrid objective
(Chen et al., "Recurrent Attentional Reinforcement Learning for Multi-label
Image Recognition", AAAI 2018).

Equation numbers are the paper's (``docs/equations.md`` lists them all with
the code and the tests that check them). Per image, with the conv5_3 map
``F`` (stride 16) and ``T`` iterations:

* t = 0: the whole map is one region (Eq. 1 on the full box); its LSTM state
  ``s_0`` only produces ``l_1`` (its scores are not pooled; paper).
* t = 1..T: k anchor regions around ``l_t`` (:class:`GlimpseAnchors`) are
  cropped and resampled to ``s x s`` (:class:`RegionCropper`, Eq. 1), mapped
  by FC+ReLU to semantic vectors ``z_{t,r}``; an LSTM cell per region from
  the carried state, ``(h_{t,r}, c_{t,r}) = LSTM(z_{t,r}, h_{t-1}, c_{t-1})``
  (Eq. 2), a linear classifier per region ``a_{t,r} = W_c h_{t,r}`` (Eq. 4);
  the state carried to ``t+1`` is the mean over the k regions of h and c.
* Localisation (Sec. "Action", in the text, unnumbered):
  ``mu_t = tanh(W_l s_t)``,
  ``l_{t+1} ~ N(mu_t, sigma^2 I)`` clipped to ``[-1, 1]`` (training),
  ``l_{t+1} = mu_t`` (test) -- :class:`GaussianLocationPolicy`.
* Category-wise max-pooling (Eq. 3): ``a^c = max_{t,r} a^c_{t,r}`` over the
  T*k score vectors.
* Hybrid objective: ``loss_cls + lambda_pg * loss_pg + lambda_b *
  loss_baseline``: the classification loss of Eq. 9 on ``p = softmax(a)``
  (Eq. 10); the delayed reward (Eq. 5, :class:`TopKRecallReward`) and its
  undiscounted return ``R = r_T`` (Eq. 6); REINFORCE (Eqs. 7-8) with a
  learned baseline (:class:`RewardBaseline`).

Everything is vectorised over images and regions (regions are folded into
the batch, ``B*k``); the only Python loop is over the T recurrent steps. One
``roi_align`` call per step crops all ``B*k`` regions (the regions of step
``t+1`` depend on the state of step ``t``, so steps cannot share a call).

Predictions (:meth:`predict`) put into each ``DataSample``:

* ``pred_score``: ``(D,)`` probabilities, :meth:`predict_scores`: softmax of
  the pooled scores for ``loss_type`` 'squared' / 'soft_ce' (the paper's
  ``p``), sigmoid for 'bce'.
* ``glimpse_locations``: ``(T, 2)`` the attended locations ``l_1..l_T``
  (normalised ``(x, y)`` in ``[-1, 1]``; ``l_0`` is the whole image and is not
  stored).
* ``glimpse_scores``: ``(T, D)`` each step's probabilities (its max over
  the k regions, then the head's normalisation).
* ``glimpse_boxes``: ``(T, k, 4)`` the regions ``(x1, y1, x2, y2)`` in pixels
  of the input crop (may cross its border).

Options where the paper is open or against the policy collapse of
docs/method.md "Known pitfalls" (default; paper vs chosen here; measurements
in docs/):

* policy warm-up: ``PolicyGradientHook(warmup_iters=N)`` (default 0; paper:
  none; RARL configs 500, quick start 38) looks at uniform random locations
  with no policy loss while the hook sets ``policy_warmup``, decided from
  ``runner.iter`` (docs/rarl.md, 'The fix (new defaults)').
* ``advantage_norm``: 'none' (default, paper: raw ``R - b``) | 'std' (divide
  by the batch std) | 'meanstd' (also subtract the mean) (docs/rarl.md,
  'The fix (new defaults)').
* ``loss_type``: 'squared' (default, paper) | 'soft_ce' (paper's
  alternative) | 'bce' (sigmoid BCE on the pooled scores, mean over the D
  classes and the labelled images) (docs/rarl.md, 'Diagnosis').
* ``policy_detach_state`` (default False, paper): True stops REINFORCE's
  gradient into the shared state (docs/rarl.md, 'Diagnosis').
* ``policy_state_grad_scale`` (default 1, paper): scales that gradient
  (0 acts like detached) (docs/rarl.md, 'Diagnosis').
* ``loc_zero_init`` (default True, chosen here; paper: False): every image
  starts at the centre ``mu = 0``; the REINFORCE gradient into the state is
  zero until ``W_l`` moves (docs/rarl.md, 'Zero-initialised location
  network').
* ``loc_hidden_dims`` (default None = the paper's single FC): an optional
  hidden layer of the localisation network (:class:`GaussianLocationPolicy`).
* ``lambda_mu`` (default 0, chosen here): weight of a penalty on the squared
  pre-tanh location mean, added to ``loss_pg`` (docs/rarl.md, 'Diagnosis').
* ``random_locations`` (default False): always uniform random locations, no
  policy loss (the paper's "random" ablation; docs/rarl.md, 'Ablations').
* ``region_source``: 'anchors' (default, paper: k anchors around ``l_t``) |
  'proposals' (the paper's proposal ablation: step t looks at ONE region,
  the t-th proposal of ``data_sample.proposals``, :class:`LoadProposals`; no
  policy loss; missing ones replaced by the whole input, logged once)
  (docs/rarl.md, 'Proposal ablation').
* ``use_lstm`` / ``classify_from``: True / 'state' (default, paper's Ours-C) |
  True / 'region' (Ours-B: regions classified from their semantic vectors) |
  False (Ours-A: no recurrence, locations from the mean semantic vector)
  (docs/rarl.md, 'Ablations').
* learning rates (config, not an option here): the paper trains everything
  at 1e-5; from random init at a higher Adam rate keep ``head.embed`` and
  ``head.loc_net`` at 1e-5 with ``paramwise_cfg.custom_keys`` lr_mult
  (docs/rarl.md, 'From random init on real images').
* ``baseline_mode`` (:class:`PolicyHeadMixin`): 'learned' (default, paper) |
  'running_mean' (the hook's running mean reward) | 'none'.
"""
import logging
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.logging import print_log
from mmengine.model import BaseModule

from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from ..glimpse.gaussian_location_policy import GaussianLocationPolicy
from ..glimpse.glimpse_anchors import GlimpseAnchors
from ..glimpse.policy_head_mixin import ADVANTAGE_NORMS, PolicyHeadMixin
from ..glimpse.region_cropper import RegionCropper
from ..glimpse.reward_baseline import RewardBaseline
from ..glimpse.top_k_recall_reward import TopKRecallReward
from .targets import multi_hot_targets

LOSS_TYPES = ('squared', 'soft_ce', 'bce')
REGION_SOURCES = ('anchors', 'proposals')


@MODELS.register_module()
class LSTMGlimpseHead(BaseModule, PolicyHeadMixin):
    """RARL glimpse head (see the module docstring for the equations).

    Args:
        num_classes: D.
        in_channels: C of the feature map (512 for VGG16).
        feat_stride: input pixels per feature cell (16 for conv5_3).
        num_steps: T (paper: 5).
        anchor_sizes: square roots of the region areas in input pixels
            (paper: (80, 160, 320) for N = 512, (96, 192, 384) for 640).
        anchor_ratios: width / height (paper: 2:1, 1:1, 1:2).
        roi_size: s (default 7, chosen here).
        sampling_ratio: roi_align samples per bin side (2, chosen here).
        embed_dims: semantic vector size (default 1024, chosen here).
        hidden_dims: LSTM hidden size (default 1024, chosen here).
        sigma: Gaussian policy standard deviation (paper: 0.11); the
            :class:`PolicyGradientHook` may schedule it (``exploration``).
        loss_type: 'squared' | 'soft_ce' | 'bce'.
        reward_topk: fixed K of the reward, ``None`` for K = |GT|.
        lambda_pg: weight of the REINFORCE loss.
        lambda_b: weight of the baseline's MSE loss.
        baseline_mode: 'learned' | 'running_mean' | 'none'.
        baseline_hidden: hidden width of the learned baseline.
        use_lstm: recurrent module (False: Ours-A).
        classify_from: 'state' (LSTM h, paper) | 'region' (semantic vector).
        random_locations: uniform random locations (ablation).
        policy_detach_state: the localisation network reads a detached state.
        policy_state_grad_scale: scale of the REINFORCE gradient into the
            state (1 = paper, 0 = detached).
        region_source: 'anchors' | 'proposals'.
        loc_zero_init: zero-initialise the localisation output layer.
        loc_hidden_dims: optional hidden layer of the localisation network.
        advantage_norm: 'none' | 'std' | 'meanstd'.
        lambda_mu: weight of the pre-tanh mean penalty.
        init_cfg: mmengine init config.
    """

    exploration_name = 'sigma'

    def __init__(self,
                 num_classes: int,
                 in_channels: int = 512,
                 feat_stride: float = 16.,
                 num_steps: int = 5,
                 anchor_sizes: Sequence[float] = (80., 160., 320.),
                 anchor_ratios: Sequence[float] = (2., 1., 0.5),
                 roi_size: int = 7,
                 sampling_ratio: int = 2,
                 embed_dims: int = 1024,
                 hidden_dims: int = 1024,
                 sigma: float = 0.11,
                 loss_type: str = 'squared',
                 reward_topk: Optional[int] = None,
                 lambda_pg: float = 1.,
                 lambda_b: float = 1.,
                 baseline_mode: str = 'learned',
                 baseline_hidden: int = 256,
                 use_lstm: bool = True,
                 classify_from: str = 'state',
                 random_locations: bool = False,
                 region_source: str = 'anchors',
                 policy_detach_state: bool = False,
                 policy_state_grad_scale: float = 1.,
                 loc_zero_init: bool = True,
                 loc_hidden_dims: Optional[int] = None,
                 advantage_norm: str = 'none',
                 lambda_mu: float = 0.,
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if loss_type not in LOSS_TYPES:
            raise ValueError(f'LSTMGlimpseHead: loss_type must be one of '
                             f'{LOSS_TYPES}, got {loss_type!r}')
        if advantage_norm not in ADVANTAGE_NORMS:
            raise ValueError(f'LSTMGlimpseHead: advantage_norm must be one of '
                             f'{ADVANTAGE_NORMS}, got {advantage_norm!r}')
        if region_source not in REGION_SOURCES:
            raise ValueError(f'LSTMGlimpseHead: region_source must be one of '
                             f'{REGION_SOURCES}, got {region_source!r}')
        if classify_from not in ('state', 'region'):
            raise ValueError("LSTMGlimpseHead: classify_from must be 'state' "
                             f"or 'region', got {classify_from!r}")
        if not use_lstm and classify_from == 'state':
            raise ValueError("LSTMGlimpseHead: use_lstm=False (Ours-A) needs "
                             "classify_from='region'")
        if num_steps < 1 or num_classes < 1:
            raise ValueError('LSTMGlimpseHead: num_steps and num_classes must '
                             f'be >= 1, got {num_steps}, {num_classes}')
        if not sigma > 0:
            raise ValueError(f'LSTMGlimpseHead: sigma must be > 0, got {sigma}')
        self._init_policy_state(exploration=float(sigma),
                                baseline_mode=baseline_mode)
        self.num_classes = num_classes
        self.in_channels = in_channels
        self.num_steps = num_steps
        self.loss_type = loss_type
        self.lambda_pg = lambda_pg
        self.lambda_b = lambda_b
        self.use_lstm = use_lstm
        self.classify_from = classify_from
        self.random_locations = random_locations
        self.region_source = region_source
        self._warned_no_proposals = False
        self.advantage_norm = advantage_norm
        self.lambda_mu = lambda_mu
        # the warm-up counter of checkpoints written before the warm-up
        # moved to PolicyGradientHook (module extra state)
        self._ignore_legacy_state('_extra_state')

        self.anchors = GlimpseAnchors(anchor_sizes, anchor_ratios)
        self.cropper = RegionCropper(roi_size, feat_stride, sampling_ratio)
        self.reward_fn = TopKRecallReward(reward_topk)
        self.num_regions = (1 if region_source == 'proposals' else
                            self.anchors.num_anchors)

        self.embed = nn.Sequential(
            nn.Linear(in_channels * roi_size * roi_size, embed_dims),
            nn.ReLU(inplace=True))
        state_dims = hidden_dims if use_lstm else embed_dims
        self.lstm = nn.LSTMCell(embed_dims, hidden_dims) if use_lstm else None
        self.cls = nn.Linear(
            hidden_dims if classify_from == 'state' else embed_dims,
            num_classes)
        self.loc_net = GaussianLocationPolicy(
            state_dims, loc_hidden_dims, detach_input=policy_detach_state,
            zero_init=loc_zero_init, input_grad_scale=policy_state_grad_scale)
        self.baseline = (RewardBaseline(state_dims, baseline_hidden)
                         if baseline_mode == 'learned' else None)

    # ------------------------------------------------------------ forward
    def _feature_map(self, feats) -> torch.Tensor:
        x = feats[-1] if isinstance(feats, (tuple, list)) else feats
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ValueError(
                'LSTMGlimpseHead: expected a (B, in_channels=' 
                f'{self.in_channels}, H, W) feature map, got '
                f'{tuple(x.shape)}')
        return x

    def _embed(self, padded: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
        regions = self.cropper(padded, boxes)  # (B, R, C, s, s)
        return self.embed(regions.flatten(2))  # (B, R, E)

    def glimpse(self, feats, mode: str,
                proposals: Optional[torch.Tensor] = None
                ) -> Dict[str, torch.Tensor]:
        """Run the T glimpse steps.

        Args:
            feats: backbone output (tuple whose last item is the map).
            mode: 'sample' (Gaussian policy), 'mean' (``l = mu``),
                'random' (uniform locations) or 'proposals' (step t looks
                at ``proposals[:, t]``; the locations are their centres).
            proposals: ``(B, T, 4)`` boxes in input pixels (mode
                'proposals' only).

        Returns:
            dict with ``scores`` (B, D) pooled, ``region_scores``
            (B, T, k, D), ``locations`` (B, T, 2) used, ``actions`` (B, T, 2)
            unclipped samples, ``mu`` and ``pre_tanh`` (B, T, 2), ``states``
            (B, T, S) the states that chose ``l_1..l_T``, ``boxes``
            (B, T, k, 4).
        """
        x = self._feature_map(feats)  # (B, C, H, W)
        B, k = x.shape[0], self.num_regions
        input_size = self.cropper.input_size(x)
        padded = self.cropper.pad(x)  # (B, C, H+2, W+2)

        whole = x.new_tensor([0., 0., input_size[1], input_size[0]])
        z = self._embed(padded, whole.expand(B, 1, 4))  # (B, 1, E)
        if self.use_lstm:
            h, c = self.lstm(z[:, 0])  # (B, Hd) each: s_0
            state = h
        else:
            state = z[:, 0]  # (B, E)

        out = {n: [] for n in ('region_scores', 'locations', 'actions', 'mu',
                               'pre_tanh', 'states', 'boxes')}
        for _ in range(self.num_steps):
            mu, pre = self.loc_net(state)  # (B, 2) each: Gaussian policy
            t = len(out['boxes'])
            if mode == 'proposals':
                boxes = proposals[:, t:t + 1]  # (B, 1, 4)
                centre = (boxes[:, 0, :2] + boxes[:, 0, 2:]) / 2  # (B, 2)
                action = loc = centre / centre.new_tensor(
                    [input_size[1], input_size[0]]) * 2 - 1  # (B, 2)
            else:
                if mode == 'random':
                    action = torch.rand_like(mu) * 2 - 1  # (B, 2)
                    loc = action
                elif mode == 'sample':
                    action, loc = self.loc_net.sample(mu, self.exploration)
                else:
                    action = loc = mu.detach()
                boxes = self.anchors(loc, input_size)  # (B, k, 4)
            z = self._embed(padded, boxes)  # (B, k, E): Eq. 1 + FC
            for name, v in (('locations', loc), ('actions', action),
                            ('mu', mu), ('pre_tanh', pre), ('states', state),
                            ('boxes', boxes)):
                out[name].append(v)
            if self.use_lstm:
                hd = h.shape[-1]
                h_r, c_r = self.lstm(
                    z.reshape(B * k, -1),
                    (h.repeat_interleave(k, 0), c.repeat_interleave(k, 0))
                )  # (B*k, Hd) each: Eq. 2
                h_r, c_r = h_r.view(B, k, hd), c_r.view(B, k, hd)
                h, c = h_r.mean(1), c_r.mean(1)  # (B, Hd): averaged state
                state = h
                feat = h_r if self.classify_from == 'state' else z
            else:
                state = z.mean(1)  # (B, E): Ours-A
                feat = z
            out['region_scores'].append(self.cls(feat))  # (B, k, D): Eq. 4
        result = {n: torch.stack(v, 1) for n, v in out.items()}
        # Eq. 3: category-wise max over the T*k regions
        result['scores'] = result['region_scores'].flatten(1, 2).amax(
            1)  # (B, D)
        return result

    def _mode(self) -> str:
        if self.region_source == 'proposals':
            return 'proposals'
        if self.random_locations:
            return 'random'
        return 'sample' if self.training else 'mean'

    def _proposals(self, feats, data_samples: Optional[List]
                   ) -> Optional[torch.Tensor]:
        """``(B, T, 4)`` proposal boxes from ``data_sample.proposals``
        (best first, input pixels), or None unless region_source is
        'proposals'. Missing boxes (a sample without the field, or with fewer
        than T boxes) are the whole input, logged once per head."""
        if self.region_source != 'proposals':
            return None
        x = self._feature_map(feats)
        h_in, w_in = self.cropper.input_size(x)
        whole = x.new_tensor([0., 0., w_in, h_in])
        out = whole.repeat(x.shape[0], self.num_steps, 1)  # (B, T, 4)
        missing = 0
        for i in range(x.shape[0]):
            ds = None if data_samples is None else data_samples[i]
            if ds is None or 'proposals' not in ds:
                missing += 1
                continue
            boxes = torch.as_tensor(ds.proposals, dtype=x.dtype,
                                    device=x.device).reshape(-1, 4)
            n = min(len(boxes), self.num_steps)
            out[i, :n] = boxes[:n]
            missing += n < self.num_steps
        if missing and not self._warned_no_proposals:
            print_log(f'LSTMGlimpseHead: {missing} of {x.shape[0]} images '
                      f'have fewer than {self.num_steps} proposals (no '
                      "'proposals' field: LoadProposals missing from the "
                      'pipeline?); the whole image stands in for the missing '
                      'ones (logged once).', logger='current',
                      level=logging.WARNING)
            self._warned_no_proposals = True
        return out

    def forward(self, feats) -> torch.Tensor:
        """Pooled scores ``(B, D)`` (logits before softmax / sigmoid)."""
        return self.glimpse(feats, self._mode(),
                            self._proposals(feats, None))['scores']

    def _probabilities(self, scores: torch.Tensor) -> torch.Tensor:
        if self.loss_type == 'bce':
            return scores.sigmoid()
        return scores.softmax(-1)

    def predict_scores(self, feats) -> torch.Tensor:
        """``(B, D)`` probabilities (softmax; sigmoid for 'bce')."""
        return self._probabilities(self.forward(feats))

    # --------------------------------------------------------------- loss
    def _cls_loss(self, scores: torch.Tensor, y: torch.Tensor,
                  valid: torch.Tensor) -> torch.Tensor:
        """Eq. 9 ('squared'; 'soft_ce' and 'bce' are the options) on
        ``p = softmax(a)`` (Eq. 10), averaged over the labelled images."""
        if self.loss_type == 'bce':  # mean over the D classes
            per_image = F.binary_cross_entropy_with_logits(
                scores, y, reduction='none').mean(-1)  # (B,)
        else:
            p_hat = y / y.sum(-1, keepdim=True).clamp(min=1)  # (B, D)
            if self.loss_type == 'squared':
                per_image = (scores.softmax(-1) - p_hat).pow(2).sum(-1)
            else:
                per_image = -(p_hat * scores.log_softmax(-1)).sum(-1)
        # images without labels (no p_hat, no reward) are excluded from
        # every loss
        return (per_image * valid).sum() / valid.sum().clamp(min=1)

    def loss(self, feats, data_samples: List[DataSample]) -> Dict[str,
                                                                 torch.Tensor]:
        """Hybrid objective (see the module docstring).

        Returns:
            ``loss_cls``, ``loss_pg``, ``loss_baseline`` and the logged
            values ``reward``, ``adv_abs``, ``loc_spread``.
        """
        mode = self._mode()
        if self.policy_warmup and mode == 'sample':
            mode = 'random'
        out = self.glimpse(feats, mode, self._proposals(feats, data_samples))
        scores = out['scores']  # (B, D)
        y = multi_hot_targets(data_samples, self.num_classes, scores.device,
                              type(self).__name__)
        reward, valid = self.reward_fn(scores.detach(), y)  # (B,) each
        validf = valid.float()
        num_valid = validf.sum().clamp(min=1)
        losses = {'loss_cls': self._cls_loss(scores, y, validf)}

        states = out['states']  # (B, T, S)
        if self.baseline_mode == 'learned':
            b = self.baseline(states)  # (B, T), detached input
            losses['loss_baseline'] = self.lambda_b * (
                (b - reward[:, None]).pow(2).mean(1) * validf).sum() / num_valid
            adv = reward[:, None] - b.detach()  # (B, T)
        else:
            losses['loss_baseline'] = scores.new_zeros(())
            base = (self.external_baseline if self.baseline_mode ==
                    'running_mean' and self.external_baseline is not None
                    else 0.)
            adv = (reward - base)[:, None].expand(-1, self.num_steps)
        adv = self.normalise_advantage(adv, self.advantage_norm,
                                       valid[:, None])

        if mode == 'sample':
            logp = self.loc_net.log_prob(out['actions'], out['mu'],
                                         self.exploration)  # (B, T)
            pg = -(logp * adv).sum(1)  # (B,): Eq. 8 with baseline
            loss_pg = self.lambda_pg * (pg * validf).sum() / num_valid
            if self.lambda_mu > 0:  # keep mu out of tanh saturation
                loss_pg = loss_pg + self.lambda_mu * out['pre_tanh'].pow(2).mean()
            losses['loss_pg'] = loss_pg
        else:  # random locations or proposals: nothing to reinforce
            losses['loss_pg'] = scores.new_zeros(()) + 0. * out['mu'].sum()

        loc = out['locations'].detach()  # (B, T, 2)
        spread = loc.flatten(0, 1).std(0).mean() if loc[..., 0].numel() > 1 \
            else loc.new_zeros(())
        mean_reward = (reward * validf).sum() / num_valid
        adv_abs = (adv.abs() * validf[:, None]).sum() / (num_valid *
                                                         self.num_steps)
        self._record_rl_stats(
            reward=mean_reward, advantage_abs=adv_abs,
            entropy=GaussianLocationPolicy.entropy(self.exploration),
            loc_spread=spread, loc_mean_x=loc[..., 0].mean(),
            loc_mean_y=loc[..., 1].mean())
        losses.update(reward=mean_reward.detach(), adv_abs=adv_abs.detach(),
                      loc_spread=spread)
        return losses

    # ------------------------------------------------------------ predict
    def predict(self, feats, data_samples: Optional[List[
            Optional[DataSample]]] = None) -> List[DataSample]:
        """Fill ``pred_score``, ``glimpse_locations``, ``glimpse_boxes`` and
        ``glimpse_scores`` ``(T, D)``: each step's probabilities from its
        category-wise max over its k regions (what the glimpse drawings
        label each step with)."""
        out = self.glimpse(feats, self._mode(),
                           self._proposals(feats, data_samples))
        probs = self._probabilities(out['scores']).detach()  # (B, D)
        steps = self._probabilities(
            out['region_scores'].amax(2)).detach()  # (B, T, D)
        if data_samples is None:
            data_samples = [None] * probs.shape[0]
        results = []
        for i, ds in enumerate(data_samples):
            ds = DataSample() if ds is None else ds
            ds.set_pred_score(probs[i])
            ds.set_field(out['locations'][i].detach(), 'glimpse_locations')
            ds.set_field(out['boxes'][i].detach(), 'glimpse_boxes')
            ds.set_field(steps[i], 'glimpse_scores')
            results.append(ds)
        return results
