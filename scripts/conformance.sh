#!/usr/bin/env bash
# Conformance and interop tests for the `wsx` command against real peers:
# Autobahn TestSuite (both roles), Python `websockets`, Node `ws`, headless
# Chromium, and (with --mux) mod_pywebsocket 0.7.9's multiplexing extension.
#
# Usage: scripts/conformance.sh [--full] [--mux] [--only PART]... [--install-only]
#   PART: autobahn | autobahn-server | autobahn-client | python | node | chromium | mux
#
# Environment:
#   WSX_PEERS_DIR  install cache for the peers   (default: <repo>/target/peers)
#   WSX_CONF_OUT   reports and logs               (default: <repo>/target/conformance)
#   WSX_BIN        use this binary instead of building target/release/wsx
#                  (any program with the `wsx` command contract; see
#                  scripts/peers/standin_wsx.py for a Python stand-in)
#
# Every peer is installed on first use from the package registries (PyPI, npm,
# Debian apt) and reused afterwards. A peer that cannot be installed fails the
# run; nothing is skipped silently. All traffic stays on 127.0.0.1.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
HERE="$REPO/scripts/peers"
P="${WSX_PEERS_DIR:-$REPO/target/peers}"
OUT="${WSX_CONF_OUT:-$REPO/target/conformance}"
mkdir -p "$P"
P="$(cd "$P" && pwd)"

FULL=0
MUX=0
INSTALL_ONLY=0
ONLY=()
while [ $# -gt 0 ]; do
    case "$1" in
        --full) FULL=1 ;;
        --mux) MUX=1 ;;
        --install-only) INSTALL_ONLY=1 ;;
        --only) shift; ONLY+=("${1:?--only needs a part name}") ;;
        --only=*) ONLY+=("${1#--only=}") ;;
        -h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "conformance: unknown argument: $1" >&2; exit 2 ;;
    esac
    shift
done

want() { # want PART: is PART selected?
    local part="$1" o
    if [ ${#ONLY[@]} -eq 0 ]; then
        [ "$part" != mux ] || [ "$MUX" = 1 ]
        return
    fi
    for o in "${ONLY[@]}"; do
        case "$o" in
            "$part") return 0 ;;
            autobahn) case "$part" in autobahn-server|autobahn-client) return 0 ;; esac ;;
            autobahn-server|autobahn-client|python|node|chromium|mux) ;;
            *) echo "conformance: unknown part for --only: $o" >&2; exit 2 ;;
        esac
    done
    return 1
}

log() { printf '\n=== [%s] %s\n' "$(date +%H:%M:%S)" "$*"; }
die() { echo "conformance: ERROR: $*" >&2; exit 1; }

# ---------------------------------------------------------------- processes
PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]:-}"; do
        [ -n "$pid" ] || continue
        kill -TERM "$pid" 2>/dev/null || true
    done
    sleep 0.3
    for pid in "${PIDS[@]:-}"; do
        [ -n "$pid" ] || continue
        kill -KILL "$pid" 2>/dev/null || true
    done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# stop PID: end one background process we started.
stop() {
    local pid="$1" i
    kill -TERM "$pid" 2>/dev/null || return 0
    for i in $(seq 1 50); do
        kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# wait_port PORT SECONDS: until something listens on 127.0.0.1:PORT.
wait_port() {
    python3 - "$1" "${2:-30}" <<'EOF'
import socket, sys, time
port, limit = int(sys.argv[1]), float(sys.argv[2])
end = time.time() + limit
while time.time() < end:
    try:
        socket.create_connection(("127.0.0.1", port), 0.5).close()
        sys.exit(0)
    except OSError:
        time.sleep(0.1)
sys.exit(1)
EOF
}

# ---------------------------------------------------------------- installs
PY27="$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")/versions/2.7.18/bin/python"

