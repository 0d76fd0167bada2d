"""Context extractor (Li et al. 2018, Sec. 3.2) against a direct computation."""
import torch

import marl_mm  # noqa: F401
from marl_mm.models.necks import ContextExtractor


def _direct(ce, v, relu=True):
    """1x1 conv as a matrix product, the dilated 3x3 conv as a sum over the
    nine shifted, zero-padded copies of the map."""
    w1, b1 = ce.conv1x1.weight[:, :, 0, 0], ce.conv1x1.bias
    one = torch.einsum('oc,bchw->bohw', w1, v) + b1[None, :, None, None]
    d = ce.conv_dilated.dilation[0]
    h, w = v.shape[-2:]
    padded = torch.nn.functional.pad(v, (d, d, d, d))
    dil = ce.conv_dilated.bias[None, :, None, None].expand(
        v.shape[0], -1, h, w).clone()
    for i in range(3):
        for j in range(3):
            patch = padded[:, :, i * d:i * d + h, j * d:j * d + w]
            dil = dil + torch.einsum('oc,bchw->bohw',
                                     ce.conv_dilated.weight[:, :, i, j], patch)
    if relu:
        one, dil = one.clamp(min=0), dil.clamp(min=0)
    return torch.cat([one, dil], 1).mean((2, 3))


def test_context_matches_direct_computation():
    torch.manual_seed(0)
    ce = ContextExtractor(in_channels=5, branch_channels=3, dilation=2)
    v = torch.randn(2, 5, 7, 7)
    c = ce(v)
    assert c.shape == (2, 6)
    torch.testing.assert_close(c, _direct(ce, v), rtol=1e-5, atol=1e-6)
    lin = ContextExtractor(in_channels=5, branch_channels=3, act_cfg=None)
    lin.load_state_dict(ce.state_dict())
    torch.testing.assert_close(lin(v), _direct(ce, v, relu=False),
                               rtol=1e-5, atol=1e-6)


def test_context_on_glimpses_and_tuples():
    torch.manual_seed(0)
    ce = ContextExtractor(in_channels=4, branch_channels=2)
    v = torch.randn(2, 3, 4, 5, 5)  # (B, T, C, H, W)
    c = ce(v)
    assert c.shape == (2, 3, 4)
    for t in range(3):
        torch.testing.assert_close(c[:, t], _direct(ce, v[:, t]),
                                   rtol=1e-5, atol=1e-6)
    out = ce((v[:, 0], ))
    assert isinstance(out, tuple) and len(out) == 1
    torch.testing.assert_close(out[0], c[:, 0])
