"""RARNN head: emission indicator, gated recurrent relation extractor and the
glimpse classifier (Li et al., "Attentive Recurrent Neural Network for
Weak-supervised Multi-label Image Classification", ACM MM 2018, Secs.
3.3-3.5, Eqs. 3-10; the paper's printed numbers, listed with the code and
its tests in ``docs/equations.md``).

Input: :class:`~marl_mm.models.necks.GlimpseFeatures` from
:class:`RHNContextNeck` (``x`` (B, T, 512) glimpse features, ``c`` (B, T, 512)
context features, ``a`` (B, T, 512, 7, 7) attention maps).

* Emission (Sec. 3.3, :class:`EmissionIndicator`): ``p_t = sigmoid(FC(X_t))``;
  training samples ``K`` Bernoulli sequences per image (paper: K = 4, folded
  into the batch as ``B*K`` rows), test emits ``[p_t > 0.5]`` (at least the
  argmax).
* Relation (Sec. 3.4, :class:`GRRE`, Eqs. 7-8) over the emitted glimpses,
  batched with the emission mask.
* Prediction (Eq. 9): ``P_i = softmax(W_xp X_i + W_cp C_i + W_op O_i)``;
  image scores: category-wise max of ``P_i`` over the emitted glimpses.
* Classification loss (Eq. 10): ``(1/N_e) sum_i -log P_hat_i`` over the
  emitted glimpses, averaged over the K samples and the images; a sample
  that emits nothing, or an image without labels, has no term.
* Policy (Eqs. 3-6): REINFORCE with the reward of Eq. 6
  (:class:`EmissionReward`) at the last glimpse, so ``R_t = R_T`` for all t:
  ``loss_pg = -mean_samples[(R - b) sum_t log pi(e_t)]``.

Gradient routing: the emission samples are discrete (``torch.bernoulli``
without gradient), so the classification loss never reaches the emission
policy; the reward is computed from detached predictions; the value baseline
reads detached features and its advantage is detached, so ``loss_value``
reaches only the value network; REINFORCE reaches only the emission FC
(``detach_input=True`` of the indicator, the default) or also the RHN.

Predictions (:meth:`predict`) put into each ``DataSample``:

* ``pred_score`` ``(D,)``: the image scores (probabilities in [0, 1]);
* ``emission_mask`` ``(T,)`` bool: the emitted candidates
  (``emission_mask.nonzero()`` gives their indices);
* ``emission_prob`` ``(T,)``: ``p_t`` (all ones without emission indicator);
* ``glimpse_scores`` ``(T, D)``: ``P_t`` of every candidate (only emitted ones
  enter ``pred_score``);
* ``attention_maps`` ``(T, S, S)``: ``A_t`` averaged over channels.

Options where the paper is open (default; paper vs chosen here; the choices
and measurements: docs/rarnn.md, 'Where the paper is open'):

* ``assignment``: 'soft' (default, chosen here: ``-sum_c p_hat_c log P_i^c``,
  ``p_hat = y / ||y||_1``) | 'best_gt' (``-log max_{c in GT} P_i^c``): how
  Eq. 10's ``P_hat_i`` reads a multi-label target.
* ``baseline_mode``: 'learned' (default, paper, Eq. 5: :class:`RewardBaseline`
  on the detached mean glimpse feature, shared by the K samples and all t,
  MSE to R) | 'leave_one_out' (mean reward of the image's other K-1 samples)
  | 'running_mean' (the hook's, ``external_baseline``) | 'none'.
* ``advantage_norm``: 'meanstd' (default, chosen here; paper: 'none') |
  'std' | 'none': against the emission collapse of docs/method.md.
* ``entropy_weight`` (default 0.01, chosen here; paper: 0): Bernoulli entropy
  bonus added to ``loss_pg``.
* ``emission`` (:class:`EmissionIndicator` config): ``bias_init=0``,
  ``weight_std=0.01``, ``detach_input=True`` (chosen here).
* policy warm-up: ``PolicyGradientHook(warmup_iters=N)`` (default 0; paper:
  none): emissions sampled, ``loss_pg`` 0 while the hook sets
  ``policy_warmup``.
* ``lambda_pg`` / ``lambda_value`` (default 1): weights of the two policy
  losses; a separate policy lr goes through
  ``paramwise_cfg.custom_keys['head.emission']``.
* ``reward`` (:class:`EmissionReward` config; paper: R_+ = 1, R_- = 0.1,
  R_e = 10; ``emit_cost`` default 0 = paper, 0.1 in the RARNN configs)
  (docs/rarnn.md, 'Why `emit_cost`').
* ``num_samples`` K (default 4, paper).
* ``credit``: 'sequence' (default, paper: REINFORCE with the one reward
  of Eq. 6 for the whole sequence and the baseline of ``baseline_mode``) |
  'per_glimpse' (an option, measured on EfficientNet-Lite0): each
  decision ``e_t`` is credited with what it adds to Eq. 6,
  ``D_t = R(e | e_t = 1) - R(e | e_t = 0)`` (the other decisions of the
  sample and every glimpse's prediction held fixed,
  :meth:`EmissionReward.marginal`), and ``loss_pg = -mean sum_t D_t p_t``.
  With predictions held fixed this is the exact gradient of the expected
  reward, averaged over the sampled other decisions; it needs no baseline
  (``baseline_mode='none'``) and ``advantage_norm`` does not apply (a
  shift of ``D_t`` would act as a cost per emitted glimpse). Why: with
  one reward for ten Bernoulli decisions the indicator could not tell its
  glimpses apart (``p_t`` spread 0.002 across an image's candidates on
  Lite0) and only the fallback glimpse was emitted at test.
* ``reward_type`` (default 'eq6' = paper): 'coverage' replaces Eq. 6 by
  :class:`CoverageReward`, minus the binary cross-entropy of the
  category-wise max over the emitted glimpses (the test-time score), so
  that with ``credit='per_glimpse'`` each glimpse is credited with how
  much it improves that score: copies of one label no longer earn the
  same, the one that sets the maximum earns its margin (an option; measured
  on EfficientNet-Lite0 in docs/rarnn.md, not shipped).
* ``dropout`` (default 0 = paper): dropout on the glimpse and context
  features before Eq. 9 (and the GRRE), training only. Why: on
  EfficientNet-Lite0 the head fits its training images completely (mAP
  100.0 with every candidate, no candidate predicting a wrong label), so
  the emission reward never shows the indicator a glimpse worth dropping
  (``policy_report.py --split train``, ``wrong_label``).
* ``emission_holdout`` (default 0 = paper: every image trains both): with
  ``n > 1``, every n-th training image (``sample_idx % n == 0``, the same
  images every epoch) trains only the emission indicator (``loss_pg``, its
  value baseline) and the other images only the classifier, the GRRE and
  the neck (``loss_cls``, ``loss_cover``). Why: the head fits the images it
  learns from (see ``dropout``), so a reward read on them never shows a
  misleading glimpse; on images it has not fitted the reward sees the
  mistakes it will make at test, as a stacked model's second stage is
  trained on held-out predictions (an option, measured on
  EfficientNet-Lite0 in docs/rarnn.md).
* ``coverage_weight`` (default 0 = paper): weight of an extra image-level
  loss ``loss_cover``, the binary cross-entropy between the category-wise
  max of ``P_i`` over the emitted glimpses (the test-time image score) and
  the labels, averaged over the D classes. Eq. 10 alone gives every
  candidate the same target, so ten copies of one glimpse are its optimum
  (measured: one-label share 0.99 on EfficientNet-Lite0); one softmax
  cannot be confident in two labels, so this term asks for one glimpse per
  label, and its negative part pushes every emitted glimpse's wrong labels
  down (chosen here; docs/rarnn.md, 'Candidates that differ').
* ``cam_weight`` (default 0 = paper): weight of ``loss_cam``, the binary
  cross-entropy between the cell mean of the neck's class-evidence map
  (``GlimpseFeatures.cam`` of ``RHN(attention='class')``) and the labels,
  averaged over the classes and the images (the classifier images, with
  ``emission_holdout``). It makes that map a class activation map, which
  the class attention reads to look where the objects are (an option,
  measured on EfficientNet-Lite0 in docs/rarnn.md).
* ``glimpse_activation``: 'softmax' (default, paper, Eq. 9) | 'sigmoid'
  (``P_i^c = sigmoid(logit_c)``, one probability per class; Eq. 10,
  ``loss_cover``, the rewards and the category-wise max read these
  instead). Why (an option, measured on EfficientNet-Lite0 in
  docs/rarnn.md, 'Scores per class'): a softmax must put its mass
  somewhere, so a glimpse on the background gives some label a high
  probability, and the category-wise max turns it into a confident false
  positive; with a sigmoid such a glimpse can say "none of them". The
  cost, measured: nothing then asks the glimpses to differ (a sigmoid
  glimpse can be confident in every label), so they spread out and name
  the same label, and the coverage reward's indicator drops glimpses the
  ranking needed; not the default for that reason.
* ablations (Table 1): ``use_context=False`` (w/o CE), ``use_emission=False``
  (w/o EI: all T glimpses emitted, no policy), ``relation='none'`` (w/o GRRE)
  | ``'rnn'`` (:class:`GRREPlainRNN`, w/o GRRE w. RNN).
* ``relation_init_std`` (default 0.1, paper): GRRE weights N(0, 0.1), biases
  0; ``W_xp`` has a bias, ``W_cp`` / ``W_op`` none, PyTorch's default init
  (chosen here).
"""
from typing import Dict, List, Optional, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule

