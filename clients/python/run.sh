#!/usr/bin/env bash
# The Python client's own tests, then the example suite of docs/testing.md, against the binary.
#
#   bash clients/python/run.sh [pytest arguments...]
#
# Makes a virtual environment in target/python-client-venv from requirements-test.txt (reused
# while it and the Python version are unchanged), installs the client from the checkout (as a
# user would: pip install ./clients/python), builds target/debug/switchboard unless
# SWITCHBOARD_BIN names a binary, and runs both suites.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT="$(pwd)"

PYTHON="${PYTHON:-python3}"
VENV="target/python-client-venv"
REQUIREMENTS="clients/python/requirements-test.txt"

stamp="$( (cat "$REQUIREMENTS"; "$PYTHON" --version) | sha256sum | cut -d' ' -f1)"
if [[ ! -x "$VENV/bin/python" || "$(cat "$VENV/.requirements-stamp" 2>/dev/null)" != "$stamp" ]]; then
    echo "== clients/python: creating $VENV"
    rm -rf "$VENV"
    mkdir -p target
    "$PYTHON" -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-input \
        --requirement "$REQUIREMENTS"
    echo "$stamp" > "$VENV/.requirements-stamp"
fi
# Always the checkout's client (never a stale copy), installed as a user installs it; built from
# a copy under target/, so that the build leaves nothing in the checkout.
rm -rf target/python-client-src
cp -r clients/python target/python-client-src
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-input \
    --no-build-isolation --force-reinstall --no-deps ./target/python-client-src

if [[ -z "${SWITCHBOARD_BIN:-}" ]]; then
    cargo build --quiet --bin switchboard
    export SWITCHBOARD_BIN="$ROOT/target/debug/switchboard"
fi

export PYTHONDONTWRITEBYTECODE=1
echo "== clients/python: the client's tests"
"$VENV/bin/python" -m pytest -q -p no:cacheprovider clients/python/tests "$@"
echo "== docs/examples/ccaas: the example suite of docs/testing.md"
cd docs/examples/ccaas
"$ROOT/$VENV/bin/python" -m pytest -q -p no:cacheprovider "$@"
