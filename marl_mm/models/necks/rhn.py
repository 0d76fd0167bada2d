"""Recurrent highlight network (RHN) of RARNN (Li et al., "Attentive Recurrent
Neural Network for Weak-supervised Multi-label Image Classification", ACM MM
2018, Sec. 3.2, Eqs. 1-2).

From the backbone map ``V_I`` (``C x S x S``; 512 x 7 x 7 for VGG16 with
pool5) it produces ``T`` candidate glimpses, one recurrent step each:

* guide network (Eq. 1), computed overflow-free::

      l_{t-1} = (exp(X^max) - exp(X)) / sum_j exp(X^j)
              = (1 - exp(X - X^max)) / sum_j exp(X^j - X^max)

* attention (Eq. 2): ``A_t = ReLU(Deconv(l_{t-1}))``, a transposed
  convolution with kernel ``S`` from ``Dx x 1 x 1`` to ``C x S x S`` (paper);
* ``V_t = V_I * A_t`` (element-wise, paper);
  ``X_t = ReLU(FC(V_t))`` in ``R^Dx`` (paper, ``Dx = 512``).

Choices where the paper is open (constructor options):

* ``init_glimpse='image'``: ``X_0 = ReLU(FC(V_I))`` with the same FC, so the
  first attention is guided by the unweighted image (default chosen here);
  ``'zeros'``: ``X_0 = 0`` (then ``l_0 = 0`` and ``A_1 = ReLU(bias)``).
* ``num_glimpses=10`` (paper: T = 10).
* ``spatial_size`` / ``in_channels`` are options so that other backbones can
  be used (the paper only has 512 x 7 x 7); ``adaptive_pool=True`` resamples
  a map of any size to ``S x S`` by adaptive average pooling (default False:
  a size mismatch is an error).
* initialisation (the paper gives none; defaults chosen here): the
  deconvolution's weights N(0, ``deconv_std`` = 0.01) and bias
  ``attention_bias_init`` = 1, so every ``A_t`` starts close to 1 and
  ``V_t`` close to ``V_I`` (the pretrained features reach the classifier at
  their own scale; with PyTorch's default init ``A_t`` starts around 3e-3
  and nearly constant). ``l_{t-1}`` has entries in ``[0, 1)``, so the
  weights then make the glimpses differ by roughly +-20%. The FC keeps
  PyTorch's default init.
* ``step_bias_std`` (default None = paper: one deconvolution bias for every
  step): a learned bias per step ``t``, ``A_t = ReLU(Deconv(l_{t-1}) +
  beta_t)`` with ``beta_t`` in ``R^{C x S x S}`` drawn from N(0,
  ``step_bias_std``). Why (an option, measured on EfficientNet-Lite0):
  the guide of Eq. 1 is close to ``1 - onehot(argmax X_{t-1})`` for a peaked
  ``X``, so as soon as one glimpse peaks on the same feature as the one
  before, ``l``, ``A`` and ``X`` repeat and the recurrence sits at a fixed
  point: on Lite0 the ten candidates of most images were copies
  (docs/rarnn.md, 'Candidates that differ'). A per-step term lets the steps
  look at different channels and places; the guide still makes each
  step's attention depend on the image.

* ``attention='spatial'`` (default ``'deconv'`` = paper, Eq. 2). Eq. 2's
  attention is a ``C x S x S`` mask made from the guide vector alone, so
  *where* it weights does not depend on what is where in this image; on
  EfficientNet-Lite0 the channel-mean of every ``A_t`` was the same band
  near the centre on every image (docs/rarnn.md, 'Candidates that look at
  the objects'). The spatial option keeps the guide, the recurrence and
  ``V_t = V_I * A_t`` but makes ``A_t`` a content attention over the
  ``S x S`` cells, shared by the channels::

      e_t(s) = <W_q l_{t-1}, W_k V_I(s)> / sqrt(key_dims)
               - w * sum_{tau < t} a_tau(s) / max_s' a_tau(s')
      a_t = softmax_s(e_t),   A_t(c, s) = S^2 a_t(s)   (mean 1, like Eq. 2's
                                                         initial A_t ~ 1)

  ``W_k`` a 1 x 1 convolution, ``W_q`` a linear map of the guide
  (``key_dims`` wide). The second term is an inhibition of return as in
  RARL's ``GaussianLocationPolicy(inhibition=...)``: cells the earlier
  glimpses looked at are damped, with a learned weight ``w``
  (``inhibition_weight``, stored as ``log w``; None: no term), because the
  guide of Eq. 1 is close to ``1 - onehot(argmax X_{t-1})`` and alone lets
  consecutive glimpses settle on one place.
* ``attention='class'``: the spatial attention with keys that are class
  evidence. The key map ``Z = W_k V_I`` has one channel per class
  (``key_dims`` = the number of classes) and :class:`GRREHead` with
  ``cam_weight > 0`` trains its cell mean as a linear classifier of the
  pooled map (binary cross-entropy with the image labels), so ``Z`` is a
  class activation map (Zhou et al., CVPR 2016): high where that class's
  evidence is. The guide picks classes and the attention goes where they
  are::

      q_t = softmax_d(W_q l_{t-1})                      (which classes)
      e_t(s) = gamma sum_d q_t(d) Z_d(s) - w sum_{tau < t} a_tau(s) / max a_tau
      a_t = softmax_s(e_t),   A_t(c, s) = S^2 a_t(s)

  with ``gamma`` learned (stored as ``log gamma``, initial
  ``class_sharpness``). ``class_prior=True`` adds the image's class
  logits ``zbar_d = mean_s Z_d(s)`` (detached) to the query's,
  ``q_t = softmax_d(W_q l_{t-1} + zbar_d)``, so that the guide chooses
  among the classes the image likely holds (without it a learned query may
  pick classes the image lacks, whose evidence peaks on the background).
  ``detach_keys=True`` stops the glimpse losses' gradient at the keys, so
  that the map ``Z`` is trained by the class-map loss alone and stays a
  class map; the query and ``gamma`` still learn where to look.
  ``detach_key_input=True`` also stops the class-map loss at the key
  convolution's input, so that the map is a probe of the features the
  glimpses read and its loss changes nothing else. Why (options, measured
  on EfficientNet-Lite0):
  the ``'spatial'`` keys learned from the glimpse losses alone gave an
  attention that depended on the image but was diffuse and off the objects
  (docs/rarnn.md, 'Candidates that look at the objects'); a supervised
  class map says where the objects are. The RHN returns ``Z`` in
  ``GlimpseFeatures.cam``.
* ``attention_floor=lambda`` (default 0; 'spatial' and 'class' only):
  ``A_t = lambda + (1 - lambda) S^2 a_t``, so that every glimpse also reads
  the whole map at weight ``lambda`` (still mean 1 over the cells).
* ``glimpse_pool='attention'`` (default ``'fc'`` = paper, ``X_t =
  ReLU(FC(V_t))`` over the flattened ``C x S x S``; only with
  ``attention='spatial'`` or ``'class'``): ``X_t = ReLU(W sum_s a_t(s)
  V_I(s))``, one ``C -> Dx`` linear map shared by the cells (``X_0``
  reads the cells' mean), so a glimpse's feature is what it looks at,
  wherever that is, rather than a position-specific read-out learned from
  few images.

The only Python loop is over the recurrent steps t; every step is batched.
"""
import math
from typing import Optional, Sequence, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule

