# Ablation on VOC 2007, N = 512: Ours-A (paper Table 4: 89.6): no LSTM;
# locations and classes predicted independently per step from the regions'
# semantic vectors.
_base_ = ['../rarl_vgg16_voc07.py']
model = dict(head=dict(use_lstm=False, classify_from='region'))
