#!/usr/bin/env bash
# switchboard's benchmark harness (see docs/performance.md).
#
#   bash bench/run.sh            full run: 10,000 agents, 100,000 interactions, 1/16/64
#                                connections, ~17 minutes on 2 cores (close, member and mixed
#                                run on 600,000 more interactions added after the reads)
#   bash bench/run.sh --quick    1,000 agents, 30,000 interactions, 1/64 connections, short runs
#
# Options:
#   --no-prism         skip the Prism comparison (no npm needed)
#   --no-scaling       skip the create-vs-table-size curve
#   --no-curves        skip the query offset/limit curves
#   --scale-max N      grow the scaling database up to N interactions (10^6: add ~10 minutes)
#   --scenarios "..."  run only these scenarios (create close member mapping get query
#                      query_oauth mixed)
#   --out DIR          results directory (default target/bench/<UTC timestamp>)
#   BENCH_PORT_BASE    first of four loopback ports used (default 18180)
#   BENCH_QUIET_BUDGET seconds the whole run may wait for other work to stop (default 180)
#
# It builds the release binary and bench/bare_http.rs, installs wrk (apt) and Prism (npm, into
# target/bench/prism-cli) when missing, loads a fresh database with `switchboard bench-data`,
# measures, and writes DIR/report.md (+ summary.json, SVG charts, raw wrk and /proc figures).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH=$ROOT/bench
LUA=$BENCH/wrk/scenario.lua
REPORT=$BENCH/report.py
PRISM_VERSION=5.14.2
ARGS="$*"

MODE=full PRISM=1 SCALING=1 CURVES=1 SCALE_MAX="" ONLY="" OUT_DIR=""
PORT_BASE=${BENCH_PORT_BASE:-18180}

usage() { sed -n '2,22p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }

while [ $# -gt 0 ]; do
  case $1 in
    --quick) MODE=quick ;;
    --no-prism) PRISM=0 ;;
    --no-scaling) SCALING=0 ;;
    --no-curves) CURVES=0 ;;
    --scale-max) SCALE_MAX=${2:?--scale-max needs a number}; shift ;;
    --scenarios) ONLY=${2:?--scenarios needs a list}; shift ;;
    --out) OUT_DIR=${2:?--out needs a directory}; shift ;;
    -h | --help) usage; exit 0 ;;
    *) echo "run.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
  shift
done

if [ "$MODE" = full ]; then
  USERS=10000 INTERACTIONS=100000 CONNS="1 16 64" DURATION=8 WARMUP=2 BARE_DURATION=5 PRISM_DURATION=5
  SCALE_POINTS="1000 10000 100000" SCALE_USERS=1000 SCALE_DURATION=3 CURVE_DURATION=3
  TOPUP=600000
  LIMITS="1 10 100 1000 10000"
else
  USERS=1000 INTERACTIONS=30000 CONNS="1 64" DURATION=3 WARMUP=1 BARE_DURATION=2 PRISM_DURATION=2
  SCALE_POINTS="1000 10000" SCALE_USERS=200 SCALE_DURATION=2 CURVE_DURATION=1
  TOPUP=150000
  LIMITS="1 10 100 1000"
fi
if [ -n "$SCALE_MAX" ]; then
  SCALE_POINTS=""
  p=1000
  while [ "$p" -le "$SCALE_MAX" ]; do SCALE_POINTS="$SCALE_POINTS $p"; p=$((p * 10)); done
fi
STARTUP_REPEAT=5
ALL_SCENARIOS="get query query_oauth mapping create close member route mixed"
SCENARIOS=${ONLY:-$ALL_SCENARIOS}
TOP=$(echo "$CONNS" | tr ' ' '\n' | sort -n | tail -1)
QUERY_LIMIT=20
QUERY_PAGES=50
query_path() { echo "/api/now/table/interaction?sysparm_query=active%3Dtrue%5EORDERBYnumber&sysparm_limit=$1"; }

SB_PORT=$PORT_BASE BARE_PORT=$((PORT_BASE + 1)) PRISM_PORT=$((PORT_BASE + 2)) AUX_PORT=$((PORT_BASE + 3))
SB_URL=http://127.0.0.1:$SB_PORT

