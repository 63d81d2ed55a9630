#!/usr/bin/env bash
# Coverage-guided fuzzing (cargo-fuzz, libFuzzer) of the parsers of untrusted input:
# the encoded-query parser, the XML body reader and the request-body reader.
#
#   fuzz/run.sh [SECONDS] [TARGET...]    each target for SECONDS (default 60), every target
#                                         when none is named: encoded_query xml_body json_body
#
# CI runs it with the default; run it longer on demand, e.g. `fuzz/run.sh 3600 xml_body`.
# Runs on the stable toolchain: `-s none` builds without a sanitizer (which would need
# nightly's -Z flags); libFuzzer's coverage instrumentation (SanitizerCoverage) is stable.
# The code fuzzed is safe Rust, so the findings that matter are panics, hangs, runaway memory
# and the targets' own assertions.
#
# Inputs: seeds/TARGET (committed, from real queries and bodies) and regressions/TARGET
# (committed: inputs that once failed) are read; new inputs go to corpus/TARGET (not committed,
# kept between runs on a machine). dictionaries/TARGET.dict, when there is one, gives libFuzzer
# the tokens of the target's syntax (-dict=). A failure leaves its input in artifacts/TARGET/, prints how
# to reproduce it (`cargo fuzz run -s none TARGET artifacts/TARGET/crash-...`) and exits
# non-zero.
set -euo pipefail
cd "$(dirname "$0")"

seconds="${1:-60}"
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(encoded_query xml_body json_body)
fi

CARGO_FUZZ_VERSION=0.13.2
if ! cargo fuzz --version 2>/dev/null | grep -q "$CARGO_FUZZ_VERSION"; then
    cargo install --locked cargo-fuzz --version "$CARGO_FUZZ_VERSION"
fi

echo "fuzz: building ${targets[*]} (release, libFuzzer coverage, no sanitizer)"
for target in "${targets[@]}"; do
    cargo fuzz build -s none "$target"
done

status=0
mkdir -p logs
for target in "${targets[@]}"; do
    mkdir -p "corpus/$target" "artifacts/$target"
    inputs=("corpus/$target" "seeds/$target")
    [ -d "regressions/$target" ] && inputs+=("regressions/$target")
    log="logs/$target.log"
    options=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1)
    [ -f "dictionaries/$target.dict" ] && options+=(-dict="dictionaries/$target.dict")
    echo "fuzz: $target for ${seconds}s"
    # -timeout: one input taking 10 s is a hang; -rss_limit_mb: 2 GB is runaway memory.
    if cargo fuzz run -s none "$target" "${inputs[@]}" -- "${options[@]}" >"$log" 2>&1; then
        grep -E '^Done|stat::new_units_added' "$log" | sed "s/^/fuzz: $target: /"
        echo "fuzz: $target: corpus $(ls "corpus/$target" | wc -l) inputs"
    else
        status=1
        echo "fuzz: $target FAILED (whole log: fuzz/$log)"
        grep -a -A4 -E 'panicked|ERROR: libFuzzer|SUMMARY|Test unit written' "$log" | cut -c1-300 | head -n 40
        echo "reproduce: (cd fuzz && cargo fuzz run -s none $target artifacts/$target/<file named above>)"
    fi
done
exit "$status"
