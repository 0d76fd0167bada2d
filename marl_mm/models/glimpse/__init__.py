"""Glimpse building blocks: anchors and feature-map crops, location policy,
rewards and baselines (RARL), plus the policy-head contract shared with the
PolicyGradientHook."""
from .coverage_reward import CoverageReward
from .emission_indicator import EmissionIndicator
from .emission_reward import EmissionReward
from .gaussian_location_policy import GaussianLocationPolicy
from .glimpse_anchors import GlimpseAnchors
from .grre import GRRE
from .grre_plain_rnn import GRREPlainRNN
from .policy_head_mixin import PolicyHeadMixin
from .region_cropper import RegionCropper
from .reward_baseline import RewardBaseline
from .top_k_recall_reward import TopKRecallReward

__all__ = [
    'CoverageReward', 'EmissionIndicator', 'EmissionReward', 'GRRE', 'GRREPlainRNN',
    'GaussianLocationPolicy', 'GlimpseAnchors', 'PolicyHeadMixin',
    'RegionCropper', 'RewardBaseline', 'TopKRecallReward',
]
