"""Plain-RNN ablation of the GRRE against a hand loop."""
import torch

import marl_mm  # noqa: F401
from marl_mm.models.glimpse import GRREPlainRNN


def test_plain_rnn_matches_hand_loop_over_emitted():
    torch.manual_seed(0)
    rnn = GRREPlainRNN(in_channels=3, hidden_channels=2, init_std=0.5)
    x = torch.randn(2, 4, 3)
    mask = torch.tensor([[1, 0, 1, 1], [0, 1, 0, 0]], dtype=torch.bool)
    out = rnn(x, mask)
    c = rnn.cell
    for b in range(2):
        r = torch.zeros(2)
        for t in range(4):
            if not mask[b, t]:
                assert (out[b, t] == 0).all()
                continue
            r = torch.tanh(c.weight_ih @ x[b, t] + c.bias_ih +
                           c.weight_hh @ r + c.bias_hh)
            torch.testing.assert_close(out[b, t], r)
    assert (c.bias_ih == 0).all()
