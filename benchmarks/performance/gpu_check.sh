#!/usr/bin/env bash
# The one GPU check, run on a lent device from the project root after
# `python -m benchmarks gpu-kit --data ../shared/datasets/facial-emotion` prepared .gpu/ here:
#
#   run(command="bash benchmarks/performance/gpu_check.sh", carry=[".gpu"], timeout_s=600)
#
# Each step has its own timeout and the whole check ends within 9 minutes (a few expected), so
# a hung step cannot eat the device time (15 minutes per task, the machine's start included).
#
# It uses the device's own python3, which holds PyTorch (TensorFlow is not installed there).
# Into $OUT (what comes back) it writes:
#   device.txt           nvidia-smi's name, memory and driver, and python/torch versions
#   torch-gpu.json       the PyTorch suite, `[suite.gpu]` in common_data/bench/workload.toml:
#                        128 px, batch 32 and 256, float32 and bf16 autocast, synchronised steps
#                        with the warm-up apart, images/s, peak memory, float32 and bf16 matmul
#   seeds.tar.gz         the seed study: seeds/paper-gpu.json, the paper protocol's baseline,
#                        seed 0, float32, alone on the GPU (the study's timing), and
#                        seeds/paper-gpu-bf16.json, the same in bf16 autocast; then seeds 1..
#                        in both precisions, several at once (benchmarks/performance/gpu_sweep.py, whose
#                        account is sweep.json): records, predictions and logs
#   check.log            every step's output
# Take them in with `python -m benchmarks gpu-kit --ingest <files_at>`.
set -uo pipefail

if [ -z "${OUT:-}" ]; then
    echo "error: OUT is unset: run this on the device machine, where \$OUT comes back" >&2
    exit 2
fi
for kit in .gpu/paper-run.json .gpu/paper-run-bf16.json .gpu/suite.json .gpu/sweep.json .gpu/seeds; do
    if [ ! -e "$kit" ]; then
        echo "error: $kit not found: run \`python -m benchmarks gpu-kit\` first and carry .gpu" >&2
        exit 2
    fi
done
export PYTHONPATH="$PWD" PYTHONHASHSEED=0 PYTHONUNBUFFERED=1 THERMAL_BENCH_CACHE=/tmp/thermal-cache
log="$OUT/check.log"
work=$(mktemp -d)
mkdir -p "$work/seeds"

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader > "$OUT/device.txt"
python3 -c "import sys, torch; print('python', sys.version.split()[0], 'torch', torch.__version__)" \
    >> "$OUT/device.txt"

step() {  # step NAME SECONDS COMMAND...: run with a timeout, log it, remember its exit code
    local name=$1 limit=$2; shift 2
    local started=$SECONDS
    echo "== $name (limit ${limit}s)" >> "$log"
    timeout "$limit" "$@" >> "$log" 2>&1
    local code=$?
    echo "== $name: exit $code after $((SECONDS - started)) s" | tee -a "$log"
    return $code
}

THERMAL_BENCH_PERF="$(cat .gpu/suite.json)" step suite 140 \
    python3 -m pytest -p no:cacheprovider -q pytorch_impl/bench.py --benchmark-json "$OUT/torch-gpu.json"
suite=$?
# seed 0 alone in each precision: the study's timings (and it fills the decode cache)
step paper-float32 80 python3 -m pytorch_impl.run --config .gpu/paper-run.json \
    --out "$work/seeds/paper-gpu.json"
paper=$?
step paper-bf16 80 python3 -m pytorch_impl.run --config .gpu/paper-run-bf16.json \
    --out "$work/seeds/paper-gpu-bf16.json"
bf16=$?
# the sweep starts runs until its budget or the check's own deadline (540 s, within the
# device call's 600 s) less one run's timeout, so the archive is always written
run_timeout=$(python3 -c "import json; print(json.load(open('.gpu/sweep.json'))['run_timeout_s'])")
budget=$(python3 -c "print(max(0, 540 - $SECONDS - $run_timeout - 15))")
step sweep $((540 - SECONDS)) python3 -m benchmarks.performance.gpu_sweep --configs .gpu/seeds \
    --out "$work/seeds" --settings .gpu/sweep.json --budget-s "$budget"
sweep=$?
mv "$work/seeds/sweep.json" "$work/sweep.json" 2>/dev/null
tar -czf "$OUT/seeds.tar.gz" -C "$work" seeds $(cd "$work" && ls sweep.json 2>/dev/null)

tail -n 25 "$log"
cat "$OUT/device.txt"
echo "suite exit $suite, paper runs exit $paper / $bf16, sweep exit $sweep"
[ "$suite" -eq 0 ] && [ "$paper" -eq 0 ] && [ "$bf16" -eq 0 ] && [ "$sweep" -eq 0 ]
