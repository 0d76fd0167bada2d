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
:meth:`RegionCropper.crop` call per step crops all ``B*k`` regions (the
regions of step ``t+1`` depend on the state of step ``t``, so steps cannot
share a call).

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

Options (default; paper vs chosen here), one line each, measurements in
docs/rarl.md (RARL sections named) and the full table in docs/method.md
("Defaults where the papers are open"):

* ``policy`` (:class:`GaussianLocationPolicy`): ``sigma`` 0.11 (paper; the
  :class:`PolicyGradientHook` may schedule it as ``exploration``),
  ``zero_init`` True (chosen here; paper False: 'Zero-initialised location
  network'), ``detach_input`` False (paper: REINFORCE reaches the state;
  'Diagnosis'), ``hidden_dims`` None (paper's single FC), ``map_channels``
  None (paper: ``mu`` from the state alone) | ``in_channels`` (``mu`` is the
  centre of an attention over the map cells queried by the state),
  ``inhibition`` None (earlier behaviour) | ``dict(weight, radius)`` (with
  ``map_channels``: inhibition of return, the attention at step t avoids the
  cells near ``l_1..l_{t-1}``, the locations used, because the steps of one
  image clustered together; ``weight`` learnable by default),
  ``map_policy`` 'mean' (earlier behaviour: the Gaussian around the
  attention's centre of mass) | 'mixture' (with ``map_channels``: a mixture
  of Gaussians on the cells weighted by the attention, ``l = g_{argmax w}``
  at test, the most probable cell; because the centre of mass of a spread
  attention lies between objects, near the image centre).
* ``baseline`` (:class:`RewardBaseline`): ``mode`` 'learned' (paper) |
  'self_critical' (the reward of the same image under the test-time policy
  ``l = mu``, one extra forward without gradient; chosen here for
  pretrained features, docs/rarl.md) | 'running_mean' (the hook's) |
  'none'; ``hidden_dims`` 256 (chosen here).
* ``reward``: ``kind`` 'recall' (paper, :class:`TopKRecallReward` with
  ``topk`` None: K = |GT|) | 'neg_loss' (minus the image's classification
  loss of the pooled scores: graded where recall is already 1; chosen here
  for pretrained features). The logged ``reward`` is the recall either way.
* ``loss_type``: 'squared' (paper) | 'soft_ce' (paper's alternative) | 'bce'
  ('Diagnosis').
* ``advantage_norm``: 'none' (paper: raw ``R - b``) | 'std' | 'meanstd'
  ('The fix (new defaults)').
* ``random_locations``: uniform random locations, no policy loss ('Ablations').
* ``region_source``: 'anchors' (paper) | 'proposals' (step t looks at the
  t-th box of ``data_sample.proposals``, :class:`LoadProposals`; missing ones
  are the whole input, logged once; 'Proposal ablation').
* ``use_lstm`` / ``classify_from``: True / 'state' (Ours-C, paper's main) |
  True / 'region' (Ours-B) | False (Ours-A: no recurrence) ('Ablations').
* policy warm-up: ``PolicyGradientHook(warmup_iters=N)`` ('The fix (new
  defaults)'); learning rates: ``paramwise_cfg`` in the configs ('From random
  init on real images').
"""
import logging
from functools import partial
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
BASELINE_MODES = ('learned', 'self_critical', 'running_mean', 'none')
REWARD_KINDS = ('recall', 'neg_loss')


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
        sampling_ratio: bilinear samples per bin side (roi_align's
            ``sampling_ratio``; 2, chosen here).
        embed_dims: semantic vector size (default 1024, chosen here).
        hidden_dims: LSTM hidden size (default 1024, chosen here).
        policy: ``sigma`` (the Gaussian's standard deviation, paper 0.11)
            and the keyword arguments of :class:`GaussianLocationPolicy`
            (``zero_init``, ``detach_input``, ``hidden_dims``,
            ``map_channels``: set it to ``in_channels`` for the location
            network that reads the map; ``inhibition``: None (default) or
            ``dict(weight=2., radius=0.25, learnable=True)``, with
            ``map_channels``, to lower the attention near the locations
            this image's earlier steps used; ``map_policy``: 'mean'
            (default) or 'mixture', with ``map_channels``, for a mixture of
            Gaussians on the map cells whose deterministic location, at
            test and for the self-critical baseline, is the most probable
            cell).
        baseline: ``mode`` ('learned' | 'self_critical' | 'running_mean' |
            'none') and the keyword arguments of :class:`RewardBaseline`
            (``hidden_dims``).
        reward: ``kind`` ('recall' | 'neg_loss') and the keyword arguments
            of :class:`TopKRecallReward` (``topk``).
        loss_type: 'squared' | 'soft_ce' | 'bce'.
        lambda_pg: weight of the REINFORCE loss.
        lambda_b: weight of the baseline's MSE loss.
        use_lstm: recurrent module (False: Ours-A).
        classify_from: 'state' (LSTM h, paper) | 'region' (semantic vector).
        random_locations: uniform random locations (ablation).
        region_source: 'anchors' | 'proposals'.
        advantage_norm: 'none' | 'std' | 'meanstd'.
        dropout: dropout on the semantic vectors in training (default 0,
            chosen here; the paper names none).
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
                 policy: Optional[dict] = None,
                 baseline: Optional[dict] = None,
                 reward: Optional[dict] = None,
                 loss_type: str = 'squared',
                 lambda_pg: float = 1.,
                 lambda_b: float = 1.,
                 use_lstm: bool = True,
                 classify_from: str = 'state',
                 random_locations: bool = False,
                 region_source: str = 'anchors',
                 advantage_norm: str = 'none',
                 dropout: float = 0.,
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        policy = {'sigma': 0.11, **(policy or {})}
        baseline = {'mode': 'learned', **(baseline or {})}
        reward = {'kind': 'recall', **(reward or {})}
        sigma, baseline_mode = policy.pop('sigma'), baseline.pop('mode')
        reward_kind = reward.pop('kind')
        for name, value, choices in (
                ('baseline mode', baseline_mode, BASELINE_MODES),
                ('reward kind', reward_kind, REWARD_KINDS),
                ('loss_type', loss_type, LOSS_TYPES),
                ('advantage_norm', advantage_norm, ADVANTAGE_NORMS),
                ('region_source', region_source, REGION_SOURCES),
                ('classify_from', classify_from, ('state', 'region'))):
            if value not in choices:
                raise ValueError(f'LSTMGlimpseHead: {name} must be one of '
                                 f'{choices}, got {value!r}')
        if not use_lstm and classify_from == 'state':
            raise ValueError("LSTMGlimpseHead: use_lstm=False (Ours-A) needs "
                             "classify_from='region'")
        if num_steps < 1 or num_classes < 1:
            raise ValueError('LSTMGlimpseHead: num_steps and num_classes must '
                             f'be >= 1, got {num_steps}, {num_classes}')
        if not sigma > 0:
            raise ValueError('LSTMGlimpseHead: policy sigma must be > 0, got '
                             f'{sigma}')
        # the mixin knows 'learned' | 'running_mean' | 'none'; the self-
        # critical baseline needs nothing from the hook
        self._init_policy_state(
            exploration=float(sigma),
            baseline_mode='none' if baseline_mode == 'self_critical' else
            baseline_mode)
        self.baseline_mode = baseline_mode
        self.reward_kind = reward_kind
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
        # the warm-up counter of checkpoints written before the warm-up
        # moved to PolicyGradientHook (module extra state)
        self._ignore_legacy_state('_extra_state')

        self.anchors = GlimpseAnchors(anchor_sizes, anchor_ratios)
        self.cropper = RegionCropper(roi_size, feat_stride, sampling_ratio)
        self.reward_fn = TopKRecallReward(**reward)
        self.num_regions = (1 if region_source == 'proposals' else
                            self.anchors.num_anchors)

        if not 0 <= dropout < 1:
            raise ValueError(f'LSTMGlimpseHead: dropout must be in [0, 1), '
                             f'got {dropout}')
        self.embed = nn.Sequential(
            nn.Linear(in_channels * roi_size * roi_size, embed_dims),
            nn.ReLU(inplace=True), nn.Dropout(dropout))
        state_dims = hidden_dims if use_lstm else embed_dims
        self.lstm = nn.LSTMCell(embed_dims, hidden_dims) if use_lstm else None
        self.cls = nn.Linear(
            hidden_dims if classify_from == 'state' else embed_dims,
            num_classes)
        if policy.get('map_channels') not in (None, in_channels):
            raise ValueError(
                'LSTMGlimpseHead: policy map_channels must be None or '
                f"in_channels={in_channels}, got {policy['map_channels']}")
        self.loc_net = GaussianLocationPolicy(state_dims, **policy)
        self.baseline = (RewardBaseline(state_dims, **baseline)
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

    def _embed_weight(self, num_images: int) -> Optional[torch.Tensor]:
        """The semantic FC's weight with its inputs in the cropper's
        (row, channel, column) order, ``(E, s*C*s)``, when permuting it once
        per :meth:`glimpse` copies less than permuting every step's crops
        into (channel, row, column) order (more region rows than FC
        outputs); else None (the crops are permuted). Same numbers either
        way, same parameter."""
        fc, s = self.embed[0], self.cropper.roi_size
        rows = num_images * (1 + self.num_steps * self.num_regions)
        if s == 1 or rows <= fc.out_features:
            return None
        return fc.weight.unflatten(1, (self.in_channels, s, s)).transpose(
            1, 2).flatten(1)  # (E, s*C*s)

    def _embed(self, x: torch.Tensor, by_row: torch.Tensor,
               boxes: torch.Tensor,
               weight: Optional[torch.Tensor]) -> torch.Tensor:
        """Eq. 1 and the semantic FC: ``(B, R, E)`` vectors ``z_{t,r}``
        (``weight``: :meth:`_embed_weight`)."""
        if weight is None:
            regions = self.cropper.crop(x, boxes, by_row)  # (B, R, C, s, s)
            return self.embed(regions.flatten(2))  # (B, R, E): z_{t,r}
        regions = self.cropper.crop(x, boxes, by_row,
                                    layout='ycx')  # (B, R, s, C, s)
        z = F.linear(regions.flatten(2), weight, self.embed[0].bias)
        return self.embed[1:](z)  # (B, R, E): the layers after the FC

    def _start(self, z: torch.Tensor):
        """t = 0 on the whole map's vector ``z`` (B, E): ``(s_0, carry)``."""
        if not self.use_lstm:  # Ours-A: the state is the semantic vector
            return z, None
        h, c = self.lstm(z)  # (B, Hd) each
        return h, (h, c)

    def _locate(self, mode: str, centres: Optional[torch.Tensor],
                policy_out, t: int, input_size
                ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(action, l_{t+1}, boxes)``: the location drawn from the policy
        (or uniform / its deterministic location ``mu``) and the k anchors
        around it (B, k, 4); ``policy_out``: the policy's
        :class:`LocationOutput`, ``centres`` its cell centres (or None)."""
        mu = policy_out.mu
        if mode == 'sample':
            if policy_out.log_w is None:
                action, loc = self.loc_net.sample(mu, self.exploration)
            else:  # the mixture over the cells
                action, loc = self.loc_net.sample(
                    mu, self.exploration, policy_out.log_w, centres)
        elif mode == 'random':
            action = loc = torch.rand_like(mu) * 2 - 1  # (B, 2)
        else:
            action = loc = mu.detach()
        return action, loc, self.anchors(loc, input_size)

    @staticmethod
    def _locate_proposal(proposals: torch.Tensor, policy_out, t: int,
                         input_size
                         ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Proposal ablation: step t looks at ``proposals[:, t]`` (B, 1, 4);
        its location is the box centre in ``[-1, 1]``."""
        boxes = proposals[:, t:t + 1]  # (B, 1, 4)
        centre = (boxes[:, 0, :2] + boxes[:, 0, 2:]) / 2  # (B, 2)
        size = centre.new_tensor([input_size[1], input_size[0]])  # (w, h)
        loc = centre / size * 2 - 1  # (B, 2)
        return loc, loc, boxes

    def _step(self, z: torch.Tensor, carry):
        """Eq. 2 for each of the k regions from the carried ``(h, c)``, Eq. 4,
        and the state averaged over the regions: ``(scores (B, k, D), s_t,
        carry)``.

        The k cells of an image start from the same ``(h, c)``, so the
        recurrent product ``W_hh h`` is computed once per image and added to
        each region's ``W_ih z`` (the gates of ``nn.LSTMCell``, with its
        parameters; the same numbers as the cell on k copies of ``h``).
        """
        (h, c), lstm = carry, self.lstm
        gates = (F.linear(z, lstm.weight_ih, lstm.bias_ih) +
                 F.linear(h, lstm.weight_hh, lstm.bias_hh)[:, None]
                 )  # (B, k, 4 Hd): input, forget, cell and output gates
        i, f, g, o = gates.chunk(4, -1)  # (B, k, Hd) each
        c_r = f.sigmoid() * c[:, None] + i.sigmoid() * g.tanh()  # (B, k, Hd)
        h_r = o.sigmoid() * c_r.tanh()  # (B, k, Hd)
        h, c = h_r.mean(1), c_r.mean(1)  # (B, Hd)
        feat = h_r if self.classify_from == 'state' else z
        return self.cls(feat), h, (h, c)

    def _step_without_lstm(self, z: torch.Tensor, carry):
        """Ours-A: regions classified from ``z`` (Eq. 4), the next state is
        their mean semantic vector."""
        return self.cls(z), z.mean(1), None

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
            unclipped samples, ``mu`` (the deterministic location) and
            ``pre_tanh`` (B, T, 2), ``states`` (B, T, S) the states that
            chose ``l_1..l_T``, ``boxes`` (B, T, k, 4); with
            ``map_policy='mixture'`` also ``log_w`` (B, T, HW) the cells'
            log-weights and ``centres`` (HW, 2) the cell centres.
        """
        x = self._feature_map(feats)  # (B, C, H, W)
        input_size = self.cropper.input_size(x)
        by_row = self.cropper.by_row(x)  # (B, H, C*W), once for all steps
        weight = self._embed_weight(x.shape[0])
        # the map policy's cell centres, once for all steps
        centres = (self.loc_net.cell_centres(*x.shape[-2:], device=x.device)
                   if self.loc_net.reads_map else None)
        locate = (partial(self._locate_proposal, proposals)
                  if mode == 'proposals' else
                  partial(self._locate, mode, centres))
        step = self._step if self.use_lstm else self._step_without_lstm

        whole = x.new_tensor([0., 0., input_size[1], input_size[0]])
        state, carry = self._start(
            self._embed(x, by_row, whole.expand(x.shape[0], 1, 4),
                        weight)[:, 0])
        mixture = self.loc_net.is_mixture
        out = {n: [] for n in ('region_scores', 'locations', 'actions', 'mu',
                               'pre_tanh', 'states', 'boxes') +
               (('log_w', ) if mixture else ())}
        inhibits = self.loc_net.inhibition is not None
        for t in range(self.num_steps):
            # inhibition of return: the locations used so far, (B, t, 2)
            visited = (torch.stack(out['locations'], 1) if inhibits and t
                       else None)
            p = self.loc_net(state, x, visited=visited,
                             centres=centres)  # mu, pre_tanh (B, 2) each
            action, loc, boxes = locate(p, t, input_size)
            z = self._embed(x, by_row, boxes, weight)  # (B, k, E)
            scores, next_state, carry = step(z, carry)  # (B, k, D)
            for name, v in (('region_scores', scores), ('locations', loc),
                            ('actions', action), ('mu', p.mu),
                            ('pre_tanh', p.pre_tanh), ('states', state),
                            ('boxes', boxes)) + (
                                (('log_w', p.log_w), ) if mixture else ()):
                out[name].append(v)
            state = next_state
        result = {n: torch.stack(v, 1) for n, v in out.items()}
        if mixture:
            result['centres'] = centres  # (HW, 2)
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
    def _image_losses(self, scores: torch.Tensor,
                      y: torch.Tensor) -> torch.Tensor:
        """``(B,)`` classification loss of each image (Eq. 9 on
        ``p = softmax(a)``, Eq. 10; 'soft_ce' and 'bce' are the options)."""
        if self.loss_type == 'bce':  # mean over the D classes
            per_image = F.binary_cross_entropy_with_logits(
                scores, y, reduction='none').mean(-1)  # (B,)
        else:
            p_hat = y / y.sum(-1, keepdim=True).clamp(min=1)  # (B, D)
            if self.loss_type == 'squared':
                per_image = (scores.softmax(-1) - p_hat).pow(2).sum(-1)
            else:
                per_image = -(p_hat * scores.log_softmax(-1)).sum(-1)
        return per_image

    def _cls_loss(self, scores: torch.Tensor, y: torch.Tensor,
                  valid: torch.Tensor) -> torch.Tensor:
        """The classification loss averaged over the labelled images."""
        per_image = self._image_losses(scores, y)  # (B,)
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
        # what REINFORCE maximises: the paper's recall, or minus the
        # classification loss (a reward that does not saturate at 1)
        pg_reward = (reward if self.reward_kind == 'recall' else
                     -self._image_losses(scores.detach(), y))  # (B,)
        validf = valid.float()
        num_valid = validf.sum().clamp(min=1)
        losses = {'loss_cls': self._cls_loss(scores, y, validf)}

        states = out['states']  # (B, T, S)
        if self.baseline_mode == 'learned':
            b = self.baseline(states)  # (B, T), detached input
            losses['loss_baseline'] = self.lambda_b * (
                (b - pg_reward[:, None]).pow(2).mean(1) * validf
            ).sum() / num_valid
            adv = pg_reward[:, None] - b.detach()  # (B, T)
        elif self.baseline_mode == 'self_critical' and mode == 'sample':
            # the reward of the same image under the test-time policy
            # (l = mu), as in self-critical sequence training
            losses['loss_baseline'] = scores.new_zeros(())
            with torch.no_grad():
                greedy = self.glimpse(feats, 'mean')['scores']  # (B, D)
            b = (self.reward_fn(greedy, y)[0] if self.reward_kind == 'recall'
                 else -self._image_losses(greedy, y))  # (B,)
            adv = (pg_reward - b)[:, None].expand(-1, self.num_steps)
        else:
            losses['loss_baseline'] = scores.new_zeros(())
            base = (self.external_baseline if self.baseline_mode ==
                    'running_mean' and self.external_baseline is not None
                    else 0.)
            adv = (pg_reward - base)[:, None].expand(-1, self.num_steps)
        adv = self.normalise_advantage(adv, self.advantage_norm,
                                       valid[:, None])

        if mode == 'sample':
            logp = self.loc_net.log_prob(
                out['actions'], out['mu'], self.exploration,
                out.get('log_w'), out.get('centres'))  # (B, T)
            pg = -(logp * adv).sum(1)  # (B,): Eq. 8 with baseline
            losses['loss_pg'] = self.lambda_pg * (pg * validf).sum() / \
                num_valid
        else:  # random locations or proposals: nothing to reinforce
            losses['loss_pg'] = scores.new_zeros(()) + 0. * (
                out['log_w'] if 'log_w' in out else out['mu']).sum()

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
