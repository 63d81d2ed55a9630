#!/usr/bin/env bash
# The client-library suite: real ServiceNow client libraries (pysnow, servicenow-api, pysnc,
# aiosnow, the Ansible collection servicenow.itsm) and curl against the real switchboard binary.
#
#   bash tests/clients/run.sh [pytest arguments...]
#
# Makes a virtual environment in target/clients-venv from tests/clients/requirements.txt (reused
# while requirements.txt and the Python version are unchanged), builds target/debug/switchboard
# with `cargo build` unless SWITCHBOARD_BIN names a binary, and runs pytest. Needs Python >= 3.11
# (`PYTHON` picks the interpreter, default python3) and PyPI; nothing else from the network. The
# Ansible tests read the collection from ../shared/clients/ beside the checkout (skipped without it).
set -euo pipefail
cd "$(dirname "$0")/../.."

PYTHON="${PYTHON:-python3}"
VENV="target/clients-venv"
REQUIREMENTS="tests/clients/requirements.txt"

if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    echo "tests/clients: Python >= 3.11 is needed (servicenow-api requires it); found $("$PYTHON" --version 2>&1)" >&2
    exit 1
fi

stamp="$( (cat "$REQUIREMENTS"; "$PYTHON" --version) | sha256sum | cut -d' ' -f1)"
if [[ ! -x "$VENV/bin/python" || "$(cat "$VENV/.requirements-stamp" 2>/dev/null)" != "$stamp" ]]; then
    echo "== tests/clients: creating $VENV"
    rm -rf "$VENV"
    mkdir -p target
    "$PYTHON" -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-input \
        --requirement "$REQUIREMENTS"
    echo "$stamp" > "$VENV/.requirements-stamp"
fi

if [[ -z "${SWITCHBOARD_BIN:-}" ]]; then
    # A no-op when the binary is up to date; never test a stale one.
    cargo build --quiet --bin switchboard
fi

echo "== tests/clients: pytest"
export PYTHONDONTWRITEBYTECODE=1
exec "$VENV/bin/python" -m pytest -q -p no:cacheprovider tests/clients "$@"
