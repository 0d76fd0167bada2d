# Ablation "Ours w/o EI" (RARNN, Li et al. ACM MM 2018, Table 1: F_L 43.7,
# F_I 55.8, mAP 58.3 on NUS-WIDE, k = 3): no emission indicator, all T = 10
# candidate glimpses are emitted (no policy, no REINFORCE; the hook still
# logs the reward of Eq. 6 for comparison).
_base_ = ['../rarnn_vgg16_nuswide.py']
model = dict(head=dict(use_emission=False))
