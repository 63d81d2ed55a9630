#!/usr/bin/env bash
# Two configurations of the server compared on a read-only scenario, both running at once: wrk
# loads A for a second, then B for a second, ROUNDS times over. Restarting a server for each run
# (bench/ab.sh) leaves minutes between the runs compared; here they are a second apart, so the
# machine's drift (on a shared two-core machine the same binary varies by 15% from one run to
# the next) falls on both alike. Only for scenarios that write nothing (get, query): both
# servers read copies of the same database.
#
#   bash bench/interleave.sh RUN_DIR SCENARIO ROUNDS 'A' 'B'
#
#   RUN_DIR    a results directory of bench/run.sh (its database and data files)
#   A, B       each: environment assignments and options for `switchboard serve`, e.g.
#              'SWITCHBOARD_JOURNAL_SIZE=0' or '--bin /tmp/old/switchboard'
#
# Example, what the request journal costs on reads:
#   bash bench/interleave.sh target/bench/q get 60 SWITCHBOARD_JOURNAL_SIZE=0 SWITCHBOARD_JOURNAL_SIZE=1000
#
# Prints, for throughput (wrk's requests) and for server CPU per request: the ratio B/A of the
# totals, and the median of the rounds' ratios.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
[ $# -eq 5 ] || { sed -n '2,19p' "$0"; exit 2; }
RUN=$(cd "$1" && pwd) SCENARIO=$2 ROUNDS=$3 A=$4 B=$5
case $SCENARIO in get | query) ;; *) echo "interleave.sh runs read-only scenarios only (get, query)" >&2; exit 2 ;; esac
command -v wrk > /dev/null || { echo "wrk is not installed (apt-get install wrk)" >&2; exit 1; }
OUT=$RUN/interleave
mkdir -p "$OUT"

# shellcheck disable=SC1091
source "$ROOT/bench/wrk/env.sh"

PIDS=()
trap 'kill "${PIDS[@]}" 2> /dev/null || true' EXIT

# Starts one configuration on PORT with its own copy of the database; prints its pid.
start() {
  local side=$1 port=$2 config=$3 bin=$ROOT/target/release/switchboard env=() opts=()
  set -- $config
  while [ $# -gt 0 ]; do
    case $1 in
      --bin) bin=$2; shift 2 ;;
      *=*) env+=("$1"); shift ;;
      *) opts+=("$1"); shift ;;
    esac
  done
  rm -f "$OUT/$side".db*
  cp "$RUN/db/bench.db" "$OUT/$side.db"
  env "${env[@]}" "$bin" serve --database "sqlite://$OUT/$side.db" --listen "127.0.0.1:$port" "${opts[@]}" \
    > "$OUT/$side.out" 2> "$OUT/$side.log" &
  echo $!
}

PORT=${BENCH_PORT_BASE:-18180}
PID_A=$(start A "$PORT" "$A")
PID_B=$(start B "$((PORT + 1))" "$B")
PIDS=("$PID_A" "$PID_B")
for side in A B; do
  for _ in $(seq 200); do grep -q listening "$OUT/$side.out" && break; sleep 0.05; done
  grep -q listening "$OUT/$side.out" || { tail -5 "$OUT/$side.log" >&2; exit 1; }
done
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
load() { wrk -t2 -c64 -d"$2" -s "$ROOT/bench/wrk/scenario.lua" "http://127.0.0.1:$1" 2> /dev/null; }
# The credential is verified once, then each server is warmed up.
for port in "$PORT" "$((PORT + 1))"; do
  curl -s -o /dev/null -H "Authorization: $BENCH_AUTH" "http://127.0.0.1:$port/api/now/table/sys_user_role?sysparm_limit=1"
  load "$port" 2s > /dev/null
done

ROWS=$OUT/rounds.txt
: > "$ROWS"
for round in $(seq "$ROUNDS"); do
  line=$round
  for side in A B; do
    pid=$PID_A port=$PORT
    [ "$side" = B ] && pid=$PID_B port=$((PORT + 1))
    t0=$(cpu "$pid")
    requests=$(load "$port" 1s | awk '/requests in/ {print $1}')
    t1=$(cpu "$pid")
    line="$line $requests $((t1 - t0))"
  done
  echo "$line" >> "$ROWS"
done

python3 - "$ROWS" "$A" "$B" "$(getconf CLK_TCK)" << 'EOF'
import statistics, sys
rows = [list(map(int, line.split())) for line in open(sys.argv[1])]
hz = int(sys.argv[4])
print(f"A: {sys.argv[2]}\nB: {sys.argv[3]}\n{len(rows)} rounds of a second each")
ra, ca, rb, cb = (sum(r[i] for r in rows) for i in (1, 2, 3, 4))
print(f"throughput B/A: {rb / ra:.3f} of the totals ({ra} and {rb} requests); "
      f"median of the rounds {statistics.median(r[3] / r[1] for r in rows):.3f}")
cpu = lambda ticks, requests: ticks / hz * 1e6 / requests
print(f"server CPU per request: A {cpu(ca, ra):.0f} µs, B {cpu(cb, rb):.0f} µs, B/A {cpu(cb, rb) / cpu(ca, ra):.3f}")
EOF
