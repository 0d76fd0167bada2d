# Ablation on NUS-WIDE (k = 3): RARNN's emission policy exactly as the paper
# writes it: raw advantages R - b (no per-batch mean / std normalisation), no
# entropy bonus, and the reward of Eq. 6 with no cost per emitted glimpse.
# From ImageNet weights this is the paper's setting; on the synthetic task
# of tests/test_models/test_rarnn_learns.py it drifts to "emit all" (every
# glimpse, noise included, emitted: EmissionReward docstring).
_base_ = ['../rarnn_vgg16_nuswide.py']
model = dict(head=dict(
    advantage_norm='none', entropy_weight=0.,
    reward=dict(pos_reward=1., neg_penalty=0.1, empty_penalty=10.,
                emit_cost=0.)))
