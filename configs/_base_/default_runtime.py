# Runtime shared by every marl_mm config.
default_scope = 'mmpretrain'
custom_imports = dict(imports=['marl_mm'], allow_failed_imports=False)
# marl_mm.engine.MarlRunner (mmengine's RUNNERS; tools/train.py and
# tools/test.py build it): checkpoints read with weights_only=True and an
# allowlist for every scheme, weights checked against the model, --resume
# from the newest usable checkpoint (never from scratch over an unreadable
# one). See docs/host.md.
runner_type = 'MarlRunner'

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=20),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # max_keep_ckpts keeps disks from filling; save_last lets --resume find
    # the newest complete checkpoint.
    # backend 'atomic_local' (marl_mm.utils.AtomicLocalBackend) writes each
    # checkpoint to a temporary file and renames it: never half-written.
    checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=3,
                    save_last=True, backend_args=dict(backend='atomic_local')),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='VisualizationHook', enable=False),
    # torch / numpy / python generator states in every checkpoint, so that
    # --resume continues bit-identically (mmengine only re-seeds). Here, not
    # in custom_hooks, so configs can set custom_hooks freely.
    rng_state=dict(type='RNGStateHook'),
    # num_classes of the model vs the datasets, before the first iteration
    data_check=dict(type='DataCheckHook'),
    # a NaN / inf loss, reward or advantage stops training with the
    # iteration, the term and the images, before any checkpoint is written
    non_finite=dict(type='NonFiniteCheckHook'),
)

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'),
)

vis_backends = [dict(type='LocalVisBackend')]
# mmpretrain's UniversalVisualizer plus the glimpses: RARL's regions and
# path, RARNN's attention per emitted glimpse, and a label set for heads that
# only give pred_score (what tools/test.py --show-dir and the validation
# VisualizationHook draw); GAP configs are drawn as by UniversalVisualizer.
# tools/test.py --show-dir sets its pred_topk / pred_thr from the first
# MultiLabelTopKMetric of test_evaluator (the drawn label set = the scored
# one); set them here to choose another rule.
# TensorBoard: add dict(type='TensorboardVisBackend') (needs tensorboard).
visualizer = dict(type='GlimpseVisualizer', vis_backends=vis_backends)

log_level = 'INFO'
load_from = None
resume = False
# Same seed, same result on CPU; see docs for what is deterministic on GPU.
# diff_rank_seed: each GPU draws its own policy noise under DDP.
randomness = dict(seed=0, diff_rank_seed=True, deterministic=False)
