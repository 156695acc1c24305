#!/usr/bin/env bash
# Everything a session lent a GPU should measure, as one prepared script (device budget: ~15 min).
# Run from the repository root on the GPU machine with the mini CIFAR-10 carried into .device/:
#   mkdir -p .device && cp ../shared/data/cifar10-mini.npz .device/
#   bash benchmarks/gpu_session.sh            # writes logs under ${OUT:-gpu-out}/
set -uo pipefail
OUT=${OUT:-gpu-out}
mkdir -p "$OUT"
DATA=.device/cifar10-mini.npz
pip install --quiet --no-deps -e . >/dev/null 2>&1 || true
{ nvidia-smi --query-gpu=name,memory.total --format=csv; python -c "import torch; print('torch', torch.__version__)"; } \
    > "$OUT/device.txt" 2>&1
timeout 120 python -m pytest -q tests/test_cuda.py tests/test_train.py > "$OUT/tests_cuda.txt" 2>&1
timeout 240 python benchmarks/throughput.py --device cuda --repeats 2 --steps 40 --data "$DATA" > "$OUT/throughput_fp32.txt" 2>&1
timeout 120 python benchmarks/throughput.py --device cuda --repeats 1 --steps 40 --tf32 --data "$DATA" > "$OUT/throughput_tf32.txt" 2>&1
timeout 120 python benchmarks/condense_step.py --device cuda --data "$DATA" > "$OUT/condense_step.txt" 2>&1
# The reduced real-data run (issue 6) needs ~10 min on its own: a separate device session, LITE=1.
if [ "${LITE:-0}" = 1 ]; then
    timeout 580 snakemake --profile workflow/profiles/gpu --configfile config/cifar10-lite.yaml \
        --config "datasets={cifar10: {npz: $DATA}}" > "$OUT/cifar10_lite.txt" 2>&1
    cp results/cifar10-lite/claims.csv "$OUT/" 2>/dev/null
fi
tail -n 3 "$OUT"/*.txt
