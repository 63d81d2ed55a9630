#!/usr/bin/env bash
# Peak memory of concurrent large Table API pages (docs/performance.md, item 15).
#
#   bash bench/large_pages.sh [--bin PATH] [--pages N] [--records N] [--db PATH] [-- SERVE_FLAGS...]
#
#   --bin      the switchboard binary (default target/release/switchboard)
#   --pages    GETs sent at once (default 16)
#   --records  interactions loaded, and the page size asked for (default 10000)
#   --db       a database loaded by an earlier call (copied first, never changed); default: load
#              a fresh one with `switchboard bench-data` into a temporary directory
#   SERVE_FLAGS  passed to `switchboard serve` (e.g. --max-records-in-flight 0)
#
# Starts the server, sends N simultaneous
#   GET /api/now/table/interaction?sysparm_limit=RECORDS&sysparm_display_value=all
# with curl, and prints the statuses, the answer sizes, the wall time and the server's peak RSS
# (VmHWM of /proc/PID/status) before and after.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=$ROOT/target/release/switchboard PAGES=16 RECORDS=10000 DB=""
while [ $# -gt 0 ]; do
  case $1 in
    --bin) BIN=$2; shift 2 ;;
    --pages) PAGES=$2; shift 2 ;;
    --records) RECORDS=$2; shift 2 ;;
    --db) DB=$2; shift 2 ;;
    --) shift; break ;;
    -h | --help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
[ -x "$BIN" ] || { echo "no binary at $BIN (cargo build --release)" >&2; exit 1; }
PORT=${BENCH_PORT:-18190}
WORK=$(mktemp -d)
PASSWORD=admin # bench-data sets admin's password to `admin`

if [ -z "$DB" ]; then
  DB=$WORK/loaded.db
  "$BIN" bench-data --database "sqlite://$DB" --users 100 --interactions "$RECORDS" \
    --out "$WORK/manifest.json" > "$WORK/bench-data.out" 2> "$WORK/bench-data.err"
  tail -1 "$WORK/bench-data.out"
fi
cp "$DB" "$WORK/serve.db"

"$BIN" serve --database "sqlite://$WORK/serve.db" --listen "127.0.0.1:$PORT" "$@" \
  > "$WORK/server.out" 2> "$WORK/server.log" &
PID=$!
trap 'kill $PID 2> /dev/null || true; wait $PID 2> /dev/null || true; rm -rf "$WORK"' EXIT
for _ in $(seq 200); do grep -q "listening" "$WORK/server.out" && break; sleep 0.05; done
grep -q "listening" "$WORK/server.out" || { tail -5 "$WORK/server.log" >&2; exit 1; }

hwm() { awk '/^VmHWM/ {print $2 / 1024 " MB"}' "/proc/$PID/status"; }
URL="http://127.0.0.1:$PORT/api/now/table/interaction?sysparm_limit=$RECORDS&sysparm_display_value=all"
echo "binary: $BIN; serve flags: ${*:-(none)}"
echo "peak RSS after start: $(hwm)"
started=$(date +%s.%N)
for _ in $(seq "$PAGES"); do
  curl -s -u "admin:$PASSWORD" -o /dev/null -w '%{http_code} %{size_download} %{time_total}\n' "$URL" &
done > "$WORK/answers.txt"
wait $(jobs -p | grep -v "^$PID$")
ended=$(date +%s.%N)
sort "$WORK/answers.txt" | awk '{n[$1" "$2]++; t = $3 > t ? $3 : t} END {for (k in n) print n[k] " x status, bytes: " k; print "slowest answer: " t " s"}'
echo "wall time for $PAGES pages: $(awk -v a="$started" -v b="$ended" 'BEGIN {printf "%.2f s", b - a}')"
echo "peak RSS: $(hwm)"
