"""Gaussian location policy (RARL, Chen et al. AAAI 2018, Sec. "Action", in
the text, unnumbered; its log-probability enters REINFORCE, Eq. 8:
localisation network ``mu_t = tanh(W_l h_t)``, ``l_{t+1} ~ N(mu_t, sigma^2 I)``
with sigma = 0.11, clipped to ``[-1, 1]``; deterministic ``l = mu`` at test).

Options against the policy collapse of docs/method.md ("Known pitfalls");
the paper's setting is ``detach_input=False, zero_init=False``:

* ``detach_input`` (default False = paper): True makes the localisation
  network read the state with its gradient stopped, so REINFORCE only trains
  this network and cannot drag the shared LSTM state around (but then the
  state must already encode where objects are; see LSTMGlimpseHead).
* ``zero_init`` (default True, chosen here): the output layer starts at zero,
  so every image starts at the centre, ``mu = 0``, away from tanh saturation.
* ``hidden_dims`` (default None = the paper's single FC): an optional hidden
  ReLU layer.
* ``map_channels`` (default None = the paper's ``tanh(W_l h_t)``): the
  location network reads the feature map as well as the state. The state
  gives a query ``q_t = W_q h_t`` (C values); each map cell ``j`` gets the
  weight ``w_j = softmax_j(q_t . F_j / sqrt(C))`` and the mean location is
  their centre of mass, ``mu_t = sum_j w_j g_j``, with ``g_j`` the cell's
  centre in normalised coordinates (chosen here: the paper's ``mu_t`` sees
  one vector per image, so where it looks cannot depend on where the objects
  are; docs/rarl.md, 'A location network that reads the map'). ``mu`` stays
  inside the outermost cell centres, so it never saturates; with
  ``zero_init`` every weight starts equal and ``mu = 0``. The map is read
  detached: REINFORCE trains the query, not the backbone.
* ``inhibition`` (default None = the attention above, unchanged bit for
  bit; only with ``map_channels``): inhibition of return. At step t the
  attention logit of cell ``j`` gets
  ``- w * sum_{s < t} exp(-|g_j - l_s|^2 / (2 r^2))``, with ``l_s`` the
  locations the earlier steps of the same image used (``forward``'s
  ``visited``: sampled and clipped to ``[-1, 1]`` in training, ``mu`` at
  test; detached). Why: with the map-reading policy the T steps of one
  image cluster near one spot, so its glimpses see nearly the same regions,
  and uniformly random locations, which cover more of the image, score as
  well or better; this tells the policy where it has already looked.
  ``dict(weight=2., radius=0.25, learnable=True)`` (the defaults of the
  keys left out; examples, not tuned). The radius ``r`` is in normalised
  coordinates (the map is 2 wide) and fixed: it is a length tied to the
  anchor sizes, and a learned one could shrink the kernel to nothing. The
  weight ``w`` is learnable by default (chosen here), ``w = exp(log_w)``
  with the scalar parameter ``log_inhibition_weight`` starting at
  ``log(weight)``: ``mu`` depends smoothly on ``w``, so REINFORCE's
  gradient through ``mu`` sets how strongly to avoid the earlier spots
  (down towards 0 where looking again pays) for one parameter; the log
  keeps ``w`` positive (the option pushes away from visited spots, never
  pulls) and makes an Adam step change ``w`` by a relative amount whatever
  its scale (weight decay, 0 in the configs, would pull ``w`` towards 1).
  ``learnable=False`` keeps ``w`` fixed (a buffer of the same name). At the
  first step nothing has been visited and the attention is the plain one.
* ``map_policy`` (default 'mean' = the centre of mass above, unchanged bit
  for bit; 'mixture' only with ``map_channels``): what the attention
  weights ``w_j`` (with the inhibition term when that option is on) make
  of the location. 'mixture': the policy is the Gaussian mixture over the
  cells, ``pi(l) = sum_j w_j N(l; g_j, sigma^2 I)``; a training sample
  draws a cell ``j ~ Categorical(w)`` and ``l = g_j + sigma eps`` (the raw
  action; the location used is clipped to ``[-1, 1]`` as always); the
  log-probability is ``log sum_j w_j N(l; g_j, sigma^2 I)``, whose gradient
  reaches the query through ``log w`` (the map stays detached). The
  deterministic location (test time, and the self-critical baseline) is
  the *mode cell*, the centre ``g_j`` of the most probable cell
  ``argmax_j w_j``, not the mean of the mixture; ties go to the first cell
  in row-major order (with ``zero_init`` every weight starts equal, so the
  deterministic location starts at the top-left cell, while the samples
  start uniform over the cells). Why: the centre of mass of a spread
  attention lies between the objects, near the image centre; the learned
  locations clustered there and uniformly random locations scored ~1 mAP
  higher. The mixture's samples and its mode are cells the query picks.

The log-probability is taken of the *unclipped* Gaussian sample (the action
actually drawn; clipping is part of the environment), default chosen here.

Under AMP the output layer, ``tanh``, sampling and ``log_prob`` run in
float32 with autocast off (:mod:`.float32_math`): ``mu``, ``pre_tanh``, the
mixture's ``log_w``, the samples and the log-probabilities are float32
whatever autocast gives the state; an optional hidden layer still runs in
the autocast dtype.

:meth:`GaussianLocationPolicy.entropy` is the Gaussian's (what the head
logs); for 'mixture' it is a lower bound of the policy's entropy.
"""
import math
from typing import NamedTuple, Optional, Tuple