RUN=${OUT_DIR:-$ROOT/target/bench/$(date -u +%Y%m%dT%H%M%SZ)}
RAW=$RUN/raw LOGS=$RUN/logs DB=$RUN/db
mkdir -p "$RAW" "$LOGS" "$DB" "$RUN/data"
STARTED_AT=$(date +%s)

log() { echo "[bench $(date +%H:%M:%S)] $*" | tee -a "$RUN/run.log"; }
die() { log "error: $*"; exit 1; }

# --- processes ---------------------------------------------------------------------------------
PIDS=()
cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port_free() { ! (echo > "/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# start_proc NAME READY CMD...: runs CMD in the background; READY is a pattern of its standard
# output, or "port:N" to wait until port N accepts connections. Sets STARTED_PID.
start_proc() {
  local name=$1 ready=$2 i
  shift 2
  "$@" > "$LOGS/$name.out" 2> "$LOGS/$name.err" &
  STARTED_PID=$!
  PIDS+=("$STARTED_PID")
  for i in $(seq 1 1200); do
    if [[ $ready == port:* ]]; then
      port_free "${ready#port:}" || return 0
    elif grep -q "$ready" "$LOGS/$name.out" 2> /dev/null; then
      return 0
    fi
    kill -0 "$STARTED_PID" 2> /dev/null || { tail -20 "$LOGS/$name.err" >&2; die "$name exited at start"; }
    sleep 0.05
  done
  die "$name did not start within 60 s"
}
stop_proc() {
  kill -TERM "$1" 2> /dev/null || true
  wait "$1" 2> /dev/null || true
}

# --- measuring ---------------------------------------------------------------------------------
CLK_TCK=$(getconf CLK_TCK)
# "utime stime" of a process, in ticks
proc_cpu_ticks() { sed 's/^.*) //' "/proc/$1/stat" | awk '{print $12, $13}'; }
# "total idle steal" in ticks, all CPUs (steal: time the hypervisor gave to other guests)
machine_cpu() { awk '/^cpu /{print $2+$3+$4+$5+$6+$7+$8+$9, $5+$6, $9}' /proc/stat; }
status_kb() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }

# The machine is shared (2 cores, wrk on the same ones): before each measurement, wait until
# nothing else uses more than a quarter of a core, within a budget for the whole run, and record
# what was running anyway (the report flags measurements that other work contended with).
NPROC=$(nproc)
QUIET_BUDGET=${BENCH_QUIET_BUDGET:-180}
QUIET_WAITED=0
background_pct() {
  local a b c d x
  read -r a b x < <(machine_cpu)
  sleep 0.3
  read -r c d x < <(machine_cpu)
  awk -v a="$a" -v b="$b" -v c="$c" -v d="$d" -v n="$NPROC" \
    'BEGIN{t=c-a; if (t<=0) {print 0; exit} printf "%.0f", ((t-(d-b))/t)*100*n}'
}
wait_quiet() {
  local bg said=0
  bg=$(background_pct)
  while [ "$bg" -gt 25 ] && [ "$QUIET_WAITED" -lt "$QUIET_BUDGET" ]; do
    [ $said = 1 ] || { log "waiting for other work to stop (background ${bg}% of a core)"; said=1; }
    sleep 2
    QUIET_WAITED=$((QUIET_WAITED + 2))
    bg=$(background_pct)
  done
  BACKGROUND_PCT=$bg
}

# measure PHASE TARGET SCENARIO CONNS SECONDS PID URL [key=value ...]
# Runs wrk with bench/wrk/scenario.lua (BENCH_* variables exported by the caller), and records
# the server's CPU time and peak RSS over the run, wrk's own CPU time, and the machine's.
measure() {
  local phase=$1 target=$2 scenario=$3 c=$4 d=$5 pid=$6 url=$7
  shift 7
  local threads=$((c < 2 ? 1 : 2)) tag="$phase-$target-$scenario-c$c" kv
  for kv in "$@"; do tag="$tag-${kv//=/}"; done
  local base=$RAW/$tag hwm_reset=0 rc=0
  wait_quiet
  # PRIME=1: one request first, so that the credential is verified (and cached) by then
  if [ "${PRIME:-0}" = 1 ]; then
    curl -s -o /dev/null -H "Authorization: $BENCH_AUTH" "$url/api/now/table/sys_user_role?sysparm_limit=1" || true
  fi
  echo 5 > "/proc/$pid/clear_refs" 2> /dev/null && hwm_reset=1
  local u0 s0 u1 s1 mt0 mi0 ms0 mt1 mi1 ms1 t0 t1
  read -r u0 s0 < <(proc_cpu_ticks "$pid")
  read -r mt0 mi0 ms0 < <(machine_cpu)
  t0=$(date +%s%N)
  {
    TIMEFORMAT='%U %S'
    time BENCH_SCENARIO=$scenario BENCH_THREADS=$threads BENCH_OUT=$base.wrk.json \
      wrk -t"$threads" -c"$c" -d"${d}s" --timeout 30s -s "$LUA" "$url" > "$base.txt" 2>&1
  } 2> "$base.time" || rc=$?
  t1=$(date +%s%N)
  read -r mt1 mi1 ms1 < <(machine_cpu)
  read -r u1 s1 < <(proc_cpu_ticks "$pid")
  local wu ws
  read -r wu ws < <(tail -1 "$base.time") || true
  python3 "$REPORT" meta "$base.meta.json" phase="$phase" target="$target" scenario="$scenario" \
    connections="$c" threads="$threads" duration_s="$d" \
    wall_s="$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.3f", (b-a)/1e9}')" \
    server_cpu_s="$(awk -v a="$((u0 + s0))" -v b="$((u1 + s1))" -v t="$CLK_TCK" 'BEGIN{printf "%.3f", (b-a)/t}')" \
    server_sys_s="$(awk -v a="$s0" -v b="$s1" -v t="$CLK_TCK" 'BEGIN{printf "%.3f", (b-a)/t}')" \
    wrk_cpu_user_s="${wu:-0}" wrk_cpu_sys_s="${ws:-0}" \
    machine_cpu_busy_s="$(awk -v a="$mt0" -v b="$mt1" -v i="$mi0" -v j="$mi1" -v t="$CLK_TCK" 'BEGIN{printf "%.3f", ((b-a)-(j-i))/t}')" \
    machine_cpu_total_s="$(awk -v a="$mt0" -v b="$mt1" -v t="$CLK_TCK" 'BEGIN{printf "%.3f", (b-a)/t}')" \
    machine_cpu_steal_s="$(awk -v a="$ms0" -v b="$ms1" -v t="$CLK_TCK" 'BEGIN{printf "%.3f", (b-a)/t}')" \
    vm_hwm_kb="$(status_kb "$pid" VmHWM)" vm_rss_kb="$(status_kb "$pid" VmRSS)" hwm_reset="$hwm_reset" \
    wrk_exit="$rc" background_before_pct="$BACKGROUND_PCT" "$@"
  LAST_BASE=$base
  python3 "$REPORT" line "$base" | tee -a "$RUN/run.log"
}

