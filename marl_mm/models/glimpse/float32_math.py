"""Policy math in float32 under AMP.

Autocast runs ``nn.Linear`` in bf16/fp16, whose rounding of the location
mean and of the Gaussian log-probability (divided by sigma^2) is of the size
of REINFORCE's signal (docs/distributed.md, 'The switches'). The policies'
last layers, their samples, log-probabilities, entropies and the reward
baselines are therefore computed here in float32 with autocast off. They are a few hundred multiply-adds per
glimpse, nothing next to the backbone.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F


def no_autocast(x: torch.Tensor) -> torch.autocast:
    """A context that turns autocast off on ``x``'s device."""
    return torch.autocast(device_type=x.device.type, enabled=False)


def float32_linear(layer: nn.Linear, x: torch.Tensor) -> torch.Tensor:
    """``layer(x)`` in float32, whatever autocast or the weights' dtype.

    ``.float()`` of a float32 parameter is the parameter itself, so the
    gradient reaches the weights unchanged.
    """
    with no_autocast(x):
        bias = None if layer.bias is None else layer.bias.float()
        return F.linear(x.float(), layer.weight.float(), bias)
