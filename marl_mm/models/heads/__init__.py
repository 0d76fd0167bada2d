"""Heads (registered in mmpretrain's MODELS)."""
from .lstm_glimpse_head import LSTMGlimpseHead

__all__ = ['LSTMGlimpseHead']
