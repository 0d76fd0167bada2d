"""Heads (registered in mmpretrain's MODELS)."""
from .grre_head import GRREHead
from .lstm_glimpse_head import LSTMGlimpseHead

__all__ = ['GRREHead', 'LSTMGlimpseHead']
