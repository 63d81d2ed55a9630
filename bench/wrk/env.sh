# The environment bench/wrk/scenario.lua reads, for one scenario on the data of a bench/run.sh
# results directory: sourced by bench/profile.sh and bench/interleave.sh with RUN (the
# directory, absolute) and SCENARIO set.
# shellcheck shell=bash disable=SC1091
source "$RUN/data/vars.sh"
export BENCH_CHANNEL BENCH_QUEUE BENCH_OTHER_QUEUE BENCH_INBOUND BENCH_SUPERVISOR
export BENCH_AGENTS=$RUN/data/agents.txt BENCH_IDS=$RUN/data/ids.txt
# The scenarios that use each interaction once take the run's top-up.
case $SCENARIO in close | member | route | mixed) [ -s "$RUN/data/topup/ids.txt" ] && BENCH_IDS=$RUN/data/topup/ids.txt ;; esac
export BENCH_LIMIT=20 BENCH_PAGES=50
export BENCH_QUERY="/api/now/table/interaction?sysparm_query=active%3Dtrue%5EORDERBYnumber&sysparm_limit=20"
export BENCH_AUTH="Basic $(printf '%s:bench' "$BENCH_AGENT_USER" | base64 | tr -d '\n')"
export BENCH_SCENARIO=$SCENARIO BENCH_THREADS=2 BENCH_START=0
