"""Visualisation: :class:`GlimpseVisualizer` (registered in mmpretrain's
VISUALIZERS and in mmengine's root VISUALIZERS) draws RARL regions / paths
and RARNN attention heat maps."""
from .glimpse_visualizer import (GlimpseVisualizer, input_to_image_frame,
                                 label_protocol_from_evaluator, map_boxes)

__all__ = [
    'GlimpseVisualizer', 'input_to_image_frame',
    'label_protocol_from_evaluator', 'map_boxes'
]
