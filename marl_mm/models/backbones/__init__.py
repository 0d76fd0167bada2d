"""Backbones that return one (B, C, H, W) feature map."""
from .efficientnet_lite import LITE_ARCHS, EfficientNetLite
from .efficientnet_lite_weights import (convert_lite_state_dict,
                                        find_lite_weights)
from .feature_map_wrapper import FeatureMapWrapper
from .precomputed_feature_map import PrecomputedFeatureMap
from .vgg_feature_map import VGG16_IMAGENET_URL, VGGFeatureMap

__all__ = [
    'FeatureMapWrapper', 'VGGFeatureMap', 'VGG16_IMAGENET_URL',
    'EfficientNetLite', 'LITE_ARCHS', 'convert_lite_state_dict',
    'find_lite_weights', 'PrecomputedFeatureMap'
]
