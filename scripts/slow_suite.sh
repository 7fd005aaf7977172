#!/usr/bin/env bash
# Slow mode: run the README's test command with the CPU throttled so that everything runs about
# SLOW_FACTOR (default 5) times slower, as on a heavily shared CI host.
#
#   scripts/slow_suite.sh                      # the whole suite, ~5x slower, serially
#   SLOW_FACTOR=10 scripts/slow_suite.sh -x tests/test_engine_delays.py
#
# Serially on purpose: the quota below is for everything at once, so 3 xdist workers inside it
# would each run ~15x slower, not 5x (-n 3 --dist loadgroup can still be passed for that).
#   SLOW_HOW=hogs scripts/slow_suite.sh ...    # force the fallback (no cgroup)
#
# How: the suite (pytest and every process it starts) runs in a cgroup whose CPU quota is
# 1/SLOW_FACTOR of one CPU (cgroup v2 cpu.max, else v1 cpu.cfs_quota_us; needs root, e.g. in a
# container). Without a writable cgroup it falls back to pinning everything to CPU 0 beside
# busy-loop hog processes at the same priority. It measures the slowdown it got (a fixed CPU
# loop timed inside vs outside) and exports TICKR_TEST_SLOWDOWN with the larger of that figure
# and SLOW_FACTOR, so the tests' deadlines (tests/timing.py) scale with it. The Redis the tests
# use (TICKR_TEST_REDIS_URL) is not throttled; redis-servers the tests start are.
set -euo pipefail
cd "$(dirname "$0")/.."

FACTOR="${SLOW_FACTOR:-5}"
PERIOD_US=20000                              # a short period: throttling in small slices, like steal
QUOTA_US=$((PERIOD_US / FACTOR))
NAME="tickr-slow-$$"
CG=""                                        # the cgroup directory we made, if any
HOGS=()

if [ -f .venv/bin/activate ]; then . .venv/bin/activate; fi
if [ -z "${TICKR_TEST_REDIS_URL+x}" ] && command -v redis-cli >/dev/null \
  && redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  export TICKR_TEST_REDIS_URL="redis://127.0.0.1:6379/15"
fi

loop_s() {  # wall time of the calibration loop in tests/timing.py (median of 3), in seconds
  python -c 'import sys; sys.path.insert(0, "tests"); import timing, statistics; print(f"{statistics.median(timing._cpu_loop() for _ in range(3)):.4f}")'
}

cleanup() {
  for pid in "${HOGS[@]}"; do kill "$pid" 2>/dev/null || true; done
  if [ -n "$CG" ]; then
    if [ -f "$CG/cgroup.procs" ] && [ -f "$(dirname "$CG")/cgroup.procs" ]; then
      echo $$ > "$(dirname "$CG")/cgroup.procs" 2>/dev/null || true
    fi
    rmdir "$CG" 2>/dev/null || true
  fi
}
trap cleanup EXIT
trap 'exit 143' INT TERM  # so the EXIT trap removes the cgroup and the hogs

OUTSIDE=$(loop_s)

HOW_WANTED="${SLOW_HOW:-cgroup}"
if [ "$HOW_WANTED" = cgroup ] && [ -w /sys/fs/cgroup/cgroup.subtree_control ] && grep -qw cpu /sys/fs/cgroup/cgroup.controllers 2>/dev/null \
  && mkdir "/sys/fs/cgroup/$NAME" 2>/dev/null; then
  CG="/sys/fs/cgroup/$NAME"
  echo "$QUOTA_US $PERIOD_US" > "$CG/cpu.max"
  echo $$ > "$CG/cgroup.procs"
  HOW="cgroup v2 cpu.max $QUOTA_US/$PERIOD_US us"
elif [ "$HOW_WANTED" = cgroup ] && [ -d /sys/fs/cgroup/cpu ] && mkdir "/sys/fs/cgroup/cpu/$NAME" 2>/dev/null; then
  CG="/sys/fs/cgroup/cpu/$NAME"
  echo "$PERIOD_US" > "$CG/cpu.cfs_period_us"
  echo "$QUOTA_US" > "$CG/cpu.cfs_quota_us"
  echo $$ > "$CG/cgroup.procs"
  HOW="cgroup v1 cpu.cfs_quota_us $QUOTA_US/$PERIOD_US us"
else
  # No cgroup: CPU 0 shared with FACTOR-1 busy loops. A process that wants the CPU gets about
  # 1/FACTOR of it (the scheduler shares it fairly between runnable tasks of equal weight).
  for _ in $(seq 2 "$FACTOR"); do
    taskset -c 0 sh -c 'while :; do :; done' &
    HOGS+=("$!")
  done
  taskset -p -c 0 $$ >/dev/null
  HOW="taskset -c 0 beside $((FACTOR - 1)) busy-loop hogs"
fi

INSIDE=$(loop_s)
REFERENCE=$(python -c 'import sys; sys.path.insert(0, "tests"); import timing; print(timing.REFERENCE_LOOP_S)')
# Against the quiet-machine reference (what the tests scale by), and against this machine now
# (which other work may already slow down).
MEASURED=$(python -c "print(f'{$INSIDE / $REFERENCE:.1f}')")
VS_NOW=$(python -c "print(f'{$INSIDE / $OUTSIDE:.1f}')")
export TICKR_TEST_SLOWDOWN
TICKR_TEST_SLOWDOWN=$(python -c "print(max($FACTOR, $MEASURED))")
echo "slow mode: $HOW; CPU loop ${REFERENCE}s quiet reference, ${OUTSIDE}s outside now, ${INSIDE}s inside:" \
  "x$MEASURED vs the reference, x$VS_NOW vs outside now; TICKR_TEST_SLOWDOWN=$TICKR_TEST_SLOWDOWN"

START=$(date +%s)
set +e
python -m pytest -q "$@"
CODE=$?
set -e
echo "slow mode: pytest exit $CODE after $(( $(date +%s) - START )) s wall (x$MEASURED measured)"
exit "$CODE"
