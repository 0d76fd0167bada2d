# RARNN with the class attention (RHN(attention='class'), docs/rarnn.md,
# "Glimpses that look at the objects"): the options on top of
# rarnn_effnet-lite0.py, as variables, so that the cached and the image
# config list this file beside their own bases and write
#   model = dict(neck=dict(rhn=_base_.rarnn_class_rhn),
#                head=_base_.rarnn_class_head)
# Each choice: configs/efficientnet_lite/README.md, sixth round.
rarnn_class_rhn = dict(
    # the keys: one class map per VOC class (key_dims = num_classes), read
    # by the attention without gradient (detach_keys: only the class-map
    # loss trains them, so they stay class maps); the query starts from the
    # image's class logits (class_prior); glimpses read through the paper's
    # FC over C x S x S (glimpse_pool='fc'); inhibition of return at 5
    # (learned; at 1 the glimpses pile up on one place, -4.2 mAP)
    attention='class',
    key_dims=20,
    class_sharpness=1.,
    class_prior=True,
    detach_keys=True,
    inhibition_weight=5.)
# the class map's loss, the binary cross-entropy of its cell mean (at 10 the
# maps are sharper but the mAP is 2.3 lower)
rarnn_class_head = dict(cam_weight=1.)