json_get() { python3 "$REPORT" get "$1" "$2"; }

# --- tools and builds --------------------------------------------------------------------------
log "mode $MODE; results in $RUN"
if ! command -v wrk > /dev/null; then
  log "installing wrk (apt-get)"
  apt-get install -y wrk > "$LOGS/apt.log" 2>&1 || { apt-get update >> "$LOGS/apt.log" 2>&1 && apt-get install -y wrk >> "$LOGS/apt.log" 2>&1; } ||
    die "could not install wrk (see $LOGS/apt.log)"
fi
for tool in cargo curl python3; do command -v $tool > /dev/null || die "$tool is needed"; done
for port in $SB_PORT $BARE_PORT $PRISM_PORT $AUX_PORT; do port_free "$port" || die "port $port is in use (set BENCH_PORT_BASE)"; done

log "building the release binary and bench/bare_http.rs"
(cd "$ROOT" && cargo build --release --bin switchboard --example bare_http) > "$LOGS/build.log" 2>&1 ||
  { tail -30 "$LOGS/build.log" >&2; die "cargo build failed (see $LOGS/build.log)"; }
BIN=$ROOT/target/release/switchboard
BARE=$ROOT/target/release/examples/bare_http
"$BIN" bench-data --help > /dev/null 2>&1 || die "this switchboard has no bench-data subcommand"

