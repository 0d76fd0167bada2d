#!/usr/bin/env bash
# Distributed testing through torchrun and MMEngine's 'pytorch' launcher.
#   One machine:  bash tools/dist_test.sh CONFIG CHECKPOINT GPUS [test.py options]
#   Several:      NNODES=2 NODE_RANK=0 MASTER_ADDR=10.0.0.1 PORT=29500 \
#                 bash tools/dist_test.sh CONFIG CHECKPOINT GPUS   (then NODE_RANK=1 on the other)
# torchrun is run as `python -m torch.distributed.run` so the active python is used.
# GPUS is the number of processes (GPUs) on THIS machine.
set -euo pipefail
CONFIG=$1
CHECKPOINT=$2
GPUS=$3
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
HERE=$(cd "$(dirname "$0")" && pwd)

PYTHONPATH="$HERE/..:${PYTHONPATH:-}" \
python -m torch.distributed.run \
    --nnodes="$NNODES" \
    --node_rank="$NODE_RANK" \
    --master_addr="$MASTER_ADDR" \
    --nproc_per_node="$GPUS" \
    --master_port="$PORT" \
    "$HERE/test.py" "$CONFIG" "$CHECKPOINT" --launcher pytorch "${@:4}"
