#!/usr/bin/env bash
# Runs standin_wsx.py with the Python `websockets` that conformance.sh installs.
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
P="${WSX_PEERS_DIR:-$HERE/../../target/peers}"
exec "$P/venv-ws/bin/python" "$HERE/standin_wsx.py" "$@"