PRISM_BIN=""
if [ "$PRISM" = 1 ]; then
  PRISM_DIR=$ROOT/target/bench/prism-cli
  if [ ! -x "$PRISM_DIR/node_modules/.bin/prism" ] || [ "$(cat "$PRISM_DIR/version" 2> /dev/null)" != "$PRISM_VERSION" ]; then
    if command -v npm > /dev/null; then
      log "installing @stoplight/prism-cli@$PRISM_VERSION into $PRISM_DIR (npm, --no-save)"
      mkdir -p "$PRISM_DIR"
      if (cd "$PRISM_DIR" && npm install --no-save --no-audit --no-fund --loglevel=error "@stoplight/prism-cli@$PRISM_VERSION") > "$LOGS/npm.log" 2>&1; then
        echo "$PRISM_VERSION" > "$PRISM_DIR/version"
      else
        log "npm install failed (see $LOGS/npm.log): Prism is skipped"
      fi
    else
      log "npm not found: Prism is skipped"
    fi
  fi
  [ -x "$PRISM_DIR/node_modules/.bin/prism" ] && PRISM_BIN=$PRISM_DIR/node_modules/.bin/prism
fi

python3 "$REPORT" machine "$RUN"
python3 "$REPORT" meta "$RUN/config.json" mode="$MODE" command="bash bench/run.sh${ARGS:+ $ARGS}" \
  users="$USERS" interactions="$INTERACTIONS" connections="$CONNS" duration="$DURATION" warmup="$WARMUP" \
  prism_duration="$PRISM_DURATION" bare_duration="$BARE_DURATION" scale_points="$SCALE_POINTS" scale_users="$SCALE_USERS" \
  scale_duration="$SCALE_DURATION" curve_duration="$CURVE_DURATION" scenarios="$SCENARIOS" \
  query="$(query_path $QUERY_LIMIT)&sysparm_offset=..." query_pages="$QUERY_PAGES" prism_version="$PRISM_VERSION"

# --- the data set ------------------------------------------------------------------------------
MAIN_DB="sqlite://$DB/bench.db"
rm -f "$DB"/bench.db* "$DB"/scale.db* # always a fresh database
log "bench-data: $USERS agents, $INTERACTIONS interactions"
t0=$(date +%s%N)
"$BIN" bench-data --database "$MAIN_DB" --users "$USERS" --interactions "$INTERACTIONS" \
  --out "$RUN/data/manifest.json" > "$LOGS/bench-data.out" 2> "$LOGS/bench-data.err" ||
  { tail -20 "$LOGS/bench-data.err" >&2; die "bench-data failed"; }
t1=$(date +%s%N)
log "$(tail -1 "$LOGS/bench-data.out")"
python3 "$REPORT" prepare "$RUN/data/manifest.json" "$RUN/data" "$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", (b-a)/1e9}')"
# shellcheck disable=SC1091
source "$RUN/data/vars.sh"
export BENCH_CHANNEL BENCH_QUEUE BENCH_OTHER_QUEUE BENCH_INBOUND BENCH_SUPERVISOR
export BENCH_IDS=$RUN/data/ids.txt BENCH_AGENTS=$RUN/data/agents.txt
export BENCH_LIMIT=$QUERY_LIMIT BENCH_PAGES=$QUERY_PAGES BENCH_QUERY
BENCH_QUERY=$(query_path $QUERY_LIMIT)
basic_of() { echo "Basic $(printf '%s:bench' "$1" | base64 | tr -d '\n')"; }
BASIC=$(basic_of "$BENCH_AGENT_USER")
export BENCH_AUTH=$BASIC
# The credential cache keeps a verified password for --credential-cache-seconds (60) from its
# verification; when it lapses under load, every request in flight verifies it again (Argon2).
# So that each measurement sees the steady state, each uses an agent whose credential is
# verified just before (PRIME) and stays cached for the whole measurement; the lapse itself is
# measured once, on purpose ("coldauth").
AGENT_IX=0
next_agent() {
  AGENT_IX=$((AGENT_IX + 1))
  local name
  name=$(sed -n "$((AGENT_IX % BENCH_USER_COUNT + 1))p" "$RUN/data/users.txt")
  BASIC_NOW=$(basic_of "$name")
}

