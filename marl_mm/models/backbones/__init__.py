"""Backbones that return one (B, C, H, W) feature map."""
from .feature_map_wrapper import FeatureMapWrapper
from .vgg_feature_map import VGG16_IMAGENET_URL, VGGFeatureMap

__all__ = ['FeatureMapWrapper', 'VGGFeatureMap', 'VGG16_IMAGENET_URL']
