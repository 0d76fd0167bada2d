"""Necks (registered in mmpretrain's MODELS): RARNN's recurrent highlight
network, context extractor and their composition."""
from .context_extractor import ContextExtractor
from .glimpse_features import GlimpseFeatures
from .rhn import RHN, guide
from .rhn_context_neck import RHNContextNeck

__all__ = ['ContextExtractor', 'GlimpseFeatures', 'RHN', 'RHNContextNeck',
           'guide']