install_tools() { # virtualenv able to make Python 2.7 environments
    [ -x "$P/venv-tools/bin/virtualenv" ] && return 0
    log "install: virtualenv (for Python 2.7 environments)"
    rm -rf "$P/venv-tools"
    python3 -m venv "$P/venv-tools"
    "$P/venv-tools/bin/pip" install -q 'virtualenv==20.21.1'
}

install_autobahn() {
    if [ -f "$P/venv-ab/.ok" ] && "$P/venv-ab/bin/wstest" -a >/dev/null 2>&1; then return 0; fi
    [ -x "$PY27" ] || die "Python 2.7.18 not found at $PY27 (needed by Autobahn TestSuite)"
    install_tools
    log "install: Autobahn TestSuite (wstest, Python 2.7)"
    rm -rf "$P/venv-ab"
    "$P/venv-tools/bin/virtualenv" -q --app-data "$P/virtualenv-data" -p "$PY27" "$P/venv-ab"
    "$P/venv-ab/bin/pip" install -q autobahntestsuite
    "$P/venv-ab/bin/wstest" -a
    "$P/venv-ab/bin/python" -c 'import wsaccel' || die "wsaccel missing: Autobahn 12/13 would take hours"
    touch "$P/venv-ab/.ok"
}

install_pyws() {
    if [ -f "$P/venv-ws/.ok" ]; then return 0; fi
    log "install: Python websockets"
    rm -rf "$P/venv-ws"
    python3 -m venv "$P/venv-ws"
    "$P/venv-ws/bin/pip" install -q websockets
    "$P/venv-ws/bin/python" -c 'import websockets; print("websockets", websockets.__version__)'
    touch "$P/venv-ws/.ok"
}

install_node() {
    if [ -f "$P/node/.ok" ]; then return 0; fi
    command -v node >/dev/null || die "node not found"
    log "install: Node ws@8"
    rm -rf "$P/node"
    mkdir -p "$P/node"
    (cd "$P/node" && echo '{"name":"wsx-peers","private":true}' > package.json \
        && npm install --no-audit --no-fund --silent ws@8)
    node -e 'console.log("ws", require(process.argv[1]+"/node_modules/ws/package.json").version)' "$P/node"
    touch "$P/node/.ok"
}

CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
install_chromium() {
    if [ -x "$CHROMIUM" ]; then return 0; fi
    log "install: chromium (apt)"
    if [ "$(id -u)" != 0 ]; then die "chromium missing and not root: apt-get install chromium"; fi
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
    [ -x "$CHROMIUM" ] || die "chromium did not install"
}

install_modpyws() {
    if [ -f "$P/venv-modpyws/.ok" ]; then return 0; fi
    [ -x "$PY27" ] || die "Python 2.7.18 not found at $PY27 (needed by mod_pywebsocket)"
    install_tools
    log "install: mod_pywebsocket 0.7.9 (Python 2.7)"
    rm -rf "$P/venv-modpyws" "$P/src" "$P/modpyws-example"
    mkdir -p "$P/src"
    "$P/venv-tools/bin/pip" download -q mod-pywebsocket==0.7.9 --no-deps --no-binary :all: -d "$P/src"
    tar xzf "$P/src/mod_pywebsocket-0.7.9.tar.gz" -C "$P/src"
    "$P/venv-tools/bin/virtualenv" -q --app-data "$P/virtualenv-data" -p "$PY27" "$P/venv-modpyws"
    "$P/venv-modpyws/bin/pip" install -q "$P/src/mod_pywebsocket-0.7.9.tar.gz"
    cp -r "$P/src/mod_pywebsocket-0.7.9/example" "$P/modpyws-example"
    "$P/venv-modpyws/bin/python" -c 'import mod_pywebsocket.mux'
    touch "$P/venv-modpyws/.ok"
}

install_selected() {
    if want autobahn-server || want autobahn-client; then install_autobahn; fi
    if want python; then install_pyws; fi
    if want node || want chromium; then install_node; fi
    if want chromium; then install_chromium; fi
    if want mux; then install_modpyws; fi
}

install_selected
[ "$INSTALL_ONLY" = 1 ] && exit 0
#@@REST@@
