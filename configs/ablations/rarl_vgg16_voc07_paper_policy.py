# Ablation on VOC 2007, N = 512: the paper's policy as written: no zero-init
# of the location network, no random-location warm-up; raw advantages R - b
# and an undetached state are the defaults anyway. From random init this
# does not learn its policy (docs/rarl.md); from ImageNet weights it is the
# paper's setting.
_base_ = ['../rarl_vgg16_voc07.py']
model = dict(head=dict(
    policy=dict(zero_init=False, detach_input=False), advantage_norm='none'))
custom_hooks = [dict(type='PolicyGradientHook', warmup_iters=0)]
