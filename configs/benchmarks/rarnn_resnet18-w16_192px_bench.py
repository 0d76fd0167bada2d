# Speed benchmark model of issue 13 (for tools/analysis_tools/benchmark.py,
# not a training recipe): the RARNN model of
# configs/voc07_cpu/rarnn_resnet18_voc07_cpu.py (RHN with T = 10 candidate
# glimpses, context extractor, emission indicator with K = 4 samples, GRRE;
# widths 256) on the ResNet-18 of rarl_resnet18-w16_192px_bench.py (base
# width 16, cut after stage 3: 64 channels, a 12 x 12 map at 192 px).
# docs/benchmarks.md, "Head speed per FLOP (issue 13)".
#   python tools/analysis_tools/benchmark.py \
#       configs/benchmarks/rarnn_resnet18-w16_192px_bench.py --batch-size 64
_base_ = ['../voc07_cpu/rarnn_resnet18_voc07_cpu.py']
# the benchmark's N (the data pipelines of the base config are not changed)
image_size = 192
crop_size = 192
model = dict(
    backbone=dict(backbone=dict(stem_channels=16, base_channels=16)),
    neck=dict(rhn=dict(in_channels=64, spatial_size=12),  # 192 px / 16
              context=dict(in_channels=64)))
