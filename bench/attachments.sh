#!/usr/bin/env bash
# Attachment upload and download: throughput and the server's peak memory (docs/performance.md).
#
#   bash bench/attachments.sh [--bin PATH] [--mb N] [--parallel N] [--postgres URL]
#
#   --bin       the switchboard binary (default target/release/switchboard)
#   --mb        size of the file, in MiB (default 256)
#   --parallel  downloads of it sent at once after the first (default 4)
#   --postgres  a PostgreSQL URL to run on (default: a fresh SQLite file)
#
# Starts `serve --demo`, uploads one file of random bytes with POST /api/now/attachment/file
# (raw body), downloads it back with GET /api/now/attachment/{sys_id}/file, compares the bytes,
# then runs N downloads at once; prints each step's wall time and throughput, and the server's
# peak RSS (VmHWM of /proc/PID/status) after start and after each step. Uploads are spooled to
# TMPDIR first, which needs the file's size free.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=$ROOT/target/release/switchboard MB=256 PARALLEL=4 DATABASE=""
while [ $# -gt 0 ]; do
  case $1 in
    --bin) BIN=$2; shift 2 ;;
    --mb) MB=$2; shift 2 ;;
    --parallel) PARALLEL=$2; shift 2 ;;
    --postgres) DATABASE=$2; shift 2 ;;
    -h | --help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
[ -x "$BIN" ] || { echo "no binary at $BIN (cargo build --release)" >&2; exit 1; }
PORT=${BENCH_PORT:-18191}
WORK=$(mktemp -d)
DATABASE=${DATABASE:-sqlite://$WORK/serve.db}
QUEUE=f3a50867b30303002186a72256a8dcb7 # the demo queue
BASE="http://127.0.0.1:$PORT/api/now/attachment"

"$BIN" serve --demo --database "$DATABASE" --listen "127.0.0.1:$PORT" \
  > "$WORK/server.out" 2> "$WORK/server.log" &
PID=$!
trap 'kill $PID 2> /dev/null || true; wait $PID 2> /dev/null || true; rm -rf "$WORK"' EXIT
for _ in $(seq 200); do grep -q "listening" "$WORK/server.out" && break; sleep 0.05; done
grep -q "listening" "$WORK/server.out" || { tail -5 "$WORK/server.log" >&2; exit 1; }

hwm() { awk '/^VmHWM/ {printf "%.0f MB", $2 / 1024}' "/proc/$PID/status"; }
rate() { awk -v mb="$1" -v s="$2" 'BEGIN {printf "%.2f s, %.0f MiB/s", s, mb / s}'; }
head -c "$((MB * 1024 * 1024))" /dev/urandom > "$WORK/file.bin"
echo "binary: $BIN; database: ${DATABASE%%://*}; file: $MB MiB"
echo "peak RSS after start: $(hwm)"

read -r code seconds < <(curl -s -u admin:admin -H 'Content-Type: application/octet-stream' \
  --data-binary "@$WORK/file.bin" -o "$WORK/created.json" -w '%{http_code} %{time_total}\n' \
  "$BASE/file?table_name=awa_queue&table_sys_id=$QUEUE&file_name=file.bin")
[ "$code" = 201 ] || { echo "upload answered $code: $(head -c 300 "$WORK/created.json")" >&2; exit 1; }
ID=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["result"]["sys_id"])' "$WORK/created.json")
echo "upload: $(rate "$MB" "$seconds"); peak RSS $(hwm)"

read -r code seconds < <(curl -s -u admin:admin -o "$WORK/back.bin" -w '%{http_code} %{time_total}\n' "$BASE/$ID/file")
[ "$code" = 200 ] || { echo "download answered $code" >&2; exit 1; }
cmp -s "$WORK/file.bin" "$WORK/back.bin" || { echo "the download differs from the upload" >&2; exit 1; }
rm "$WORK/back.bin"
echo "download: $(rate "$MB" "$seconds"), bytes identical; peak RSS $(hwm)"

started=$(date +%s.%N)
for _ in $(seq "$PARALLEL"); do
  curl -s -u admin:admin -o /dev/null -w '%{http_code} %{size_download}\n' "$BASE/$ID/file" &
done > "$WORK/answers.txt"
wait $(jobs -p | grep -v "^$PID$")
ended=$(date +%s.%N)
sort "$WORK/answers.txt" | uniq -c | awk '{print "  " $1 " x status, bytes: " $2 " " $3}'
seconds=$(awk -v a="$started" -v b="$ended" 'BEGIN {print b - a}')
echo "$PARALLEL downloads at once: $(rate "$((MB * PARALLEL))" "$seconds") in all; peak RSS $(hwm)"

read -r code seconds < <(curl -s -u admin:admin -X DELETE -o /dev/null -w '%{http_code} %{time_total}\n' "$BASE/$ID")
echo "delete (with its $(( (MB * 1024 + 63) / 64 )) chunks): status $code in ${seconds} s"
