"""Data transforms (registered in mmpretrain's ``TRANSFORMS``)."""
from .checked_load_image_from_file import CheckedLoadImageFromFile
from .load_proposals import LoadProposals

__all__ = ['CheckedLoadImageFromFile', 'LoadProposals']
