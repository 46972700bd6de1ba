#!/usr/bin/env bash
# The GPU results of one borrowed-machine session, in one command of under ten minutes:
#   1. search throughput's GPU points: Gumbel and PUCT, A = 18, 50 simulations, batches 1 to 8192
#      -> search_gpu.{json,md,png}
#   2. Breakout-MinAtar, the preset with 4 seeds vmapped, for as many env steps as fit MINATAR_S
#      wall seconds (compilation included) -> breakout_minatar_gpu.{json,md,png}
# and one log of both, gpu_lease.log. Copy the results into benchmarks/results/. (The committed
# search_gpu came from this script; breakout_minatar_gpu from its MinAtar command run alone, by hand,
# after ale-py was missing on the first try: the JSON records the exact command.)
#
#   OUT=/path/to/results benchmarks/gpu_lease.sh
#   OUT=/tmp/x BATCHES=1 MINATAR_S=20 benchmarks/gpu_lease.sh      # a smoke test on a CPU
#   OUT=... TOTAL_S=570 benchmarks/gpu_lease.sh   # MinAtar gets what the sweep leaves of 570 s
#
# Packages the machine lacks can come as wheels in .whl/ (installed into /tmp/site, nothing else
# touched). The H200 image of 2026-11 (Python 3.12, jax 0.11.2, flax, optax, chex, orbax) lacked
# mctx, tyro (+ docstring_parser, shtab, typeguard), gymnax, gymnasium (+ farama-notifications),
# tensorboardX and ale-py. A copy of a clean checkout names its commit in .whl/COMMIT
# (`git rev-parse HEAD > .whl/COMMIT`), which the results record (benchmarks/provenance.py).
set -u -o pipefail
cd "$(dirname "$0")/.."  # the repository root: .whl/ and `python -m benchmarks...` are read from there
OUT=${OUT:?set OUT to the folder for the results}
PY=${PY:-python3}
BATCHES=${BATCHES:-1 16 256 1024 8192}
SEARCH_S=${SEARCH_S:-300}    # the sweep is stopped after this; it keeps the points it measured
MINATAR_S=${MINATAR_S:-200}  # the training run's wall-clock budget (benchmarks.minatar_curve --max-wall-s)
MARGIN_S=120                 # after the run's budget: its last evaluation, the random baseline, the plot
START=$(date +%s)
LOG=$OUT/gpu_lease.log
mkdir -p "$OUT"
if ls .whl/*.whl >/dev/null 2>&1; then
  $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    || exit 1
  export PYTHONPATH=/tmp/site:${PYTHONPATH:-}
fi
if [ -f .whl/COMMIT ]; then export GLASSZERO_COMMIT=$(cat .whl/COMMIT); fi
export PYTHONUNBUFFERED=1
{ date -u; nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>&1
  $PY -c "import jax, mctx; print('jax', jax.__version__, 'mctx', mctx.__version__, jax.devices())"; } 2>&1 | tee "$LOG"
# shellcheck disable=SC2086  # BATCHES is a list of words
timeout "$SEARCH_S" $PY -m benchmarks.search_throughput --policies gumbel muzero --batches $BATCHES --simulations 50 \
  --actions 18 --name search_gpu --out-dir "$OUT" 2>&1 | tee -a "$LOG"
echo "search sweep exit: $?" | tee -a "$LOG"
# The run stops itself at MINATAR_S; with TOTAL_S, MINATAR_S is what is left of it after the sweep.
if [ -n "${TOTAL_S:-}" ]; then MINATAR_S=$((TOTAL_S - ($(date +%s) - START) - MARGIN_S)); fi
if [ "$MINATAR_S" -lt 1 ]; then
  echo "minatar skipped: $MINATAR_S s left of TOTAL_S=${TOTAL_S:-}" | tee -a "$LOG"; exit 0
fi
echo "minatar wall budget: $MINATAR_S s" | tee -a "$LOG"
timeout $((MINATAR_S + MARGIN_S)) $PY -m benchmarks.minatar_curve --seeds 4 --total-env-steps 100000 \
  --max-wall-s "$MINATAR_S" --eval-every 2000 --name breakout_minatar_gpu --out-dir "$OUT" \
  --runs-dir /tmp/gpu_lease_runs 2>&1 | tee -a "$LOG"
echo "minatar exit: $?" | tee -a "$LOG"
date -u | tee -a "$LOG"
