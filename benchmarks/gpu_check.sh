#!/usr/bin/env bash
# The one GPU check (issue 11, item 5), run on a lent device from the project root after
# `python -m benchmarks gpu-kit --data ../shared/datasets/facial-emotion` prepared .gpu/ here:
#
#   run(command="bash benchmarks/gpu_check.sh", carry=[".gpu"], timeout_s=360)
#
# The work itself should take a few minutes at most; the timeouts below stop a hung step while
# leaving device time (15 minutes per task, the machine's start included) for one rerun.
#
# It uses the device's own python3, which holds PyTorch (TensorFlow is not installed there).
# Into $OUT (what comes back) it writes device.txt (nvidia-smi), torch-gpu.json (the PyTorch
# suite, profile `gpu` in common_data/bench/workload.toml: 128 px, batch 32 and 256, float32
# and bf16 autocast, synchronised steps with the warm-up apart, images/s, peak memory) and
# paper-gpu.json (one 20-epoch paper-protocol run), plus the two logs. Take them in with
# `python -m benchmarks gpu-kit --ingest <files_at>`.
set -uo pipefail

if [ -z "${OUT:-}" ]; then
    echo "error: OUT is unset: run this on the device machine, where \$OUT comes back" >&2
    exit 2
fi
for kit in .gpu/paper-run.json .gpu/suite.json; do
    if [ ! -f "$kit" ]; then
        echo "error: $kit not found: run \`python -m benchmarks gpu-kit\` first and carry .gpu" >&2
        exit 2
    fi
done
export PYTHONPATH="$PWD" PYTHONHASHSEED=0 PYTHONUNBUFFERED=1 THERMAL_BENCH_CACHE=/tmp/thermal-cache

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader > "$OUT/device.txt"
python3 -c "import sys, torch; print('python', sys.version.split()[0], 'torch', torch.__version__)" \
    >> "$OUT/device.txt"

THERMAL_BENCH_PERF="$(cat .gpu/suite.json)" \
    timeout 180 python3 -m pytest -p no:cacheprovider -q pytorch_impl/bench.py \
    --benchmark-json "$OUT/torch-gpu.json" > "$OUT/suite.log" 2>&1
suite=$?
timeout 150 python3 -m pytorch_impl.run --config .gpu/paper-run.json \
    --out "$OUT/paper-gpu.json" > "$OUT/run.log" 2>&1
paper=$?

tail -n 15 "$OUT/suite.log" "$OUT/run.log"
cat "$OUT/device.txt"
echo "suite exit $suite, paper run exit $paper"
[ "$suite" -eq 0 ] && [ "$paper" -eq 0 ]
