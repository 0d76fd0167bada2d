# Speed benchmark of issue 13 (for tools/analysis_tools/benchmark.py, not a
# training recipe): configs/efficientnet_lite/rarnn_effnet-lite0_voc07.py at
# its training and test size. Its dataset base inherits crop_size = 128 from
# voc07_cpu_128.py, which the benchmark would read as the training size;
# the Lite0 model trains on 448 crops and tests at 448.
#   python tools/analysis_tools/benchmark.py \
#       configs/benchmarks/rarnn_effnet-lite0_448px_bench.py --batch-size 16
_base_ = ['../efficientnet_lite/rarnn_effnet-lite0_voc07.py']
crop_size = 448  # (the RHN pools the map to 7 x 7)