from mmpretrain.registry import MODELS

from .glimpse_features import GlimpseFeatures

INIT_GLIMPSES = ('image', 'zeros')
ATTENTIONS = ('deconv', 'spatial', 'class')
GLIMPSE_POOLS = ('fc', 'attention')


def guide(x: torch.Tensor) -> torch.Tensor:
    """Guide network, Eq. 1, in the overflow-free form.

    Args:
        x: ``(..., Dx)`` previous glimpse feature ``X_{t-1}``.

    Returns:
        ``(..., Dx)`` ``l_{t-1}``: 0 at the largest activation, close to
        ``1 / sum_j exp(X^j - X^max)`` for small ones.
    """
    shifted = x - x.amax(-1, keepdim=True)  # (..., Dx), <= 0
    e = shifted.exp()  # (..., Dx), in (0, 1]
    return (1 - e) / e.sum(-1, keepdim=True)


@MODELS.register_module()
class RHN(BaseModule):
    """Recurrent highlight network (see the module docstring).

    Args:
        in_channels: C of the backbone map (paper: 512).
        feat_dims: Dx, size of the glimpse feature ``X_t`` (paper: 512).
        spatial_size: S, the map's height and width (paper: 7).
        num_glimpses: T candidate glimpses (paper: 10).
        init_glimpse: 'image' (default chosen here) or 'zeros'.
        adaptive_pool: pool a map of another size to ``S x S`` instead of
            raising an error (default False).
        deconv_std: std of the deconvolution's Gaussian weight init (0.01).
        attention_bias_init: initial deconvolution bias (1.0).
        step_bias_std: std of the per-step attention biases' init, ``None``
            for none (paper).
        attention: 'deconv' (paper, Eq. 2) | 'spatial' | 'class' (module
            docstring).
        key_dims: width of the spatial attention's query and keys; with
            'class' the number of classes.
        class_sharpness: initial ``gamma`` of ``attention='class'``
            (learned).
        class_prior: with ``attention='class'``, add the image's class
            logits to the query's (module docstring).
        detach_keys: with 'class', the attention reads the keys without
            passing gradient to them (module docstring).
        detach_key_input: with 'class', the key convolution reads the map
            without passing gradient to it (module docstring).
        attention_floor: ``lambda`` in [0, 1): with 'spatial' or 'class',
            ``A_t = lambda + (1 - lambda) S^2 a_t`` (module docstring).
        inhibition_weight: initial ``w`` of the spatial attention's
            inhibition of return (learned), ``None`` for none.
        glimpse_pool: 'fc' (paper) | 'attention' (with 'spatial' or
            'class' only).
        init_cfg: mmengine init config (overrides the two above if given).
    """

    def __init__(self,
                 in_channels: int = 512,
                 feat_dims: int = 512,
                 spatial_size: int = 7,
                 num_glimpses: int = 10,
                 init_glimpse: str = 'image',
                 adaptive_pool: bool = False,
                 deconv_std: float = 0.01,
                 attention_bias_init: float = 1.,
                 step_bias_std: Optional[float] = None,
                 attention: str = 'deconv',
                 key_dims: int = 64,
                 inhibition_weight: Optional[float] = None,
                 glimpse_pool: str = 'fc',
                 class_sharpness: float = 1.,
                 attention_floor: float = 0.,
                 class_prior: bool = False,
                 detach_keys: bool = False,
                 detach_key_input: bool = False,
                 init_cfg: Optional[Union[dict, list]] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        for name, value, choices in (
                ('init_glimpse', init_glimpse, INIT_GLIMPSES),
                ('attention', attention, ATTENTIONS),
                ('glimpse_pool', glimpse_pool, GLIMPSE_POOLS)):
            if value not in choices:
                raise ValueError(f'RHN: {name} must be one of {choices}, '
                                 f'got {value!r}')
        spatial = attention != 'deconv'
        if not spatial and (glimpse_pool != 'fc' or
                            inhibition_weight is not None):
            raise ValueError(
                "RHN: glimpse_pool='attention' and inhibition_weight need "
                "attention='spatial' or 'class', got "
                f"attention={attention!r}")
        if spatial and step_bias_std is not None:
            raise ValueError("RHN: step_bias_std is a bias of Eq. 2's "
                             f"deconvolution; attention={attention!r} has "
                             'none')
        if (detach_keys or detach_key_input) and attention != 'class':
            raise ValueError("RHN: detach_keys and detach_key_input need "
                             "attention='class' (the keys of 'spatial' "
                             'have no other loss), got '
                             f'attention={attention!r}')
        if class_prior and attention != 'class':
            raise ValueError("RHN: class_prior needs attention='class', got "
                             f'attention={attention!r}')
        if not 0 <= attention_floor < 1 or (attention_floor and
                                             not spatial):
            raise ValueError(
                'RHN: attention_floor must be in [0, 1) and needs '
                "attention='spatial' or 'class', got "
                f'{attention_floor} with attention={attention!r}')
        self.attention_floor = attention_floor
        if class_sharpness <= 0:
            raise ValueError('RHN: class_sharpness must be > 0, got '
                             f'{class_sharpness}')
        if inhibition_weight is not None and inhibition_weight <= 0:
            raise ValueError('RHN: inhibition_weight must be > 0 or None, '
                             f'got {inhibition_weight}')
        if min(in_channels, feat_dims, spatial_size, num_glimpses,
               key_dims) < 1:
            raise ValueError(
                'RHN: in_channels, feat_dims, spatial_size, num_glimpses and '
                f'key_dims must be >= 1, got {in_channels}, {feat_dims}, '
                f'{spatial_size}, {num_glimpses}, {key_dims}')
        self.in_channels = in_channels
        self.feat_dims = feat_dims
        self.spatial_size = spatial_size
        self.num_glimpses = num_glimpses
        self.init_glimpse = init_glimpse
        self.adaptive_pool = adaptive_pool
        self.attention_mode = attention
        self.glimpse_pool = glimpse_pool
        self.key_dims = key_dims
        self.deconv = None
        self.query = self.key = self.log_inhibition_weight = None
        self.log_class_sharpness = None
        self.class_sharpness = class_sharpness
        self.class_prior = class_prior
        self.detach_keys = detach_keys
        self.detach_key_input = detach_key_input
        if spatial:
            self.query = nn.Linear(feat_dims, key_dims)
            self.key = nn.Conv2d(in_channels, key_dims, 1)
            if attention == 'class':
                self.log_class_sharpness = nn.Parameter(
                    torch.tensor(math.log(class_sharpness)))
            if inhibition_weight is not None:
                self.log_inhibition_weight = nn.Parameter(
                    torch.tensor(math.log(inhibition_weight)))
        else:
            self.deconv = nn.ConvTranspose2d(feat_dims, in_channels,
                                             kernel_size=spatial_size)
        fc_in = in_channels if glimpse_pool == 'attention' else \
            in_channels * spatial_size * spatial_size
        self.fc = nn.Linear(fc_in, feat_dims)
        self.inhibition_weight = inhibition_weight
        self.deconv_std = deconv_std
        self.attention_bias_init = attention_bias_init
        self.step_bias_std = step_bias_std
        self.step_bias = None
        if step_bias_std is not None:
            if step_bias_std < 0:
                raise ValueError('RHN: step_bias_std must be >= 0 or None, '
                                 f'got {step_bias_std}')
            self.step_bias = nn.Parameter(torch.zeros(
                num_glimpses, in_channels * spatial_size * spatial_size))
        self._reset()

    def _reset(self) -> None:
        if self.deconv is not None:
            nn.init.normal_(self.deconv.weight, 0., self.deconv_std)
            nn.init.constant_(self.deconv.bias, self.attention_bias_init)
        if self.log_inhibition_weight is not None:
            with torch.no_grad():
                self.log_inhibition_weight.fill_(
                    math.log(self.inhibition_weight))
        if self.log_class_sharpness is not None:
            with torch.no_grad():
                self.log_class_sharpness.fill_(
                    math.log(self.class_sharpness))
        if self.step_bias is not None:
            nn.init.normal_(self.step_bias, 0., self.step_bias_std)

    def init_weights(self) -> None:
        """Deconvolution init of the module docstring unless ``init_cfg``."""
        if self.init_cfg:
            super().init_weights()
        else:
            self._reset()

    def _feature_map(self, inputs: Union[torch.Tensor, Sequence[torch.Tensor]]
                     ) -> torch.Tensor:
        v = inputs[-1] if isinstance(inputs, (tuple, list)) else inputs
        if not torch.is_tensor(v) or v.dim() != 4 or \
                v.shape[1] != self.in_channels:
            shape = tuple(v.shape) if torch.is_tensor(v) else type(v).__name__
            raise ValueError(
                f'RHN: expected the backbone output (a tuple whose last item '
                f'is a (B, in_channels={self.in_channels}, H, W) map), got '
                f'{shape}')
        size = (self.spatial_size, self.spatial_size)
        if tuple(v.shape[-2:]) != size:
            if not self.adaptive_pool:
                raise ValueError(
                    f'RHN: the deconvolution makes {size} attention maps but '
                    f'the backbone map is {tuple(v.shape[-2:])}; set '
                    f'spatial_size={v.shape[-1]} (or adaptive_pool=True, or '
                    f'change the input size: VGG16 with pool5 needs 224)')
            v = F.adaptive_avg_pool2d(v, size)
        return v

    def glimpse_feature(self, v: torch.Tensor) -> torch.Tensor:
        """``X = ReLU(FC(V))``: ``(B, C, S, S) -> (B, Dx)``; with
        ``glimpse_pool='attention'`` the FC reads the mean over the cells
        (``V_t = V_I * S^2 a_t``, so that mean is ``sum_s a_t(s) V_I(s)``)."""
        if self.glimpse_pool == 'attention':
            return F.relu(self.fc(v.mean((-2, -1))))
        return F.relu(self.fc(v.flatten(1)))

    def spatial_attention(self, x_prev: torch.Tensor, keys: torch.Tensor,
                          visited: Optional[torch.Tensor] = None
                          ) -> torch.Tensor:
        """The ``attention='spatial'`` / ``'class'`` weights ``a_t``
        (module docstring).

        Args:
            x_prev: ``(B, Dx)`` ``X_{t-1}``.
            keys: ``(B, key_dims, S*S)`` ``W_k V_I`` (``Z`` with 'class').
            visited: ``(B, S*S)`` ``sum_{tau<t} a_tau / max a_tau`` or None.

        Returns:
            ``(B, S*S)`` ``a_t`` (each row sums to 1).
        """
        q = self.query(guide(x_prev))  # (B, key_dims)
        if self.class_prior:
            q = q + keys.detach().mean(-1)  # (B, key_dims): + zbar
        if self.attention_mode == 'class':
            logits = self.log_class_sharpness.exp() * torch.einsum(
                'bk,bks->bs', q.softmax(-1), keys)  # (B, S*S)
        else:
            logits = torch.einsum('bk,bks->bs', q, keys) / math.sqrt(
                self.key_dims)  # (B, S*S)
        if visited is not None and self.log_inhibition_weight is not None:
            logits = logits - self.log_inhibition_weight.exp() * visited
        return logits.softmax(-1)

    def attention(self, x_prev: torch.Tensor,
                  step: Optional[int] = None) -> torch.Tensor:
        """Eqs. 1-2: ``A_t = ReLU(Deconv(guide(X_{t-1})))`` (plus the
        step's bias ``beta_t`` with ``step_bias_std``).

        Args:
            x_prev: ``(B, Dx)``.
            step: ``t - 1`` (0-based), needed with ``step_bias_std``.

        Returns:
            ``(B, C, S, S)``.
        """
        l_prev = guide(x_prev)  # (B, Dx): Eq. 1
        # The deconvolution of a 1 x 1 input is one matrix product with its
        # weight (Dx, C, S, S) seen as (Dx, C*S*S): the same numbers and
        # parameters as self.deconv(l_prev[..., None, None]), ~2-4x faster
        # than ConvTranspose2d's kernel for this shape (docs/benchmarks.md).
        size = self.spatial_size
        bias = self.deconv.bias.repeat_interleave(size * size)  # (C*S*S, )
        if self.step_bias is not None:
            if step is None:
                raise ValueError('RHN: step_bias_std needs the step index')
            bias = bias + self.step_bias[step]  # (C*S*S, )
        a = torch.addmm(bias, l_prev, self.deconv.weight.flatten(1))
        return F.relu(a.view(-1, self.in_channels, size, size))  # (B, C, S, S)

    def forward(self, inputs: Union[torch.Tensor, Sequence[torch.Tensor]]
                ) -> GlimpseFeatures:
        """Generate the T candidate glimpses.

        Args:
            inputs: the backbone output, a tuple whose last item is the
                ``(B, C, S, S)`` map ``V_I`` (or that map).

        Returns:
            :class:`GlimpseFeatures` with ``x`` (B, T, Dx), ``v`` and ``a``
            (B, T, C, S, S), ``c=None``; with ``attention='class'`` also
            ``cam`` (B, key_dims, S, S).
        """
        v_img = self._feature_map(inputs)  # (B, C, S, S)
        if self.init_glimpse == 'image':
            x = self.glimpse_feature(v_img)  # (B, Dx): X_0
        else:
            x = v_img.new_zeros(v_img.shape[0], self.feat_dims)  # (B, Dx)
        if self.attention_mode != 'deconv':
            return self._forward_spatial(v_img, x)
        xs, vs, attns = [], [], []
        for t in range(self.num_glimpses):
            attn = self.attention(x, t)  # (B, C, S, S): A_t
            v = v_img * attn  # (B, C, S, S): V_t
            x = self.glimpse_feature(v)  # (B, Dx): X_t
            xs.append(x)
            vs.append(v)
            attns.append(attn)
        return GlimpseFeatures(x=torch.stack(xs, 1), v=torch.stack(vs, 1),
                               a=torch.stack(attns, 1), c=None)

    def _forward_spatial(self, v_img: torch.Tensor,
                         x: torch.Tensor) -> GlimpseFeatures:
        """The recurrence with ``attention='spatial'`` or ``'class'``
        (``x``: ``X_0``)."""
        b, c, size = v_img.shape[0], self.in_channels, self.spatial_size
        keys = self.key(v_img.detach() if self.detach_key_input else
                        v_img).flatten(2)  # (B, key_dims, S*S)
        read = keys.detach() if self.detach_keys else keys
        visited = None
        xs, vs, attns = [], [], []
        for _ in range(self.num_glimpses):
            a = self.spatial_attention(x, read, visited)  # (B, S*S)
            attn = (a * size * size).view(b, 1, size, size)  # mean 1
            if self.attention_floor:  # part of every glimpse reads all
                attn = self.attention_floor + (
                    1 - self.attention_floor) * attn
            attn = attn.expand(b, c, size, size)  # (B, C, S, S): A_t
            v = v_img * attn  # (B, C, S, S): V_t
            x = self.glimpse_feature(v)  # (B, Dx): X_t
            peak = a / a.amax(-1, keepdim=True)  # (B, S*S), max 1
            visited = peak if visited is None else visited + peak
            xs.append(x)
            vs.append(v)
            attns.append(attn)
        cam = keys.view(b, -1, size, size) if \
            self.attention_mode == 'class' else None  # (B, key_dims, S, S)
        return GlimpseFeatures(x=torch.stack(xs, 1), v=torch.stack(vs, 1),
                               a=torch.stack(attns, 1), c=None, cam=cam)