from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from ..glimpse.coverage_reward import CoverageReward
from ..glimpse.emission_indicator import EmissionIndicator
from ..glimpse.emission_reward import EmissionReward
from ..glimpse.grre import GRRE
from ..glimpse.grre_plain_rnn import GRREPlainRNN
from ..glimpse.policy_head_mixin import ADVANTAGE_NORMS, PolicyHeadMixin
from ..glimpse.reward_baseline import RewardBaseline
from ..necks.glimpse_features import GlimpseFeatures
from .targets import multi_hot_targets

ASSIGNMENTS = ('soft', 'best_gt')
RELATIONS = ('grre', 'rnn', 'none')
BASELINE_MODES = ('learned', 'leave_one_out', 'running_mean', 'none')
CREDITS = ('sequence', 'per_glimpse')
REWARD_TYPES = ('eq6', 'coverage')
TEST_EMISSIONS = ('policy', 'all')
GLIMPSE_ACTIVATIONS = ('softmax', 'sigmoid')


def _take(t: torch.Tensor, index: Optional[torch.Tensor]) -> torch.Tensor:
    """``t`` itself (``index`` None) or its rows at ``index``."""
    return t if index is None else t.index_select(0, index)


def _mean_over(per_row: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Mean of ``per_row`` (N,) over the rows where ``valid`` (N,) bool is
    set; 0 when none is."""
    valid = valid.float()
    return (per_row * valid).sum() / valid.sum().clamp(min=1)


@MODELS.register_module()
class GRREHead(BaseModule, PolicyHeadMixin):
    """RARNN head (see the module docstring for equations and options).

    Args:
        num_classes: D.
        in_channels: size of ``X_t`` (paper: 512).
        context_channels: size of ``C_t`` (paper: 512).
        relation_channels: size of ``O_i`` (paper: 512).
        num_samples: K emission sequences per image in training (paper: 4).
        use_context: use ``W_cp C_i`` in Eq. 9 (False: w/o CE).
        use_emission: learn the emission indicator (False: w/o EI).
        relation: 'grre' | 'rnn' | 'none'.
        relation_init_std: Gaussian init std of the relation module (0.1).
        assignment: 'soft' | 'best_gt' (Eq. 10 for multi-label targets).
        reward: keyword arguments of :class:`EmissionReward`.
        emission: keyword arguments of :class:`EmissionIndicator`, or a
            built indicator.
        baseline_mode: 'learned' | 'leave_one_out' | 'running_mean' | 'none'.
        baseline_hidden: hidden width of the learned value network.
        advantage_norm: 'none' | 'std' | 'meanstd'.
        entropy_weight: weight of the emission entropy bonus.
        lambda_pg: weight of the REINFORCE loss.
        lambda_value: weight of the value network's MSE loss.
        coverage_weight: weight of the image-level loss on the
            category-wise max (0 = paper: none).
        credit: 'sequence' (paper) | 'per_glimpse' (module docstring).
        reward_type: 'eq6' (paper, :class:`EmissionReward`) | 'coverage'
            (:class:`CoverageReward`); ``reward`` holds its arguments.
        dropout: dropout on ``X_i`` and ``C_i`` before Eq. 9 in training
            (default 0 = paper; module docstring).
        emission_holdout: n > 1: every n-th training image (by
            ``sample_idx``) trains only the indicator, the others only the
            classifier (default 0 = paper; module docstring).
        cam_weight: weight of the loss on the neck's class-evidence map
            (default 0 = paper: none; module docstring).
        glimpse_activation: 'softmax' (paper, Eq. 9) | 'sigmoid' (module
            docstring).
        test_emission: 'policy' (default: ``[p_t > 0.5]``, at least the
            argmax) | 'all' (predict with every candidate, the indicator
            kept: a trained model's "w/o EI at test" control, set from
            the command line with ``--cfg-options
            model.head.test_emission=all``).
        init_cfg: mmengine init config.
    """

    exploration_name = None

    def __init__(self,
                 num_classes: int,
                 in_channels: int = 512,
                 context_channels: int = 512,
                 relation_channels: int = 512,
                 num_samples: int = 4,
                 use_context: bool = True,
                 use_emission: bool = True,
                 relation: str = 'grre',
                 relation_init_std: float = 0.1,
                 assignment: str = 'soft',
                 reward: Optional[dict] = None,
                 emission: Optional[Union[dict, nn.Module]] = None,
                 baseline_mode: str = 'learned',
                 baseline_hidden: int = 256,
                 advantage_norm: str = 'meanstd',
                 entropy_weight: float = 0.01,
                 lambda_pg: float = 1.,
                 lambda_value: float = 1.,
                 coverage_weight: float = 0.,
                 credit: str = 'sequence',
                 reward_type: str = 'eq6',
                 test_emission: str = 'policy',
                 dropout: float = 0.,
                 emission_holdout: int = 0,
                 cam_weight: float = 0.,
                 glimpse_activation: str = 'softmax',
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        for name, value, choices in (
                ('assignment', assignment, ASSIGNMENTS),
                ('relation', relation, RELATIONS),
                ('baseline_mode', baseline_mode, BASELINE_MODES),
                ('advantage_norm', advantage_norm, ADVANTAGE_NORMS),
                ('credit', credit, CREDITS),
                ('reward_type', reward_type, REWARD_TYPES),
                ('test_emission', test_emission, TEST_EMISSIONS),
                ('glimpse_activation', glimpse_activation,
                 GLIMPSE_ACTIVATIONS)):
            if value not in choices:
                raise ValueError(f'GRREHead: {name} must be one of {choices}, '
                                 f'got {value!r}')
        if num_classes < 1 or num_samples < 1:
            raise ValueError('GRREHead: num_classes and num_samples must be '
                             f'>= 1, got {num_classes} and {num_samples}')
        if credit == 'per_glimpse' and baseline_mode != 'none':
            raise ValueError(
                "GRREHead: credit='per_glimpse' needs no baseline (each "
                "decision's own reward difference is its advantage); set "
                f"baseline_mode='none', got {baseline_mode!r}")
        if coverage_weight < 0 or cam_weight < 0:
            raise ValueError('GRREHead: coverage_weight and cam_weight must '
                             f'be >= 0, got {coverage_weight} and '
                             f'{cam_weight}')
        if baseline_mode == 'leave_one_out' and num_samples < 2:
            raise ValueError("GRREHead: baseline_mode='leave_one_out' needs "
                             f'num_samples >= 2, got {num_samples}')
        # The mixin knows 'learned' | 'running_mean' | 'none'; the leave-one-
        # out baseline needs nothing from the hook, so it registers as 'none'.
        self._init_policy_state(
            exploration=None,
            baseline_mode='none' if baseline_mode == 'leave_one_out' else
            baseline_mode)
        self.baseline_mode = baseline_mode
        self.num_classes = num_classes
        self.in_channels = in_channels
        self.num_samples = num_samples if use_emission else 1
        self.use_context = use_context
        self.use_emission = use_emission
        self.relation_type = relation
        self.assignment = assignment
        self.advantage_norm = advantage_norm
        self.entropy_weight = entropy_weight
        self.lambda_pg = lambda_pg
        self.lambda_value = lambda_value
        self.coverage_weight = coverage_weight
        self.cam_weight = cam_weight
        self.glimpse_activation = glimpse_activation
        self.credit = credit
        self.reward_type = reward_type
        self.test_emission = test_emission
        if not 0 <= dropout < 1:
            raise ValueError(f'GRREHead: dropout must be in [0, 1), got '
                             f'{dropout}')
        self.dropout = nn.Dropout(dropout)
        if emission_holdout == 1 or emission_holdout < 0 or (
                emission_holdout and not use_emission):
            raise ValueError(
                'GRREHead: emission_holdout must be 0 (off) or an integer '
                '> 1 (every n-th image trains only the emission indicator) '
                f'and needs use_emission=True, got {emission_holdout}')
        self.emission_holdout = int(emission_holdout)
        self.reward_fn = (EmissionReward if reward_type == 'eq6' else
                          CoverageReward)(**(reward or {}))
        # the warm-up counter of checkpoints written before the warm-up
        # moved to PolicyGradientHook (a buffer)
        self._ignore_legacy_state('train_iters')

        self.emission = None
        self.baseline = None
        if use_emission:
            self.emission = emission if isinstance(emission, nn.Module) else \
                EmissionIndicator(in_channels, **(emission or {}))
            if baseline_mode == 'learned':
                self.baseline = RewardBaseline(in_channels, baseline_hidden)
        if relation == 'grre':
            self.relation = GRRE(in_channels, relation_channels,
                                 init_std=relation_init_std)
        elif relation == 'rnn':
            self.relation = GRREPlainRNN(in_channels, relation_channels,
                                         init_std=relation_init_std)
        else:
            self.relation = None
        self.w_xp = nn.Linear(in_channels, num_classes)
        self.w_cp = (nn.Linear(context_channels, num_classes, bias=False)
                     if use_context else None)
        self.w_op = (nn.Linear(relation_channels, num_classes, bias=False)
                     if self.relation is not None else None)

    # ------------------------------------------------------------ helpers
    def _features(self, feats) -> GlimpseFeatures:
        if not isinstance(feats, GlimpseFeatures):
            if isinstance(feats, (tuple, list)) and len(feats) in (4, 5):
                feats = GlimpseFeatures(*feats)
            else:
                raise TypeError(
                    'GRREHead: expected GlimpseFeatures (x, v, a, c[, cam]) '
                    f'from RHN / RHNContextNeck, got {type(feats).__name__}')
        x = feats.x
        if x.dim() != 3 or x.shape[-1] != self.in_channels:
            raise ValueError(f'GRREHead: expected x of shape (B, T, '
                             f'in_channels={self.in_channels}), got '
                             f'{tuple(x.shape)}')
        if self.use_context and (feats.c is None or
                                 feats.c.shape[:2] != x.shape[:2]):
            got = None if feats.c is None else tuple(feats.c.shape)
            raise ValueError(
                'GRREHead: use_context=True needs the context features c of '
                f'shape (B, T, context_channels) from RHNContextNeck, got '
                f'{got}; set use_context=False for the w/o CE ablation')
        if self.cam_weight and (feats.cam is None or feats.cam.dim() != 4 or
                                feats.cam.shape[:2] != (x.shape[0],
                                                        self.num_classes)):
            got = None if feats.cam is None else tuple(feats.cam.shape)
            raise ValueError(
                f'GRREHead: cam_weight={self.cam_weight} needs the class '
                f'evidence map cam of shape (B, num_classes={self.num_classes}'
                ", S, S) from RHN(attention='class', key_dims=num_classes), "
                f'got {got}')
        return feats

    def _glimpse_log_probs(self, feats: GlimpseFeatures, emitted: torch.Tensor,
                           num_samples: int) -> torch.Tensor:
        """Eq. 9 for every candidate, ``log P`` of shape ``(B*K, T, D)``.

        ``emitted`` (B*K, T) only shapes the relation term ``O_i``.
        """
        x = self.dropout(feats.x)  # (B, T, Dx)
        logits = self.w_xp(x)  # (B, T, D)
        if self.use_context:
            logits = logits + self.w_cp(self.dropout(feats.c))  # (B, T, D)
        logits = logits.repeat_interleave(num_samples, 0)  # (B*K, T, D)
        if self.relation is not None:
            o = self.relation(x.repeat_interleave(num_samples, 0),
                              emitted)  # (B*K, T, Dr): Eqs. 7-8
            logits = logits + self.w_op(o)  # (B*K, T, D)
        return self._log_probs(logits)

    def _log_probs(self, logits: torch.Tensor) -> torch.Tensor:
        """``log P`` from Eq. 9's logits: ``log_softmax`` over the classes
        (paper) or, with ``glimpse_activation='sigmoid'``, each class's
        ``log sigmoid``."""
        if self.glimpse_activation == 'sigmoid':
            return F.logsigmoid(logits)
        return logits.log_softmax(-1)

    def _emission_logits(self, feats: GlimpseFeatures) -> torch.Tensor:
        """``p_t``'s logits ``(B, T)``; an indicator with ``score_dims``
        also reads Eq. 9's log-probabilities without the relation term."""
        if not getattr(self.emission, 'score_dims', 0):
            return self.emission(feats.x)
        logits = self.w_xp(feats.x)  # (B, T, D)
        if self.use_context:
            logits = logits + self.w_cp(feats.c)
        return self.emission(feats.x, self._log_probs(logits.detach()))

    def _emit(self, feats: GlimpseFeatures
              ) -> Tuple[Optional[torch.Tensor], torch.Tensor]:
        """Test-time emission: ``(logits or None, mask (B, T))``."""
        x = feats.x
        if not self.use_emission:
            return None, x.new_ones(x.shape[:2], dtype=torch.bool)
        logits = self._emission_logits(feats)  # (B, T)
        if self.test_emission == 'all':
            return logits, x.new_ones(x.shape[:2], dtype=torch.bool)
        return logits, EmissionIndicator.greedy(logits)

    @staticmethod
    def _image_scores(log_p: torch.Tensor,
                      emitted: torch.Tensor) -> torch.Tensor:
        """Category-wise max of ``P_i`` over emitted glimpses: ``(N, D)``."""
        return (log_p.exp() * emitted[..., None]).amax(1)

    def forward(self, feats) -> torch.Tensor:
        """Image scores ``(B, D)`` (probabilities) with test-time emission."""
        feats = self._features(feats)
        _, emitted = self._emit(feats)
        return self._image_scores(self._glimpse_log_probs(feats, emitted, 1),
                                  emitted)

    def predict_scores(self, feats) -> torch.Tensor:
        """``(B, D)`` probabilities that go into ``pred_score``."""
        return self.forward(feats)

    # --------------------------------------------------------------- loss
    def _cls_loss(self, log_p: torch.Tensor, y: torch.Tensor,
                  emitted: torch.Tensor,
                  rows: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Eq. 10 averaged over the samples that emitted and have labels
        (and are in ``rows`` (N,) bool, if given)."""
        positive = y > 0  # (N, D)
        has_gt = positive.any(-1)  # (N,)
        if self.assignment == 'soft':
            p_hat = y / y.sum(-1, keepdim=True).clamp(min=1)  # (N, D)
            per_glimpse = -(p_hat[:, None] * log_p).sum(-1)  # (N, T)
        else:
            low = torch.finfo(log_p.dtype).min
            best = log_p.masked_fill(~positive[:, None], low).amax(-1)
            per_glimpse = torch.where(has_gt[:, None], -best,
                                      torch.zeros_like(best))  # (N, T)
        num_emitted = emitted.sum(-1)  # (N,)
        per_sample = (per_glimpse * emitted).sum(-1) / num_emitted.clamp(
            min=1)  # (N,)
        valid = has_gt & (num_emitted > 0)  # (N,)
        if rows is not None:
            valid = valid & rows
        return _mean_over(per_sample, valid)

    def _held_out(self, data_samples: List[DataSample], device: torch.device
                  ) -> Tuple[Optional[torch.Tensor], Optional[torch.Tensor]]:
        """The images that train only the indicator (``emission_holdout``):
        ``(held (B,) bool, their indices)``, ``(None, None)`` when it is
        off. Both are built from the samples' metainfo on the host, so
        selecting the policy's rows needs no device sync; a batch without a
        held-out image gives an empty index."""
        n = self.emission_holdout
        if not n:
            return None, None
        flags = []
        for i, ds in enumerate(data_samples):
            if 'sample_idx' not in ds:
                raise KeyError(
                    f'GRREHead: emission_holdout={n} needs each training '
                    f"sample's 'sample_idx' (the dataset index), missing in "
                    f'data sample {i}; keep it in PackInputs(meta_keys=...)')
            flags.append(int(ds.sample_idx) % n == 0)
        index = [i for i, f in enumerate(flags) if f]
        return (torch.tensor(flags, device=device),
                torch.tensor(index, dtype=torch.long, device=device))

    @staticmethod
    def _coverage_loss(log_p: torch.Tensor, y: torch.Tensor,
                       emitted: torch.Tensor,
                       rows: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Binary cross-entropy of the category-wise max of ``P_i`` over
        the emitted glimpses against ``y``, averaged over the classes and the
        samples that emitted (and are in ``rows``, if given)
        (``coverage_weight``; module docstring).

        Computed in log space: ``log max_i P_i = max_i log P_i``.
        """
        low = torch.finfo(log_p.dtype).min
        log_s = log_p.masked_fill(~emitted[..., None], low).amax(1)  # (N, D)
        log_s = log_s.clamp(min=-100.)  # BCELoss's floor on log(p)
        log_not = torch.log1p(-log_s.exp().clamp(max=1 - 1e-6))  # (N, D)
        per_sample = -(y * log_s + (1 - y) * log_not).mean(-1)  # (N,)
        valid = emitted.any(-1)  # (N,)
        if rows is not None:
            valid = valid & rows
        return _mean_over(per_sample, valid)

    @staticmethod
    def _cam_loss(cam: torch.Tensor, y: torch.Tensor,
                  rows: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Binary cross-entropy of the class-evidence map's cell mean
        ``(B, D)`` against the image labels ``y`` (B, D), averaged over the
        classes and the images in ``rows`` (B,) bool, if given
        (``cam_weight``; module docstring)."""
        per_image = F.binary_cross_entropy_with_logits(
            cam.mean((-2, -1)), y, reduction='none').mean(-1)  # (B,)
        return per_image.mean() if rows is None else _mean_over(per_image,
                                                                rows)

    def _advantage(self, reward: torch.Tensor, x: torch.Tensor,
                   losses: Dict[str, torch.Tensor]) -> torch.Tensor:
        """``R - b`` per sample ``(B*K,)`` (detached); adds ``loss_value``."""
        k = self.num_samples
        if self.baseline_mode == 'learned':
            b = self.baseline(x.mean(1)).repeat_interleave(k)  # (B*K,)
            losses['loss_value'] = self.lambda_value * F.mse_loss(b, reward)
            adv = reward - b.detach()
        elif self.baseline_mode == 'leave_one_out':
            r = reward.view(-1, k)  # (B, K)
            adv = (r - (r.sum(1, keepdim=True) - r) / (k - 1)).flatten()
        elif self.baseline_mode == 'running_mean' and \
                self.external_baseline is not None:
            adv = reward - self.external_baseline
        else:
            adv = reward
        return self.normalise_advantage(adv.detach(), self.advantage_norm)

    def loss(self, feats, data_samples: List[DataSample]
             ) -> Dict[str, torch.Tensor]:
        """Classification, REINFORCE and value losses.

        Returns:
            ``loss_cls`` (and ``loss_cover`` with ``coverage_weight``,
            ``loss_cam`` with ``cam_weight``); with
            the emission indicator also ``loss_pg`` and
            (learned baseline) ``loss_value``; logged values ``reward``,
            ``emission_rate``, ``num_emitted``, ``adv_abs``.
        """
        feats = self._features(feats)
        x = feats.x  # (B, T, Dx)
        k = self.num_samples
        y_img = multi_hot_targets(data_samples, self.num_classes, x.device,
                                  type(self).__name__)  # (B, D)
        y = y_img.repeat_interleave(k, 0)  # (B*K, D)
        if self.use_emission:
            logits = self._emission_logits(feats)  # (B, T)
            emitted = EmissionIndicator.sample(logits, k)  # (B*K, T)
        else:
            emitted = x.new_ones(x.shape[:2], dtype=torch.bool)  # (B, T)
        log_p = self._glimpse_log_probs(feats, emitted, k)  # (B*K, T, D)
        held, held_idx = self._held_out(data_samples, x.device)
        cls_rows = None if held is None else ~held.repeat_interleave(k)
        losses = {'loss_cls': self._cls_loss(log_p, y, emitted, cls_rows)}
        if self.coverage_weight:
            losses['loss_cover'] = self.coverage_weight * \
                self._coverage_loss(log_p, y, emitted, cls_rows)
        if self.cam_weight:
            losses['loss_cam'] = self.cam_weight * self._cam_loss(
                feats.cam, y_img, None if held is None else ~held)
        # the policy's images: all, or the held-out ones; a batch without
        # any computes the policy terms on all images at weight 0 (every
        # parameter stays in the graph, for DDP)
        scale, img_idx, row_idx = 1., None, None
        if held_idx is not None and not len(held_idx):
            scale = 0.
        elif held_idx is not None:
            img_idx = held_idx  # (B_pi,)
            row_idx = (held_idx[:, None] * k + torch.arange(
                k, device=x.device)).flatten()  # (B_pi*K,)
        log_p_pi, emitted_pi, y_pi = (_take(t, row_idx) for t in (
            log_p.detach(), emitted, y))
        reward = self.reward_fn(log_p_pi, emitted_pi, y_pi)  # (N_pi,): Eq. 6

        stats = dict(reward=reward.mean(),
                     emission_rate=emitted.float().mean(),
                     num_emitted=emitted.sum(-1).float().mean())
        if self.use_emission:
            pi_logits = _take(logits, img_idx)  # (B_pi, T)
            if self.credit == 'per_glimpse':
                adv = self.reward_fn.marginal(log_p_pi, emitted_pi,
                                              y_pi)  # (N_pi, T)
                p = pi_logits.float().sigmoid().repeat_interleave(k, 0)
                surrogate = (adv * p).sum(-1)  # (N_pi,)
            else:
                adv = self._advantage(reward, _take(x, img_idx),
                                      losses)  # (N_pi,)
                surrogate = adv * EmissionIndicator.log_prob(
                    pi_logits.repeat_interleave(k, 0), emitted_pi)  # (N_pi,)
            entropy = EmissionIndicator.entropy(pi_logits).mean()
            loss_pg = (self.lambda_pg * -surrogate.mean() -
                       self.entropy_weight * entropy)  # Eq. 5
            # 0 during the warm-up, still in the graph (DDP sees every
            # parameter used)
            losses['loss_pg'] = loss_pg * 0. if self.policy_warmup \
                else loss_pg * scale
            if 'loss_value' in losses:
                losses['loss_value'] = losses['loss_value'] * scale
            stats.update(advantage_abs=adv.abs().mean(), entropy=entropy)
        self._record_rl_stats(**stats)
        losses.update(reward=stats['reward'].detach(),
                      emission_rate=stats['emission_rate'],
                      num_emitted=stats['num_emitted'])
        if 'advantage_abs' in stats:
            losses['adv_abs'] = stats['advantage_abs']
        return losses

    # ------------------------------------------------------------ predict
    def predict(self, feats, data_samples: Optional[List[
            Optional[DataSample]]] = None) -> List[DataSample]:
        """Fill ``pred_score``, ``emission_mask``, ``emission_prob``,
        ``glimpse_scores`` and ``attention_maps`` (module docstring)."""
        feats = self._features(feats)
        logits, emitted = self._emit(feats)  # (B, T) each
        log_p = self._glimpse_log_probs(feats, emitted, 1)  # (B, T, D)
        scores = self._image_scores(log_p, emitted).detach()  # (B, D)
        prob = (logits.sigmoid() if logits is not None else
                emitted.float()).detach()  # (B, T)
        attention = (feats.a.mean(2).detach() if feats.a is not None else
                     None)  # (B, T, S, S)
        glimpse_scores = log_p.exp().detach()  # (B, T, D)
        if data_samples is None:
            data_samples = [None] * scores.shape[0]
        results = []
        for i, ds in enumerate(data_samples):
            ds = DataSample() if ds is None else ds
            ds.set_pred_score(scores[i])
            ds.set_field(emitted[i], 'emission_mask')
            ds.set_field(prob[i], 'emission_prob')
            ds.set_field(glimpse_scores[i], 'glimpse_scores')
            if attention is not None:
                ds.set_field(attention[i], 'attention_maps')
            results.append(ds)
        return results
