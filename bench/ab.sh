#!/usr/bin/env bash
# Two configurations of the server compared on one scenario, in pairs: A then B, PAIRS times,
# each run a `bench/profile.sh` (wrk, 64 connections, a fresh copy of the same database). The
# machines are noisy (the same binary varies by 15% from one run to the next, and drifts over
# minutes), so each B is compared with the A just before it, and the median of the pairs'
# ratios is the result (docs/performance.md, "How to measure").
#
#   bash bench/ab.sh RUN_DIR SCENARIO PAIRS SECONDS 'A' 'B'
#
#   RUN_DIR    a results directory of bench/run.sh (as for bench/profile.sh)
#   A, B       each: environment assignments and options for bench/profile.sh, e.g.
#              'SWITCHBOARD_JOURNAL_SIZE=0' or '--bin /tmp/old/switchboard'
#
# Example, what the request journal costs on reads:
#   bash bench/ab.sh target/bench/q get 6 8 SWITCHBOARD_JOURNAL_SIZE=0 SWITCHBOARD_JOURNAL_SIZE=1000
#
# Prints each run's line, then for throughput and for server CPU per request: every pair's
# ratio B/A and their median.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
[ $# -eq 6 ] || { sed -n '2,18p' "$0"; exit 2; }
RUN=$1 SCENARIO=$2 PAIRS=$3 SECONDS_=$4 A=$5 B=$6

# One run of `profile.sh` under a configuration: its assignments go to the environment, the
# rest to profile.sh's options.
run() {
  local config=$1 word env=() opts=()
  for word in $config; do
    case $word in
      *=*) env+=("$word") ;;
      *) opts+=("$word") ;;
    esac
  done
  env "${env[@]}" bash "$ROOT/bench/profile.sh" "${opts[@]}" "$RUN" "$SCENARIO" "$SECONDS_" | tail -1
}

LINES=$(mktemp)
trap 'rm -f "$LINES"' EXIT
for pair in $(seq "$PAIRS"); do
  for side in A B; do
    config=$A
    [ "$side" = B ] && config=$B
    line=$(run "$config")
    echo "pair $pair $side: $line"
    echo "$side $line" >> "$LINES"
  done
done

python3 - "$LINES" "$A" "$B" << 'EOF'
import re, statistics, sys
runs = {"A": [], "B": []}
for line in open(sys.argv[1]):
    side, rest = line.split(" ", 1)
    rps = float(re.search(r"([\d,]+) req/s", rest).group(1).replace(",", ""))
    cpu = float(re.search(r"server CPU (\d+) µs", rest).group(1))
    runs[side].append((rps, cpu))
pairs = list(zip(runs["A"], runs["B"]))
print(f"A: {sys.argv[2]}\nB: {sys.argv[3]}")
for name, index in (("throughput", 0), ("server CPU per request", 1)):
    ratios = [b[index] / a[index] for a, b in pairs]
    shown = ", ".join(f"{r:.3f}" for r in ratios)
    print(f"{name}, B/A by pair: {shown}; median {statistics.median(ratios):.3f}")
EOF
