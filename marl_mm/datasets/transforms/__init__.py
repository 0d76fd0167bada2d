"""Data transforms (registered in mmpretrain's ``TRANSFORMS``)."""
from .checked_load_image_from_file import CheckedLoadImageFromFile

__all__ = ['CheckedLoadImageFromFile']