# --- start-up time -----------------------------------------------------------------------------
log "start-up on the loaded database, $STARTUP_REPEAT times"
python3 "$REPORT" startup "$RUN" "$BIN" "$MAIN_DB" "$AUX_PORT" "$STARTUP_REPEAT" | tee -a "$RUN/run.log"

# --- switchboard -------------------------------------------------------------------------------
log "switchboard serve on the loaded database"
start_proc switchboard-main "listening on" "$BIN" serve --database "$MAIN_DB" --listen "127.0.0.1:$SB_PORT"
SB_PID=$STARTED_PID
curl -sf "$SB_URL/api/openapi.json" -o "$RUN/openapi.json" || die "no /api/openapi.json"
TOKEN=$(curl -sf -d "grant_type=password&client_id=$BENCH_CLIENT_ID&client_secret=$BENCH_CLIENT_SECRET&username=$BENCH_AGENT_USER&password=bench" \
  "$SB_URL/oauth_token.do" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])') ||
  die "could not get an OAuth token"
BEARER="Bearer $TOKEN"

auth_for() { if [ "$1" = query_oauth ]; then echo "$BEARER"; else echo "$BASIC"; fi; }
fresh_auth_for() { if [ "$1" = query_oauth ]; then BENCH_AUTH=$BEARER; else next_agent; BENCH_AUTH=$BASIC_NOW; fi; }
consumes_ids() { case $1 in close | member | route | mixed) return 0 ;; *) return 1 ;; esac; }

CURSOR=0 # the next unused interaction of the manifest (close, member and mixed use each once)
run_switchboard_scenario() {
  local s=$1 c
  export BENCH_AUTH
  fresh_auth_for "$s"
  BENCH_START=$CURSOR PRIME=1 measure warmup switchboard "$s" 16 "$WARMUP" "$SB_PID" "$SB_URL"
  if consumes_ids "$s"; then CURSOR=$(python3 "$REPORT" cursor "$LAST_BASE.wrk.json" "$CURSOR"); fi
  for c in $CONNS; do
    fresh_auth_for "$s"
    BENCH_START=$CURSOR PRIME=1 measure main switchboard "$s" "$c" "$DURATION" "$SB_PID" "$SB_URL"
    if consumes_ids "$s"; then CURSOR=$(python3 "$REPORT" cursor "$LAST_BASE.wrk.json" "$CURSOR"); fi
  done
  BENCH_AUTH=$BASIC
}
export BENCH_START

for s in $SCENARIOS; do
  case $s in get | query | query_oauth) run_switchboard_scenario "$s" ;; esac
done

# close, member and mixed use each loaded interaction once, and at their rates the data set's
# 100,000 would run out (a repeated close is a no-op, a repeated drop a 400). So once the reads
# are measured on the data set as specified, the server stops, TOPUP more interactions are
# added the same way, and those scenarios take theirs from the new ones only.
if [ "${TOPUP:-0}" -gt 0 ] && [[ " $SCENARIOS " == *" close "* || " $SCENARIOS " == *" member "* || " $SCENARIOS " == *" route "* || " $SCENARIOS " == *" mixed "* ]]; then
  stop_proc "$SB_PID"
  log "bench-data: +$TOPUP interactions for the scenarios that use each once"
  "$BIN" bench-data --database "$MAIN_DB" --users "$USERS" --interactions "$TOPUP" \
    --out "$RUN/data/topup-manifest.json" > "$LOGS/bench-data-topup.out" 2> "$LOGS/bench-data-topup.err" ||
    { tail -20 "$LOGS/bench-data-topup.err" >&2; die "bench-data (top-up) failed"; }
  mkdir -p "$RUN/data/topup"
  python3 "$REPORT" prepare "$RUN/data/topup-manifest.json" "$RUN/data/topup" 0
  export BENCH_IDS=$RUN/data/topup/ids.txt
  CURSOR=$INTERACTIONS # the manifest lists the interactions already there first
  python3 "$REPORT" meta "$RUN/config.json" topup="$TOPUP"
  start_proc switchboard-main "listening on" "$BIN" serve --database "$MAIN_DB" --listen "127.0.0.1:$SB_PORT"
  SB_PID=$STARTED_PID
