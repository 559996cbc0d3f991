#!/usr/bin/env bash
# Run the whole suite many times to find tests that fail by chance.
#
#   tests/flake_hunt.sh [--load] [--logs DIR] [N]
#
# Runs the suite N times at QTASKS_TEST_THREADS=2 (default N: 30) and
# FEW times each at 1 and at 8 threads (default: N/3, at least 1). With
# --load, two busy processes keep both cores of a small machine loaded
# during every run. Each failing run's output is kept in the log directory
# (default: a new folder under /tmp). Prints the counts per thread count at
# the end and exits 1 if any run failed.
#
# Environment: PYTHON (default: python), FEW (runs at 1 and 8 threads),
# THREADS (the thread counts, default "2 1 8"). Run from anywhere; the
# suite runs from the repository root, in the current environment.
set -euo pipefail

usage() {
    sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'
    exit "$1"
}

load=false
logs=""
runs=30
while (($#)); do
    case "$1" in
        --load) load=true ;;
        --logs) logs="${2:?--logs needs a directory}"; shift ;;
        -h | --help) usage 0 ;;
        -*) echo "flake_hunt.sh: unknown option $1" >&2; usage 2 ;;
        *)
            [[ "$1" =~ ^[1-9][0-9]*$ ]] || { echo "flake_hunt.sh: N must be a whole number >= 1, got $1" >&2; exit 2; }
            runs="$1"
            ;;
    esac
    shift
done
few="${FEW:-$(( runs / 3 > 0 ? runs / 3 : 1 ))}"
python="${PYTHON:-python}"
cd "$(dirname "$0")/.."
export QT_QPA_PLATFORM=offscreen
logs="${logs:-$(mktemp -d /tmp/qtasks-flake-hunt.XXXXXX)}"
mkdir -p "$logs"

busy=()
stop_load() {
    if ((${#busy[@]})); then
        kill "${busy[@]}" 2>/dev/null || true
        wait "${busy[@]}" 2>/dev/null || true
    fi
}
trap stop_load EXIT
if $load; then
    for _ in 1 2; do
        "$python" -c "while True: pass" &
        busy+=("$!")
    done
fi

declare -A passed failed
summary=()
for threads in ${THREADS:-2 1 8}; do
    count=$(( threads == 2 ? runs : few ))
    passed[$threads]=0
    failed[$threads]=0
    for ((i = 1; i <= count; i++)); do
        out="$logs/threads-$threads-run-$i.log"
        start=$(date +%s)
        rc=0
        QTASKS_TEST_THREADS=$threads "$python" -m pytest -q >"$out" 2>&1 || rc=$?
        last=$(tail -n 1 "$out")
        # Any non-zero exit fails the run, 5 (no tests collected) included.
        if ((rc == 0)); then
            passed[$threads]=$(( passed[$threads] + 1 ))
            rm -f "$out"
            verdict=passed
        else
            failed[$threads]=$(( failed[$threads] + 1 ))
            verdict="FAILED with exit $rc, log $out"
        fi
        echo "threads=$threads run $i/$count: $verdict after $(( $(date +%s) - start )) s ($last)"
    done
    summary+=("threads=$threads load=$load: ${passed[$threads]} passed, ${failed[$threads]} failed")
done

echo
echo "flake hunt summary (failing runs' logs in $logs):"
total_failed=0
for line in "${summary[@]}"; do
    echo "  $line"
done
for threads in "${!failed[@]}"; do
    total_failed=$(( total_failed + failed[$threads] ))
done
((total_failed == 0))
