# The frozen, ImageNet-pretrained EfficientNet-Lite0 that the RARL and RARNN
# image configs in configs/efficientnet_lite/ put in front of the heads
# trained on cached maps: its 1280-channel head conv (stage 6), stride
# 32 (14 x 14 at 448 px), weights from the installed package
# (docs/pretrained.md). Only a variable, so that a config can list this file
# beside a model base and write
#   model = dict(backbone=_base_.lite0_frozen_backbone)
# (_delete_: it replaces the model base's PrecomputedFeatureMap, so it is
# for configs whose model base has a backbone; effnet-lite0_gap_voc07.py,
# which has none, writes the same backbone out).
lite0_frozen_backbone = dict(
    _delete_=True,
    type='FeatureMapWrapper',
    backbone=dict(type='EfficientNetLite', arch='lite0', out_indices=(6, )),
    frozen_stages=7,
    norm_eval=True,
    init_cfg=dict(type='Pretrained', checkpoint='safe:effnet-lite://lite0'))