fi

for s in $SCENARIOS; do
  case $s in get | query | query_oauth) ;; *) run_switchboard_scenario "$s" ;; esac
done

# After the scenarios: the two measurements below leave the process with more memory mapped
# (the hashing pool; an 11 MB page), which would show in the next measurements' peak RSS.
# A credential the cache does not hold, at the top connection count: every request in flight
# verifies it (what also happens each time a cached credential lapses under load).
if [[ " $SCENARIOS " == *" get "* ]]; then
  log "a credential-cache miss under load"
  next_agent
  BENCH_AUTH=$BASIC_NOW measure coldauth switchboard get "$TOP" 2 "$SB_PID" "$SB_URL"
fi

if [ "$CURVES" = 1 ]; then
  log "query latency curves (1 connection)"
  total=$(curl -s -D - -o /dev/null -H "Authorization: $BASIC" "$SB_URL$(query_path 1)" | awk -F': ' 'tolower($1)=="x-total-count"{print $2+0}')
  offsets="0"
  for o in 10 100 1000 10000 100000 1000000; do [ "$o" -lt "${total:-0}" ] && offsets="$offsets $o"; done
  last=$((${total:-0} * 9 / 10))
  [ "$last" -gt "${offsets##* }" ] && offsets="$offsets $last"
  for o in $offsets; do
    next_agent
    BENCH_AUTH=$BASIC_NOW PRIME=1 BENCH_QUERY=$(query_path $QUERY_LIMIT) BENCH_FIXED_OFFSET=$o \
      measure curve switchboard query 1 "$CURVE_DURATION" "$SB_PID" "$SB_URL" curve=offset offset="$o" limit=$QUERY_LIMIT
  done
  for l in $LIMITS; do
    next_agent
    BENCH_AUTH=$BASIC_NOW PRIME=1 BENCH_QUERY=$(query_path "$l") BENCH_FIXED_OFFSET=0 \
      measure curve switchboard query 1 "$CURVE_DURATION" "$SB_PID" "$SB_URL" curve=limit offset=0 limit="$l"
  done
fi

log "interactions used by close/member/mixed: $CURSOR of $BENCH_INTERACTION_COUNT"
stop_proc "$SB_PID"
stat -c %s "$LOGS/switchboard-main.err" > "$LOGS/switchboard-main.err.size"
tail -n 2000 "$LOGS/switchboard-main.err" > "$LOGS/switchboard-main.err.tail" && rm -f "$LOGS/switchboard-main.err"

# --- bare HTTP: the same requests, a fixed body of each scenario's mean response size ----------
log "bare HTTP baseline (bench/bare_http.rs)"
for s in $SCENARIOS; do
  size=$(json_get "$RAW/main-switchboard-$s-c$TOP.wrk.json" mean_body_bytes 2> /dev/null || echo 512)
  start_proc "bare-$s" "listening on" "$BARE" --listen "127.0.0.1:$BARE_PORT" --body-bytes "$size"
  bare_pid=$STARTED_PID
  BENCH_AUTH=$(auth_for "$s")
  BENCH_START=0 measure warmup bare "$s" "$TOP" 1 "$bare_pid" "http://127.0.0.1:$BARE_PORT" body_bytes="$size"
  for c in $CONNS; do
    BENCH_START=0 measure main bare "$s" "$c" "$BARE_DURATION" "$bare_pid" "http://127.0.0.1:$BARE_PORT" body_bytes="$size"
  done
  stop_proc "$bare_pid"
done
BENCH_AUTH=$BASIC

