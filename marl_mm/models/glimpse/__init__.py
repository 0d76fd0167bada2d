"""Glimpse building blocks: anchors and feature-map crops, location policy,
rewards and baselines (RARL), plus the policy-head contract shared with the
PolicyGradientHook."""
from .gaussian_location_policy import GaussianLocationPolicy
from .glimpse_anchors import GlimpseAnchors
from .policy_head_mixin import PolicyHeadMixin
from .region_cropper import RegionCropper
from .reward_baseline import RewardBaseline
from .top_k_recall_reward import TopKRecallReward

__all__ = [
    'GaussianLocationPolicy', 'GlimpseAnchors', 'PolicyHeadMixin',
    'RegionCropper', 'RewardBaseline', 'TopKRecallReward',
]