import torch
import torch.nn as nn
from mmengine.model import BaseModule
from torch.distributions import Normal

from mmpretrain.registry import MODELS

from .float32_math import float32_linear, no_autocast

MAP_POLICIES = ('mean', 'mixture')


class LocationOutput(NamedTuple):
    """What :meth:`GaussianLocationPolicy.forward` returns.

    Attributes:
        mu: ``(B, 2)`` float32, the deterministic location: ``tanh(W s)``
            (paper), the attention's centre of mass (``map_policy='mean'``)
            or the centre of the most probable cell ('mixture').
        pre_tanh: ``(B, 2)`` the output before tanh (``mu`` itself for the
            map policies).
        log_w: ``(B, HW)`` float32 log-weights of the cells of the mixture
            (log-softmax of the attention logits), with gradient into the
            query; None unless ``map_policy='mixture'``.
    """
    mu: torch.Tensor
    pre_tanh: torch.Tensor
    log_w: Optional[torch.Tensor] = None


@MODELS.register_module()
class GaussianLocationPolicy(BaseModule):
    """``state -> LocationOutput(mu, pre_tanh, log_w)``, plus sampling and
    log-probabilities (static: :meth:`sample` and :meth:`log_prob` take
    ``mu`` and, for the mixture, ``log_w`` and the cell centres).

    Args:
        in_dims: size of the (averaged) state.
        hidden_dims: optional hidden layer width; ``None`` = one FC (paper).
        detach_input: stop the gradient into the state (see module doc).
        zero_init: zero the output layer in :meth:`init_weights`.
        map_channels: C of the feature map the location network attends
            over (``None``: the paper's FC + tanh on the state alone).
        inhibition: ``None`` (default) or ``dict(weight, radius,
            learnable)``: lower the attention on the cells near the
            locations already visited (inhibition of return, see the module
            doc); needs ``map_channels``.
        map_policy: 'mean' (default: the Gaussian around the attention's
            centre of mass) | 'mixture' (a Gaussian mixture over the cells
            weighted by the attention; deterministic location: the most
            probable cell); needs ``map_channels`` (see the module doc).
        init_cfg: mmengine init config.
    """

    def __init__(self, in_dims: int, hidden_dims: Optional[int] = None,
                 detach_input: bool = False, zero_init: bool = True,
                 map_channels: Optional[int] = None,
                 inhibition: Optional[dict] = None,
                 map_policy: str = 'mean',
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if map_policy not in MAP_POLICIES:
            raise ValueError(
                'GaussianLocationPolicy: map_policy must be one of '
                f'{MAP_POLICIES}, got {map_policy!r}')
        if map_policy == 'mixture' and map_channels is None:
            raise ValueError(
                "GaussianLocationPolicy: map_policy='mixture' needs "
                'map_channels (a mixture over the map cells), got '
                'map_channels=None')
        self.map_policy = map_policy
        self.detach_input = detach_input
        self.zero_init = zero_init
        self.map_channels = map_channels
        self.inhibition = self._inhibition_options(inhibition, map_channels)
        if self.inhibition is not None:
            log_w = torch.tensor(math.log(self.inhibition['weight']))
            if bool(self.inhibition['learnable']):
                self.log_inhibition_weight = nn.Parameter(log_w)
            else:
                self.register_buffer('log_inhibition_weight', log_w)
        out_dims = map_channels or 2  # the query, or (x, y)
        if hidden_dims:
            self.net = nn.Sequential(nn.Linear(in_dims, hidden_dims),
                                     nn.ReLU(inplace=True),
                                     nn.Linear(hidden_dims, out_dims))
        else:
            self.net = nn.Sequential(nn.Linear(in_dims, out_dims))

    @staticmethod
    def _inhibition_options(inhibition: Optional[dict],
                            map_channels: Optional[int]) -> Optional[dict]:
        """The ``inhibition`` dict with its defaults, checked."""
        if inhibition is None:
            return None
        name = 'GaussianLocationPolicy: inhibition'
        if map_channels is None:
            raise ValueError(
                f'{name} needs map_channels (it lowers the attention on the '
                'map cells near the locations already visited), got '
                'map_channels=None')
        opts = dict(weight=2., radius=0.25, learnable=True)
        unknown = set(inhibition) - set(opts)
        if unknown:
            raise ValueError(f'{name} takes the keys {sorted(opts)}, got '
                             f'{sorted(unknown)}')
        opts.update(inhibition)
        if not (opts['weight'] > 0 and opts['radius'] > 0):
            raise ValueError(f'{name} weight and radius must be > 0, got '
                             f"{opts['weight']} and {opts['radius']}")
        return opts

    @property
    def inhibition_weight(self) -> Optional[torch.Tensor]:
        """``w`` of the inhibition of return (a scalar tensor), or None."""
        if self.inhibition is None:
            return None
        return self.log_inhibition_weight.float().exp()

    def inhibition_map(self, visited: torch.Tensor,
                       centres: torch.Tensor) -> torch.Tensor:
        """``(B, HW)``: ``sum_s exp(-|g_j - l_s|^2 / (2 r^2))`` over the
        ``visited`` ``(B, t, 2)`` locations (detached) for each cell centre
        ``g_j`` of ``centres`` ``(HW, 2)``; not yet multiplied by ``w``."""
        d2 = (centres - visited.detach().float()[:, :, None]).pow(2).sum(
            -1)  # (B, t, HW)
        r = self.inhibition['radius']
        return (-d2 / (2 * r * r)).exp().sum(1)

    def init_weights(self) -> None:
        super().init_weights()
        if self.zero_init:
            nn.init.zeros_(self.net[-1].weight)
            nn.init.zeros_(self.net[-1].bias)

    @property
    def reads_map(self) -> bool:
        """Whether :meth:`forward` needs the feature map."""
        return self.map_channels is not None

    @property
    def is_mixture(self) -> bool:
        """Whether the policy is the mixture over the map cells."""
        return self.map_policy == 'mixture'

    def forward(self, state: torch.Tensor,
                feat_map: Optional[torch.Tensor] = None,
                visited: Optional[torch.Tensor] = None,
                centres: Optional[torch.Tensor] = None
                ) -> LocationOutput:
        """Return :class:`LocationOutput` ``(mu, pre_tanh, log_w)``:
        ``(B, 2)``, ``(B, 2)`` and ``(B, HW)`` or None, float32.

        With ``map_channels`` the location is the attention-weighted centre
        of ``feat_map`` ``(B, C, H, W)`` (``map_policy='mean'``) or the
        centre of its most probable cell ('mixture', which also returns the
        cells' log-weights) and there is no tanh: ``pre_tanh`` is ``mu``
        itself.

        Args:
            state: ``(B, in_dims)``.
            feat_map: ``(B, C, H, W)``, with ``map_channels`` only.
            visited: ``(B, t, 2)`` the locations used at the earlier steps
                of each image (detached here), for ``inhibition``; None or
                ``t = 0`` at the first step; ignored without
                ``inhibition``.
            centres: :meth:`cell_centres` of the map, when the caller has
                built them once for all steps (else built here).
        """
        if self.detach_input:
            state = state.detach()
        *body, out = self.net
        for layer in body:  # optional hidden layer, in the autocast dtype
            state = layer(state)  # (B, H)
        pre = float32_linear(out, state)  # (B, 2) or query (B, C); float32
        if not self.reads_map:
            with no_autocast(pre):
                return LocationOutput(torch.tanh(pre), pre)
        if feat_map is None or feat_map.dim() != 4 or \
                feat_map.shape[1] != self.map_channels:
            raise ValueError(
                'GaussianLocationPolicy: map_channels='
                f'{self.map_channels} needs a (B, {self.map_channels}, H, W) '
                'feature map, got '
                f'{None if feat_map is None else tuple(feat_map.shape)}')
        if centres is None:
            centres = self.cell_centres(*feat_map.shape[-2:],
                                        device=pre.device)
        inhibit = self.inhibition is not None and visited is not None
        if inhibit:
            if visited.dim() != 3 or visited.shape[-1] != 2 or \
                    visited.shape[0] != pre.shape[0]:
                raise ValueError(
                    'GaussianLocationPolicy: visited must be (B, t, 2) with '
                    f'B={pre.shape[0]}, got {tuple(visited.shape)}')
            inhibit = visited.shape[1] > 0  # nothing visited at step 1
        with no_autocast(pre):
            keys = feat_map.detach().float().flatten(2)  # (B, C, HW)
            logits = torch.einsum('bc,bcn->bn', pre, keys) / math.sqrt(
                self.map_channels)  # (B, HW)
            if inhibit:  # inhibition of return
                logits = logits - self.inhibition_weight * \
                    self.inhibition_map(visited, centres)
            if self.is_mixture:  # the mode cell and the log-weights
                log_w = logits.log_softmax(-1)  # (B, HW)
                mu = centres.float()[log_w.detach().argmax(-1)]  # (B, 2)
                return LocationOutput(mu, mu, log_w)
            mu = torch.einsum('bn,nd->bd', logits.softmax(-1), centres)
            return LocationOutput(mu, mu)  # (B, 2)

    @staticmethod
    def cell_centres(h: int, w: int, device=None) -> torch.Tensor:
        """``(h * w, 2)`` centres ``(x, y)`` of the map cells in normalised
        coordinates (-1 and 1 are the outer edges of the first and last
        cell), row-major as ``flatten(2)`` orders them."""
        ys = (torch.arange(h, device=device) + 0.5) / h * 2 - 1
        xs = (torch.arange(w, device=device) + 0.5) / w * 2 - 1
        gy, gx = torch.meshgrid(ys, xs, indexing='ij')
        return torch.stack([gx, gy], -1).reshape(-1, 2)

    @staticmethod
    def sample(mu: torch.Tensor, sigma: float,
               log_w: Optional[torch.Tensor] = None,
               centres: Optional[torch.Tensor] = None
               ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Draw ``l ~ N(mu, sigma^2 I)``; return ``(raw, clipped)``, both
        detached (no reparameterisation: the location carries no gradient),
        float32.

        With ``log_w`` ``(B, HW)`` and ``centres`` ``(HW, 2)`` (the
        mixture; ``mu`` then only gives the shape): a cell
        ``j ~ Categorical(exp(log_w))`` per row (Gumbel-max: argmax of
        ``log_w - log E``, ``E ~ Exp(1)``, so NaN weights give a NaN loss
        later rather than an error here), then ``l = g_j + sigma eps``.
        """
        if log_w is None:
            mu = mu.detach().float()
            raw = mu + sigma * torch.randn_like(mu)  # (B, 2)
            return raw, raw.clamp(-1., 1.)
        with no_autocast(log_w):
            log_w = log_w.detach().float()
            noise = torch.empty_like(log_w).exponential_()
            cell = (log_w - noise.log()).argmax(-1)  # (B,) ~ Categorical(w)
            means = centres.float()[cell]  # (B, 2)
            raw = means + sigma * torch.randn_like(means)
            return raw, raw.clamp(-1., 1.)

    @staticmethod
    def log_prob(action: torch.Tensor, mu: torch.Tensor, sigma: float,
                 log_w: Optional[torch.Tensor] = None,
                 centres: Optional[torch.Tensor] = None) -> torch.Tensor:
        """``log N(action; mu, sigma^2 I)`` summed over x and y: ``(...,)``
        for ``(..., 2)`` actions, float32 (autocast off, inputs cast up).

        With ``log_w`` ``(..., HW)`` and ``centres`` ``(HW, 2)`` (the
        mixture; ``mu`` is not used): ``logsumexp_j (log_w_j +
        log N(action; g_j, sigma^2 I))``, the gradient reaching ``log_w``.
        """
        if log_w is not None:
            with no_autocast(log_w):
                normal = Normal(centres.float(), sigma, validate_args=False)
                per_cell = normal.log_prob(
                    action.float()[..., None, :]).sum(-1)  # (..., HW)
                return (log_w.float() + per_cell).logsumexp(-1)
        with no_autocast(mu):
            # validate_args=False: a NaN mean (NaN features) must give a NaN
            # loss that NonFiniteCheckHook reports, not a ValueError here
            normal = Normal(mu.float(), sigma, validate_args=False)
            return normal.log_prob(action.float()).sum(-1)

    @staticmethod
    def entropy(sigma: float) -> float:
        """Entropy of the 2-D isotropic Gaussian (constant for a fixed
        sigma: an entropy bonus has no gradient; exploration is set by the
        hook's sigma schedule instead)."""
        return 2 * (0.5 * math.log(2 * math.pi * math.e * sigma ** 2))
