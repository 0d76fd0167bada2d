"""RewardBaseline: a float32 MLP on the detached state."""
import torch

import marl_mm  # noqa: F401
from marl_mm.models.glimpse import RewardBaseline


def test_float32_under_bf16_autocast_and_no_gradient_to_the_state():
    torch.manual_seed(0)
    base = RewardBaseline(16, hidden_dims=8)
    state = torch.randn(3, 4, 16, requires_grad=True)
    ref = base(state)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        b = base(state)
    assert b.dtype == torch.float32 and b.shape == (3, 4)
    torch.testing.assert_close(b, ref, atol=1e-6, rtol=0)
    b.sum().backward()
    assert state.grad is None and base.net[0].weight.grad is not None
