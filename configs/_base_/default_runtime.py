# Runtime shared by every marl_mm config.
default_scope = 'mmpretrain'
custom_imports = dict(imports=['marl_mm'], allow_failed_imports=False)

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
)

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'),
)

vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='UniversalVisualizer', vis_backends=vis_backends)

log_level = 'INFO'
load_from = None
resume = False
# Same seed, same result on CPU; see docs for what is deterministic on GPU.
randomness = dict(seed=0, deterministic=False)
