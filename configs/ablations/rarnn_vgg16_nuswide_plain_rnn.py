# Ablation "Ours w/o GRRE w. RNN" (RARNN, Li et al. ACM MM 2018, Table 1:
# F_L 42.6, F_I 57.7, mAP 60.9 on NUS-WIDE, k = 3): the GRRE replaced by a
# plain (tanh) RNN over the emitted glimpses (GRREPlainRNN), same width.
_base_ = ['../rarnn_vgg16_nuswide.py']
model = dict(head=dict(relation='rnn'))
