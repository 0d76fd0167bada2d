"""RHNContextNeck composes RHN and ContextExtractor."""
import pytest
import torch

import marl_mm  # noqa: F401
from marl_mm.models.necks import ContextExtractor, GlimpseFeatures, RHN
from mmpretrain.registry import MODELS


def test_neck_equals_its_parts():
    torch.manual_seed(0)
    rhn = RHN(in_channels=4, feat_dims=6, spatial_size=3, num_glimpses=2)
    ce = ContextExtractor(in_channels=4, branch_channels=2)
    neck = MODELS.build(dict(type='RHNContextNeck', rhn=rhn, context=ce))
    m = torch.rand(2, 4, 3, 3)
    out = neck((m, ))
    assert isinstance(out, GlimpseFeatures)
    parts = rhn((m, ))
    torch.testing.assert_close(out.x, parts.x)
    torch.testing.assert_close(out.c, ce(parts.v))
    assert out.c.shape == (2, 2, 4)


def test_neck_from_config_without_context():
    neck = MODELS.build(dict(
        type='RHNContextNeck', context=None,
        rhn=dict(type='RHN', in_channels=4, feat_dims=6, spatial_size=3,
                 num_glimpses=2)))
    out = neck((torch.rand(1, 4, 3, 3), ))
    assert out.c is None and out.x.shape == (1, 2, 6)


def test_reduce_channels_is_a_1x1_conv_and_relu_before_the_parts():
    """reduce_channels: the RHN and the context extractor read
    ReLU(W m + b), W the 1 x 1 kernel, computed here as a matrix product
    over the channels."""
    torch.manual_seed(0)
    rhn = RHN(in_channels=3, feat_dims=6, spatial_size=2, num_glimpses=2,
              adaptive_pool=True)
    ce = ContextExtractor(in_channels=3, branch_channels=2)
    neck = MODELS.build(dict(type='RHNContextNeck', rhn=rhn, context=ce,
                             reduce_channels=3, in_channels=5))
    m = torch.randn(2, 5, 4, 4)
    conv = neck.reduce[0]
    reduced = torch.relu(torch.einsum('oc,bchw->bohw', conv.weight[:, :, 0, 0],
                                      m) + conv.bias[:, None, None])
    out = neck((m, ))
    parts = rhn((reduced, ))
    torch.testing.assert_close(out.x, parts.x)
    torch.testing.assert_close(out.c, ce(parts.v))
    with pytest.raises(ValueError, match='reduce_channels needs'):
        MODELS.build(dict(type='RHNContextNeck', rhn=rhn, context=ce,
                          reduce_channels=3))