# --- Prism on switchboard's own OpenAPI document -----------------------------------------------
if [ -n "$PRISM_BIN" ]; then
  log "Prism $PRISM_VERSION mock of switchboard's OpenAPI document"
  start_proc prism "port:$PRISM_PORT" "$PRISM_BIN" mock -h 127.0.0.1 -p "$PRISM_PORT" -v warn "$RUN/openapi.json"
  prism_pid=$STARTED_PID
  # the Node process itself (the prism script is a node shebang, exec'd in place)
  for s in $SCENARIOS; do
    BENCH_AUTH=$(auth_for "$s")
    BENCH_START=0 measure warmup prism "$s" "$TOP" 1 "$prism_pid" "http://127.0.0.1:$PRISM_PORT"
    for c in $CONNS; do
      BENCH_START=0 measure main prism "$s" "$c" "$PRISM_DURATION" "$prism_pid" "http://127.0.0.1:$PRISM_PORT"
    done
  done
  BENCH_AUTH=$BASIC
  stop_proc "$prism_pid"
  python3 "$REPORT" meta "$RUN/prism.json" status="@stoplight/prism-cli $PRISM_VERSION, \`prism mock -v warn\` (request logging off) on the OpenAPI document saved from switchboard's /api/openapi.json, Node $(node --version)"
else
  python3 "$REPORT" meta "$RUN/prism.json" status="not measured in this run"
fi

# --- create as the interaction table grows -----------------------------------------------------
if [ "$SCALING" = 1 ] && [[ " $SCENARIOS " == *" create "* ]]; then
  log "scaling: create at $TOP connections, interactions$(echo "$SCALE_POINTS" | sed 's/ / → /g; s/^ →//')"
  SCALE_DB="sqlite://$DB/scale.db"
  current=0
  for point in $SCALE_POINTS; do
    add=$((point - current))
    if [ "$add" -gt 0 ]; then
      log "bench-data: +$add interactions (scaling database)"
      "$BIN" bench-data --database "$SCALE_DB" --users "$SCALE_USERS" --interactions "$add" \
        --out "$RUN/data/scale-manifest.json" > "$LOGS/bench-data-scale.out" 2> "$LOGS/bench-data-scale.err" ||
        die "bench-data (scaling) failed"
      mkdir -p "$RUN/data/scale"
      python3 "$REPORT" prepare "$RUN/data/scale-manifest.json" "$RUN/data/scale" 0
    fi
    start_proc "switchboard-scale-$point" "listening on" "$BIN" serve --database "$SCALE_DB" --listen "127.0.0.1:$AUX_PORT"
    scale_pid=$STARTED_PID
    aux=http://127.0.0.1:$AUX_PORT
    count() { curl -s -D - -o /dev/null -H "Authorization: $BASIC" "$aux/api/now/table/interaction?sysparm_limit=1&sysparm_fields=sys_id" | awk -F': ' 'tolower($1)=="x-total-count"{print $2+0}'; }
    (
      # shellcheck disable=SC1091
      source "$RUN/data/scale/vars.sh"
      export BENCH_CHANNEL BENCH_QUEUE BENCH_AUTH=$BASIC BENCH_START=0
      # warm up with reads, which add nothing to the table
      BENCH_IDS=$RUN/data/scale/ids.txt PRIME=1 measure warmup switchboard get "$TOP" 1 "$scale_pid" "$aux" point="$point"
      before=$(count)
      PRIME=1 measure scale switchboard create "$TOP" "$SCALE_DURATION" "$scale_pid" "$aux" point="$point" table_before="$before"
      python3 "$REPORT" meta "$LAST_BASE.meta.json" table_after="$(count)"
    )
    current=$(count)
    stop_proc "$scale_pid"
  done
fi

# --- the report --------------------------------------------------------------------------------
python3 "$REPORT" report "$RUN" | tee -a "$RUN/run.log"
mkdir -p "$ROOT/target/bench" && ln -sfn "$RUN" "$ROOT/target/bench/latest"
log "done in $(($(date +%s) - STARTED_AT)) s (${QUIET_WAITED} s of it waiting for other work): $RUN/report.md"
