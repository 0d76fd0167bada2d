# Speed benchmark model of issue 13 (for tools/analysis_tools/benchmark.py,
# not a training recipe): the RARL model of
# configs/voc07_cpu/rarl_resnet18_voc07_cpu.py (T = 5 steps of 9 anchors,
# embed / hidden 256, 7 x 7 crops) on a ResNet-18 of base width 16 cut after
# its third stage (64 channels, stride 16: a 12 x 12 map at 192 px). Small
# enough that the head's FLOPs are about the backbone's, so the time ratio
# shows how fast the head does its FLOPs (docs/benchmarks.md, "Head speed
# per FLOP (issue 13)").
#   python tools/analysis_tools/benchmark.py \
#       configs/benchmarks/rarl_resnet18-w16_192px_bench.py --batch-size 64
_base_ = ['../voc07_cpu/rarl_resnet18_voc07_cpu.py']
# the benchmark's N: trains and tests single-view at 192 px, ten views of
# 128 px crops (the data pipelines of the base config are not changed)
image_size = 192
crop_size = 192
model = dict(
    backbone=dict(backbone=dict(stem_channels=16, base_channels=16)),
    head=dict(in_channels=64,
              anchor_sizes=(30, 60, 120)))  # paper's at 512 -> 192
