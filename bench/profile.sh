#!/usr/bin/env bash
# One scenario against the release binary, on the database of an earlier `bench/run.sh` run,
# for comparing builds back to back and for profiling (see docs/performance.md).
#
#   bash bench/profile.sh [--perf] [--bin PATH] RUN_DIR SCENARIO [SECONDS]
#
#   RUN_DIR    a results directory of bench/run.sh (target/bench/<timestamp>); its database is
#              copied first, so the run's own files stay as they were
#   SCENARIO   create close member route mapping get query query_oauth mixed
#   SECONDS    how long wrk runs at 64 connections after a 2 s warm-up (default 8)
#   --perf     also `perf record --call-graph dwarf` the server meanwhile, and print the
#              top of `perf report --children` (perf.data stays in RUN_DIR/profile/)
#   --bin      the switchboard binary (default target/release/switchboard; build it first)
#
# Prints one line: req/s, p99, the server's CPU per request (utime+stime from /proc), its
# peak RSS, its page faults per request (memory given back to the OS and taken again), its
# threads' context switches per request (waits for a lock or for work), and the count of
# non-2xx answers. Close, member, route and mixed take interactions from
# the run's top-up; each call starts from the same copy, so calls can be compared.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PERF="" BIN=$ROOT/target/release/switchboard
while [ $# -gt 0 ]; do
  case $1 in
    --perf) PERF=1; shift ;;
    --bin) BIN=$2; shift 2 ;;
    -h | --help) sed -n '2,18p' "$0"; exit 0 ;;
    *) break ;;
  esac
done
[ $# -ge 2 ] || { sed -n '2,18p' "$0"; exit 2; }
RUN=$(cd "$1" && pwd) SCENARIO=$2 SECONDS_=${3:-8}
PORT=${BENCH_PORT_BASE:-18180}
[ -x "$BIN" ] || { echo "no binary at $BIN (cargo build --release)" >&2; exit 1; }
[ -f "$RUN/db/bench.db" ] || { echo "no database in $RUN/db (a bench/run.sh results directory?)" >&2; exit 1; }

OUT=$RUN/profile
mkdir -p "$OUT"
rm -f "$OUT"/bench.db*
cp "$RUN/db/bench.db" "$OUT/bench.db"

# shellcheck disable=SC1091
source "$ROOT/bench/wrk/env.sh"
URL=http://127.0.0.1:$PORT

"$BIN" serve --database "sqlite://$OUT/bench.db" --listen "127.0.0.1:$PORT" > "$OUT/server.out" 2> "$OUT/server.log" &
PID=$!
trap 'kill $PID 2> /dev/null || true' EXIT
for _ in $(seq 200); do grep -q "listening" "$OUT/server.out" && break; sleep 0.05; done
grep -q "listening" "$OUT/server.out" || { tail -5 "$OUT/server.log" >&2; exit 1; }
if [ "$SCENARIO" = query_oauth ]; then
  BENCH_AUTH="Bearer $(curl -sf -d "grant_type=password&client_id=$BENCH_CLIENT_ID&client_secret=$BENCH_CLIENT_SECRET&username=$BENCH_AGENT_USER&password=bench" \
    "$URL/oauth_token.do" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')"
fi
# The credential is verified once here, not under load.
curl -s -o /dev/null -H "Authorization: $BENCH_AUTH" "$URL/api/now/table/sys_user_role?sysparm_limit=1"
wrk -t2 -c64 -d2s -s "$ROOT/bench/wrk/scenario.lua" "$URL" > /dev/null 2>&1
export BENCH_START=100000 # past what the warm-up used

cpu() { awk '{print $14 + $15}' "/proc/$PID/stat"; }
faults() { awk '{print $10}' "/proc/$PID/stat"; }
# Context switches of every thread: a thread that sleeps on a lock or waits for work.
switches() { cat /proc/"$PID"/task/*/status 2> /dev/null | awk '/ctxt_switches/ {n += $2} END {print n}'; }
echo 5 > "/proc/$PID/clear_refs" 2> /dev/null || true
t0=$(cpu) f0=$(faults) s0=$(switches)
if [ -n "$PERF" ]; then
  perf record -F 499 --call-graph dwarf -o "$OUT/perf.data" -p "$PID" -- sleep $((SECONDS_ > 3 ? SECONDS_ - 2 : 1)) > /dev/null 2>&1 &
  PERF_PID=$!
fi
wrk -t2 -c64 -d"${SECONDS_}s" --latency -s "$ROOT/bench/wrk/scenario.lua" "$URL" > "$OUT/wrk.out" 2>&1
t1=$(cpu) f1=$(faults) s1=$(switches)
[ -n "$PERF" ] && wait "$PERF_PID"
RSS=$(awk '/VmHWM/ {print $2 " " $3}' "/proc/$PID/status")
kill "$PID"
wait "$PID" 2> /dev/null || true

REQUESTS=$(awk '/requests in/ {print $1}' "$OUT/wrk.out")
TICKS=$(getconf CLK_TCK)
python3 - "$OUT/wrk.out" "$SCENARIO" "$REQUESTS" "$((t1 - t0))" "$TICKS" "$RSS" "$((f1 - f0))" "$((s1 - s0))" << 'EOF'
import re, sys
text = open(sys.argv[1]).read()
scenario, requests, ticks, hz, rss = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
faults, switches = int(sys.argv[7]), int(sys.argv[8])
rps = re.search(r"Requests/sec:\s+([\d.]+)", text).group(1)
p99 = re.search(r"^\s+99%\s+(\S+)", text, re.M).group(1)
non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
print(f"{scenario}: {float(rps):,.0f} req/s, p99 {p99}, server CPU {ticks / hz * 1e6 / max(requests, 1):.0f} µs/request, "
      f"peak RSS {rss}, page faults {faults / max(requests, 1):.2f}/request, "
      f"context switches {switches / max(requests, 1):.2f}/request, "
      f"non-2xx {non2xx.group(1) if non2xx else 0}")
EOF
if [ -n "$PERF" ]; then
  perf report -i "$OUT/perf.data" --children --sort symbol -g none 2> /dev/null |
    grep -v '^#' | grep -v '^$' | head -40 | cut -c1-160
fi
