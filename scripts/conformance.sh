#!/usr/bin/env bash
# Conformance and interop tests for the `wsx` command against real peers:
# Autobahn TestSuite (both roles), Python `websockets`, Node `ws`, headless
# Chromium, mod_pywebsocket 0.7.9's deflate-frame / x-webkit-deflate-frame in
# both roles, (with --mux) mod_pywebsocket 0.7.9's multiplexing extension, and
# rooms shared by two wsx processes through a redis-server (redis-fanout).
# The python and chromium parts include subprotocol selection (`wsx serve
# --protocol chat.v2 --protocol chat.v1` against clients offering protocols).
# The drop-ins are held to programs written for what they replace:
# tokio-tungstenite 0.30's own examples built on wsx-tokio-tungstenite by a
# dependency rename (tt-dropin; Autobahn in both roles: tt-autobahn-server,
# tt-autobahn-client) and, with Chromium, its echo server and axum's
# documented handler on wsx::axum (dropin-chromium).
#
# Usage: scripts/conformance.sh [--mux] [--only PART]... [--install-only]
#   PART: autobahn | autobahn-server | autobahn-client | python | node | chromium
#         | deflate-frame | tt-dropin | tt-autobahn | tt-autobahn-server
#         | tt-autobahn-client | dropin-chromium | redis-fanout | mux
#   (autobahn = both autobahn-* parts, tt-autobahn = both tt-autobahn-* parts)
#
# Environment:
#   WSX_PEERS_DIR  install cache for the peers   (default: <repo>/target/peers)
#   WSX_CONF_OUT   reports and logs               (default: <repo>/target/conformance)
#   WSX_BIN        use this binary instead of building target/release/wsx
#                  (any program with the `wsx` command contract; see
#                  scripts/peers/standin_wsx.py for a Python stand-in)
#   WSX_AB_SERVE_FLAGS extra `wsx serve` flags for the Autobahn server run
#                  (diagnosis only)
#   WSX_AB_TIMEOUT time limit in seconds for each Autobahn run (default 2400)
#   WSX_REDIS_PROFILE cargo profile of the redis_fanout example (default dev:
#                  reuses what `cargo test` built)
#   WSX_DROPIN_PROFILE cargo profile of the axum_dropin example (default dev)
#
# Every Autobahn run covers every case (517 each). A part fails when a RESULT
# line it must produce is missing or passed nothing: a peer run that ran no
# case cannot pass.
#
# Every peer is installed on first use from the package registries (PyPI, npm,
# Debian apt: chromium, redis-server) and reused afterwards. A peer that cannot
# be installed fails the run; nothing is skipped silently. All traffic stays on
# 127.0.0.1.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
HERE="$REPO/scripts/peers"
P="${WSX_PEERS_DIR:-$REPO/target/peers}"
OUT="${WSX_CONF_OUT:-$REPO/target/conformance}"
mkdir -p "$P"
P="$(cd "$P" && pwd)"

MUX=0
INSTALL_ONLY=0
ONLY=()
while [ $# -gt 0 ]; do
    case "$1" in
        --mux) MUX=1 ;;
        --install-only) INSTALL_ONLY=1 ;;
        --only) shift; ONLY+=("${1:?--only needs a part name}") ;;
        --only=*) ONLY+=("${1#--only=}") ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
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
            tt-autobahn) case "$part" in tt-autobahn-server|tt-autobahn-client) return 0 ;; esac ;;
            autobahn-server|autobahn-client|python|node|chromium|deflate-frame|mux|tt-dropin) ;;
            tt-autobahn-server|tt-autobahn-client|dropin-chromium|redis-fanout) ;;
            *) echo "conformance: unknown part for --only: $o" >&2; exit 2 ;;
        esac
    done
    return 1
}

log() { printf '\n=== [%s] %s\n' "$(date +%H:%M:%S)" "$*"; }
die() { echo "conformance: ERROR: $*" >&2; exit 1; }

# ---------------------------------------------------------------- processes
# Every process this script starts is a descendant of it; on exit, end them
# all by pid (deepest first), never by name.
descendants() {
    local c
    for c in $(pgrep -P "$1" 2>/dev/null || true); do
        descendants "$c"
        echo "$c"
    done
}
kill_tree() {
    local root="$1" pids
    pids="$(descendants "$root")"
    [ -n "$pids" ] || return 0
    # shellcheck disable=SC2086
    kill -TERM $pids 2>/dev/null || true
    sleep 0.5
    pids="$(descendants "$root")"
    # shellcheck disable=SC2086
    [ -z "$pids" ] || kill -KILL $pids 2>/dev/null || true
}
trap 'kill_tree $$' EXIT
trap 'exit 130' INT TERM

# stop PID: end one background process we started.
stop() {
    local pid="$1"
    kill -TERM "$pid" 2>/dev/null || return 0
    for _ in $(seq 1 50); do
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

REDIS_SERVER="${REDIS_SERVER:-/usr/bin/redis-server}"
install_redis() {
    if [ -x "$REDIS_SERVER" ]; then return 0; fi
    log "install: redis-server (apt)"
    if [ "$(id -u)" != 0 ]; then die "redis-server missing and not root: apt-get install redis-server"; fi
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    # RUNLEVEL=1: the package's own service is not started (the part starts
    # its redis-server on a free port).
    RUNLEVEL=1 DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
    [ -x "$REDIS_SERVER" ] || die "redis-server did not install"
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


# ---------------------------------------------------------------- the wsx binary
WSX=""
resolve_wsx() {
    if [ -n "${WSX_BIN:-}" ]; then
        WSX="$(command -v "$WSX_BIN" || true)"
        [ -n "$WSX" ] && [ -x "$WSX" ] || die "WSX_BIN=$WSX_BIN is not an executable"
        log "using WSX_BIN=$WSX"
        return
    fi
    log "cargo build --release -p wsx-cli"
    (cd "$REPO" && cargo build --release -p wsx-cli --bin wsx) || die "cargo build --release -p wsx-cli failed"
    WSX="${CARGO_TARGET_DIR:-$REPO/target}/release/wsx"
    [ -x "$WSX" ] || die "$WSX missing after build"
}

# start_serve LOGFILE [wsx serve flags...]: sets SERVE_PID and SERVE_PORT.
start_serve() {
    local logf="$1" port=""
    shift
    "$WSX" serve --listen 127.0.0.1:0 "$@" >"$logf" 2>&1 &
    SERVE_PID=$!
    for _ in $(seq 1 300); do
        port="$(sed -n 's#^listening on wss\{0,1\}://[^ ]*:\([0-9][0-9]*\)[[:space:]]*$#\1#p' "$logf" | head -n1)"
        [ -n "$port" ] && break
        kill -0 "$SERVE_PID" 2>/dev/null || break
        sleep 0.1
    done
    if [ -z "$port" ]; then
        echo "wsx serve did not print 'listening on ws://IP:PORT'; its output:" >&2
        tail -n 20 "$logf" >&2 || true
        return 1
    fi
    SERVE_PORT="$port"
}

# ---------------------------------------------------------------- parts
# Each part runs in its own subshell, logs to $OUT/<part>.log and leaves
# `RESULT<TAB>peer<TAB>role<TAB>passed<TAB>failed` lines in $OUT/<part>.result.

# Every part must leave the RESULT lines listed here (peer<TAB>role<TAB>least
# passed); scripts/peers/check_results.py fails a missing line, and a line
# that passed fewer (0 always fails).
AB_CASES=517
expected_results() {
    case "$1" in
        autobahn-server) printf 'autobahn\tfuzzingclient -> wsx serve\t%s\n' "$AB_CASES" ;;
        autobahn-client) printf 'autobahn\twsx autobahn-client -> fuzzingserver\t%s\n' "$AB_CASES" ;;
        python) printf '%s\n' \
            $'raw\thandshake probes -> wsx serve\t1' \
            $'python\tsubprotocols -> wsx serve --protocol\t1' \
            $'python\tclient -> wsx serve\t1' \
            $'python\twsx client -> server\t1' \
            $'python\thibernation: client -> wsx serve\t1' ;;
        node) printf '%s\n' \
            $'node\tclient -> wsx serve\t1' \
            $'node\twsx client -> server\t1' \
            $'node\thibernation: client -> wsx serve\t1' \
            $'node\t'"$BCAST_LABEL"$'\t28' \
            $'node\t'"$BCAST_LABEL --deflate-level 6 --broadcast-cohorts 2"$'\t28' ;;
        chromium) printf '%s\n' \
            $'chromium\ttest page -> wsx serve\t1' \
            $'chromium\tdemo page (GET /)\t1' \
            $'chromium\tsubprotocols -> wsx serve --protocol\t1' ;;
        deflate-frame) printf '%s\n' \
            $'mod_pywebsocket\twsx client --deflate-frame -> standalone /echo\t7' \
            $'mod_pywebsocket\twsx client --deflate-frame --server-no-context-takeover --client-no-context-takeover -> standalone /echo\t7' \
            $'mod_pywebsocket\tmodpyws client (deflate-frame) -> wsx serve --deflate-frame\t16' \
            $'mod_pywebsocket\tmodpyws client (x-webkit-deflate-frame) -> wsx serve --deflate-frame\t16' \
            $'mod_pywebsocket\tmodpyws client (deflate-frame; no_context_takeover) -> wsx serve --deflate-frame\t16' \
            $'mod_pywebsocket\techo_client.py --deflate-frame -> wsx serve --deflate-frame\t4' \
            $'wsx\twsx serve --deflate-frame log: accepted names\t4' \
            $'mod_pywebsocket\tmodpyws client (x-webkit-deflate-frame) -> wsx serve --deflate-frame --client-no-context-takeover\t16' \
            $'wsx\twsx serve --deflate-frame --client-no-context-takeover log: accepted names\t2' ;;
        tt-dropin) printf '%s\n' \
            $'rust\twsx-tokio-tungstenite examples build\t1' \
            $'rust\ttokio-tungstenite 0.30 examples build unchanged (renamed dependency)\t8' \
            $'python\ttokio-tungstenite echo-server (wsx-tokio-tungstenite) <- client\t1' \
            $'python\ttokio-tungstenite client (wsx-tokio-tungstenite) -> server\t1' \
            $'python\ttokio-tungstenite 0.30 example echo-server (renamed dependency) <- client\t1' \
            $'python\ttokio-tungstenite 0.30 example server (chat; renamed dependency) <- clients\t1' \
            $'node\ttokio-tungstenite echo-server (wsx-tokio-tungstenite) <- client\t1' \
            $'node\ttokio-tungstenite client (wsx-tokio-tungstenite) -> server\t1' \
            $'node\ttokio-tungstenite 0.30 example echo-server (renamed dependency) <- client\t1' ;;
        tt-autobahn-server) printf 'autobahn\t%s\t%s\n' "$TT_AB_SERVER_ROLE" "$AB_CASES" ;;
        tt-autobahn-client) printf 'autobahn\t%s\t%s\n' "$TT_AB_CLIENT_ROLE" "$AB_CASES" ;;
        dropin-chromium) printf '%s\n' \
            $'chromium\t'"$DROPIN_TT_ROLE"$'\t'"$CHROMIUM_TEST_PAGE_CHECKS" \
            $'rust\taxum_dropin example build\t1' \
            $'chromium\t'"$DROPIN_AXUM_ROLE"$'\t'"$CHROMIUM_TEST_PAGE_CHECKS" ;;
        redis-fanout) printf '%s\n' \
            $'redis\tredis_fanout example build\t1' \
            $'redis\t'"$REDIS_ROOM_LABEL"$'\t'"$(( 4 * (REDIS_N + 1) + 5 ))" \
            $'redis\t'"$REDIS_ACROSS_LABEL"$'\t8' \
            $'redis\tprocess A stats: compressed once per process, all shared, nothing lost\t1' \
            $'redis\tprocess B stats: compressed once per process, all shared, nothing lost\t1' ;;
        mux) printf '%s\n' \
            $'mod_pywebsocket\tcargo test --test mux pywebsocket_interop\t1' \
            $'mod_pywebsocket\twsx client --mux -> standalone /echo\t4' ;;
        *) die "no expected results for part $1" ;;
    esac
}

# ab_fuzzingclient DIR AGENT URL: wstest's fuzzingclient, every case,
# against the server AGENT at URL (spec and logs in DIR), within
# WSX_AB_TIMEOUT; says so when it times out or fails.
ab_fuzzingclient() {
    local d="$1" rc=0 limit="${WSX_AB_TIMEOUT:-2400}"
    cat >"$d/spec.json" <<EOF
{ "options": {"failByDrop": false}, "outdir": "./reports",
  "servers": [{"agent": "$2", "url": "$3"}],
  "cases": ["*"], "exclude-cases": [], "exclude-agent-cases": {} }
EOF
    (cd "$d" && timeout "$limit" "$P/venv-ab/bin/wstest" -m fuzzingclient -s spec.json) >"$d/wstest.log" 2>&1 || rc=$?
    if [ $rc = 124 ]; then
        echo "wstest fuzzingclient hit the time limit of $limit s (WSX_AB_TIMEOUT); it writes its reports only at the end, so every case counts as missing. Last case started: $(grep 'Running test case' "$d/wstest.log" | tail -n 1)"
    elif [ $rc != 0 ]; then
        echo "wstest exited $rc (see $d/wstest.log)"
    fi
}

# ab_fuzzingserver DIR PORT: wstest's fuzzingserver, every case, on
# 127.0.0.1:PORT in the background (its pid in AB_PID; spec and log in
# DIR); returns 1 if it does not listen within 60 s.
ab_fuzzingserver() {
    local d="$1"
    cat >"$d/spec.json" <<EOF
{ "options": {"failByDrop": false}, "outdir": "./reports",
  "url": "ws://127.0.0.1:$2",
  "cases": ["*"], "exclude-cases": [], "exclude-agent-cases": {} }
EOF
    (cd "$d" && exec "$P/venv-ab/bin/wstest" -m fuzzingserver -s spec.json -u 0) >"$d/wstest.log" 2>&1 &
    AB_PID=$!
    wait_port "$2" 60 && kill -0 "$AB_PID" 2>/dev/null
}

# ab_client_exit NAME RC CLIENT_LOG DIR: says why the Autobahn client NAME
# failed (exit status RC of its run under WSX_AB_TIMEOUT).
ab_client_exit() {
    if [ "$2" = 124 ]; then
        echo "$1 hit the time limit of ${WSX_AB_TIMEOUT:-2400} s (WSX_AB_TIMEOUT); last case started: $(grep 'Running test case' "$4/wstest.log" | tail -n 1)"
    elif [ "$2" != 0 ]; then
        echo "$1 exited $2; last lines:"
        tail -n 15 "$3"
    fi
}

# ab_results DIR AGENT ROLE RESULT_FILE: checks the reports of DIR's run for
# AGENT (peers/ab_check.py) and writes its RESULT lines to RESULT_FILE.
ab_results() {
    "$P/venv-ab/bin/python" "$HERE/ab_check.py" "$1/spec.json" "$2" autobahn "$3" | tee "$1/check.txt" || true
    grep '^RESULT' "$1/check.txt" >"$4"
}

part_autobahn_server() {
    install_autobahn
    local d="$OUT/autobahn-server"
    rm -rf "$d" && mkdir -p "$d"
    # shellcheck disable=SC2086
    start_serve "$d/wsx-serve.log" ${WSX_AB_SERVE_FLAGS:-}
    log "autobahn fuzzingclient -> wsx serve ${WSX_AB_SERVE_FLAGS:-}on port $SERVE_PORT (all cases; 10-20 min)"
    ab_fuzzingclient "$d" wsx "ws://127.0.0.1:$SERVE_PORT"
    kill -0 "$SERVE_PID" 2>/dev/null || echo "NOTE: wsx serve is no longer running after the run (crashed?); see $d/wsx-serve.log"
    stop "$SERVE_PID"
    ab_results "$d" wsx "fuzzingclient -> wsx serve" "$OUT/autobahn-server.result"
}

part_autobahn_client() {
    install_autobahn
    local d="$OUT/autobahn-client" port rc=0
    rm -rf "$d" && mkdir -p "$d"
    port="$(free_port)"
    ab_fuzzingserver "$d" "$port" || { tail "$d/wstest.log"; die "wstest fuzzingserver did not listen on $port"; }
    log "autobahn fuzzingserver on port $port <- wsx autobahn-client (all cases; 10-20 min)"
    timeout "${WSX_AB_TIMEOUT:-2400}" "$WSX" autobahn-client --url "ws://127.0.0.1:$port" --agent wsx >"$d/wsx-client.log" 2>&1 || rc=$?
    ab_client_exit "wsx autobahn-client" $rc "$d/wsx-client.log" "$d"
    sleep 1
    stop "$AB_PID"
    ab_results "$d" wsx "wsx autobahn-client -> fuzzingserver" "$OUT/autobahn-client.result"
    [ $rc = 0 ] || printf 'RESULT\tautobahn\twsx autobahn-client exit status\t0\t1\n' >> "$OUT/autobahn-client.result"
}

part_python() {
    install_pyws
    "$P/venv-ws/bin/python" "$HERE/interop.py" --wsx "$WSX" --peer python | tee "$OUT/python.out" || true
    "$P/venv-ws/bin/python" "$HERE/hibernate_check.py" --wsx "$WSX" --peer python \
        | tee -a "$OUT/python.out" || true
    grep '^RESULT' "$OUT/python.out" > "$OUT/python.result"
}

part_node() {
    install_pyws
    install_node
    NODE_PATH="$P/node/node_modules" "$P/venv-ws/bin/python" "$HERE/interop.py" --wsx "$WSX" --peer node \
        | tee "$OUT/node.out" || true
    NODE_PATH="$P/node/node_modules" "$P/venv-ws/bin/python" "$HERE/hibernate_check.py" --wsx "$WSX" --peer node \
        | tee -a "$OUT/node.out" || true
    # Broadcast cohorts: websockets and ws members joining a room in waves
    # (peers/broadcast_check.py), at the default policy and at level 6 with
    # at most 2 cohorts (so that the third wave merges two).
    local flags
    for flags in "" "--deflate-level 6 --broadcast-cohorts 2"; do
        # shellcheck disable=SC2086
        NODE_PATH="$P/node/node_modules" timeout 300 "$P/venv-ws/bin/python" "$HERE/broadcast_check.py" \
            --wsx "$WSX" --flags "$flags" --label "$BCAST_LABEL${flags:+ $flags}" \
            | tee -a "$OUT/node.out" || true
    done
    grep '^RESULT' "$OUT/node.out" > "$OUT/node.result"
}

part_chromium() {
    install_node
    install_chromium
    local d="$OUT/chromium"
    rm -rf "$d" && mkdir -p "$d"
    # The subprotocols the server accepts, in its order of preference; the
    # pages that offer none are unaffected.
    start_serve "$d/wsx-serve.log" --protocol chat.v2 --protocol chat.v1
    NODE_PATH="$P/node/node_modules" node "$HERE/chromium_test.js" \
        --chromium "$CHROMIUM" --ws-port "$SERVE_PORT" --out "$d" --protocols chat.v2,chat.v1 \
        | tee "$d/result.txt" || true
    stop "$SERVE_PID"
    grep '^RESULT' "$d/result.txt" > "$OUT/chromium.result"
}

part_mux() {
    install_modpyws
    local d="$OUT/mux" rc=0
    rm -rf "$d" && mkdir -p "$d"
    start_modpyws "$d"
    local p=0 f=0 trc=0
    # 1. the engine's own interop test (integration/tests/mux.rs, #[ignore]d in
    #    plain `cargo test` because it needs this server)
    (cd "$REPO" && WSX_MODPYWS_URL="ws://127.0.0.1:$MODPYWS_PORT/echo" timeout 900 \
        cargo test -p wsx --test mux -- --ignored --exact pywebsocket_interop) >"$d/cargo-test.log" 2>&1 || trc=$?
    if [ $trc = 0 ] && grep -q '^test result: ok. 1 passed' "$d/cargo-test.log"; then
        printf 'RESULT\tmod_pywebsocket\tcargo test --test mux pywebsocket_interop\t1\t0\n' > "$OUT/mux.result"
    else
        echo "FAIL cargo test -p wsx --test mux -- --ignored pywebsocket_interop (exit $trc):"
        grep -v '^\s*Compiling\|^\s*Running' "$d/cargo-test.log" | tail -n 25
        printf 'RESULT\tmod_pywebsocket\tcargo test --test mux pywebsocket_interop\t0\t1\n' > "$OUT/mux.result"
    fi
    # 2. the command: wsx client --mux
    # mod_pywebsocket never echoes an empty message, so no empty lines here.
    printf 'hello mux\n%s\nlast line\n' "$(head -c 3000 /dev/zero | tr '\0' 'm')" >"$d/in.txt"
    local skip
    skip="$(wc -l < "$d/modpyws.log")"
    timeout 60 "$WSX" client --mux "ws://127.0.0.1:$MODPYWS_PORT/echo" <"$d/in.txt" >"$d/out.txt" 2>"$d/err.txt" || rc=$?
    stop "$MODPYWS_PID"
    if [ $rc = 0 ]; then p=$((p+1)); else f=$((f+1)); echo "FAIL wsx client --mux exited $rc: $(tail -c 600 "$d/err.txt")"; fi
    if cmp -s "$d/in.txt" "$d/out.txt"; then p=$((p+1)); else f=$((f+1)); echo "FAIL mux echo differs (see $d/out.txt)"; fi
    # (no `grep -q` behind a pipe: with pipefail, grep leaving early makes
    # tail die of SIGPIPE once the log is longer than one pipe write)
    if tail -n +"$((skip + 1))" "$d/modpyws.log" | grep "Extensions accepted: .*mux_DO_NOT_USE" >/dev/null; then p=$((p+1)); else f=$((f+1)); echo "FAIL mod_pywebsocket did not accept mux_DO_NOT_USE: $(grep 'Extensions requested' "$d/modpyws.log" | head -n 2)"; fi
    if grep -qi 'mux' "$d/err.txt"; then p=$((p+1)); else f=$((f+1)); echo "FAIL wsx stderr does not report the mux extension: $(head -c 400 "$d/err.txt")"; fi
    printf 'RESULT\tmod_pywebsocket\twsx client --mux -> standalone /echo\t%d\t%d\n' $p $f >> "$OUT/mux.result"
}

# tt-dropin: tokio-tungstenite programs on wsx-tokio-tungstenite (a dependency
# rename only): the crate's examples and tokio-tungstenite 0.30's own
# examples, unchanged, built against it and run against Python websockets and
# Node ws, which must negotiate permessage-deflate (scripts/peers/tt_dropin.sh).
part_tt_dropin() {
    install_pyws
    install_node
    "$HERE/tt_dropin.sh" --peers "$P" --out "$OUT/tt-dropin" | tee "$OUT/tt-dropin.out" || true
    grep '^RESULT' "$OUT/tt-dropin.out" > "$OUT/tt-dropin.result"
}

# tt-autobahn-server, tt-autobahn-client: Autobahn TestSuite, every case
# (12.x and 13.x included: wsx-tokio-tungstenite negotiates permessage-deflate
# by default, as server and as client), against tokio-tungstenite 0.30's own
# autobahn-server and autobahn-client examples, their sources unchanged,
# built on wsx-tokio-tungstenite by the dependency rename (main builds them
# once, with peers/tt_dropin.sh --build-only, before any part runs).
# Cases pass as in autobahn-server / autobahn-client (peers/ab_check.py).
# The examples' addresses are in their sources: the server listens on
# 127.0.0.1:9002, the client looks for the fuzzingserver at localhost:9001
# and reports as agent "Tungstenite". A port already taken fails the part.
TT_AB_SERVER_ROLE='fuzzingclient -> tokio-tungstenite 0.30 example autobahn-server (renamed dependency)'
TT_AB_CLIENT_ROLE='tokio-tungstenite 0.30 example autobahn-client (renamed dependency) -> fuzzingserver'
TT_AB_SERVER_PORT=9002
TT_AB_CLIENT_PORT=9001
TT_BUILD_ROLE='tokio-tungstenite 0.30 examples build unchanged (renamed dependency)'
TT_EX="${CARGO_TARGET_DIR:-$REPO/target}/release/examples"

# build_tt_upstream: tokio-tungstenite 0.30's examples with the renamed
# dependency, into $TT_EX/tt-upstream-NAME (the scratch crate is the
# tt-dropin part's, which then finds them built).
build_tt_upstream() {
    log "build tokio-tungstenite 0.30's examples on wsx-tokio-tungstenite (peers/tt_dropin.sh --build-only)"
    "$HERE/tt_dropin.sh" --peers "$P" --out "$OUT/tt-dropin" --build-only >"$OUT/tt-upstream-build.log" 2>&1 \
        || grep -v '^PASS' "$OUT/tt-upstream-build.log" || true
}

# tt_example NAME: sets TT_BIN to tokio-tungstenite's example NAME as
# build_tt_upstream built it in this run; else says why and returns 1.
tt_example() {
    TT_BIN="$TT_EX/tt-upstream-$1"
    if grep -F "PASS rust | $TT_BUILD_ROLE | $1" "$OUT/tt-upstream-build.log" >/dev/null 2>&1 \
            && [ -x "$TT_BIN" ]; then
        return 0
    fi
    echo "FAIL tokio-tungstenite's example $1 did not build on wsx-tokio-tungstenite (see $OUT/tt-upstream-build.log)"
    return 1
}

# port_taken PORT: does something accept connections on 127.0.0.1:PORT?
port_taken() { wait_port "$1" 0.2; }

# tt_ab_start DIR RESULT_FILE ROLE EXAMPLE PORT WHOSE: the start of both
# tt-autobahn parts: a fresh DIR, a failing RESULT for ROLE until the
# checker replaces it, tokio-tungstenite's EXAMPLE built (TT_BIN) and its
# fixed PORT (WHOSE address it is) free; else says why and returns 1.
tt_ab_start() {
    rm -rf "$1" && mkdir -p "$1"
    printf 'RESULT\tautobahn\t%s\t0\t1\n' "$3" >"$2"
    tt_example "$4" || return 1
    if port_taken "$5"; then
        echo "FAIL 127.0.0.1:$5 ($6) is taken by another program"
        return 1
    fi
}

part_tt_autobahn_server() {
    install_autobahn
    local d="$OUT/tt-autobahn-server" res="$OUT/tt-autobahn-server.result" port="$TT_AB_SERVER_PORT"
    local pid
    tt_ab_start "$d" "$res" "$TT_AB_SERVER_ROLE" autobahn-server "$port" \
        "the address in the autobahn-server example's source" || return 0
    RUST_LOG=info "$TT_BIN" >"$d/server.log" 2>&1 &
    pid=$!
    if ! wait_log "$d/server.log" "Listening on: 127.0.0.1:$port" 1 30 || ! kill -0 "$pid" 2>/dev/null; then
        echo "FAIL the autobahn-server example did not listen on 127.0.0.1:$port; its log:"
        tail -n 20 "$d/server.log"
        return 0
    fi
    log "autobahn fuzzingclient -> tokio-tungstenite 0.30's autobahn-server example on port $port (all cases; 10-20 min)"
    ab_fuzzingclient "$d" tokio-tungstenite-autobahn-server "ws://127.0.0.1:$port"
    kill -0 "$pid" 2>/dev/null || echo "NOTE: the autobahn-server example is no longer running after the run (crashed?); see $d/server.log"
    stop "$pid"
    ab_results "$d" tokio-tungstenite-autobahn-server "$TT_AB_SERVER_ROLE" "$res" || true
}

part_tt_autobahn_client() {
    install_autobahn
    local d="$OUT/tt-autobahn-client" res="$OUT/tt-autobahn-client.result" port="$TT_AB_CLIENT_PORT"
    local rc=0
    tt_ab_start "$d" "$res" "$TT_AB_CLIENT_ROLE" autobahn-client "$port" \
        "the fuzzingserver address in the autobahn-client example's source" || return 0
    if ! ab_fuzzingserver "$d" "$port"; then
        echo "FAIL wstest fuzzingserver did not listen on $port:"
        tail -n 20 "$d/wstest.log"
        return 0
    fi
    log "autobahn fuzzingserver on port $port <- tokio-tungstenite 0.30's autobahn-client example (all cases; 15-25 min)"
    RUST_LOG=info timeout "${WSX_AB_TIMEOUT:-2400}" "$TT_BIN" >"$d/client.log" 2>&1 || rc=$?
    ab_client_exit "the autobahn-client example" $rc "$d/client.log" "$d"
    sleep 1
    stop "$AB_PID"
    ab_results "$d" Tungstenite "$TT_AB_CLIENT_ROLE" "$res" || true
    [ $rc = 0 ] || printf 'RESULT\tautobahn\ttokio-tungstenite 0.30 example autobahn-client exit status\t0\t1\n' >>"$res"
}

# dropin-chromium: headless Chromium's test page (peers/chromium_test.js
# --pages test: text and binary of 0 B..1 MiB echoed byte-exact,
# permessage-deflate in ws.extensions and in the 101 seen on the network,
# clean close 1000) against the drop-ins' plain echo servers:
#  a. tokio-tungstenite 0.30's own echo-server example, unchanged, on
#     wsx-tokio-tungstenite by the dependency rename;
#  b. integration/examples/axum_dropin.rs: axum 0.8's documented echo
#     handler with its `use` line moved to wsx::axum (dev profile with
#     features axum,hyper, as CI's axum_compat test builds wsx;
#     WSX_DROPIN_PROFILE=release for an optimised build).
DROPIN_TT_ROLE='test page -> tokio-tungstenite 0.30 example echo-server (renamed dependency)'
DROPIN_AXUM_ROLE='test page -> axum 0.8 documented echo handler on wsx::axum (example axum_dropin)'
# The test page's checks: ws.extensions, the 101 on the network, 41
# messages, the clean close.
CHROMIUM_TEST_PAGE_CHECKS=44

# chromium_test_page DIR PORT PATH ROLE RESULT_FILE
chromium_test_page() {
    NODE_PATH="$P/node/node_modules" node "$HERE/chromium_test.js" --chromium "$CHROMIUM" \
        --ws-port "$2" --ws-path "$3" --pages test --group "$4" --out "$1" \
        | tee "$1/result.txt" || true
    grep '^RESULT' "$1/result.txt" >>"$5" || true
}

part_dropin_chromium() {
    install_node
    install_chromium
    local d="$OUT/dropin-chromium" res="$OUT/dropin-chromium.result" pid port
    local profile="${WSX_DROPIN_PROFILE:-dev}" dir=debug bin
    rm -rf "$d" && mkdir -p "$d/tt" "$d/axum"
    : >"$res"

    # a. tokio-tungstenite's echo-server (its address is its first argument;
    # it logs "Listening on: ADDR" once bound. Not wait_port: the example
    # panics, in that connection's task, on a connection that is not a
    # WebSocket handshake)
    if tt_example echo-server; then
        port="$(free_port)"
        RUST_LOG=info "$TT_BIN" "127.0.0.1:$port" >"$d/tt/server.log" 2>&1 &
        pid=$!
        if wait_log "$d/tt/server.log" "Listening on: 127.0.0.1:$port" 1 30 && kill -0 "$pid" 2>/dev/null; then
            log "chromium test page -> tokio-tungstenite's echo-server example on port $port"
            chromium_test_page "$d/tt" "$port" / "$DROPIN_TT_ROLE" "$res"
        else
            echo "FAIL the echo-server example did not listen on 127.0.0.1:$port; its log:"
            tail -n 20 "$d/tt/server.log"
        fi
        kill -0 "$pid" 2>/dev/null || echo "NOTE: the echo-server example is no longer running (crashed?); see $d/tt/server.log"
        stop "$pid"
    fi

    # b. axum's documented handler on wsx::axum
    [ "$profile" != release ] || dir=release
    log "cargo build --profile $profile -p wsx --features axum,hyper --example axum_dropin"
    if (cd "$REPO" && cargo build --profile "$profile" -p wsx --features axum,hyper --example axum_dropin) \
            >"$d/axum/build.log" 2>&1; then
        printf 'RESULT\trust\taxum_dropin example build\t1\t0\n' >>"$res"
    else
        echo "FAIL building the axum_dropin example:"
        tail -n 25 "$d/axum/build.log"
        printf 'RESULT\trust\taxum_dropin example build\t0\t1\n' >>"$res"
        return 0
    fi
    bin="${CARGO_TARGET_DIR:-$REPO/target}/$dir/examples/axum_dropin"
    "$bin" 0 >"$d/axum/server.out" 2>"$d/axum/server.err" &
    pid=$!
    port=""
    for _ in $(seq 1 300); do
        port="$(sed -n 's#^listening on ws://127\.0\.0\.1:\([0-9][0-9]*\)/ws$#\1#p' "$d/axum/server.out" | head -n1)"
        [ -n "$port" ] && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if [ -n "$port" ]; then
        log "chromium test page -> axum_dropin on port $port"
        chromium_test_page "$d/axum" "$port" /ws "$DROPIN_AXUM_ROLE" "$res"
    else
        echo "FAIL axum_dropin did not print 'listening on ws://127.0.0.1:PORT/ws'; its output:"
        tail -n 20 "$d/axum/server.out" "$d/axum/server.err"
    fi
    kill -0 "$pid" 2>/dev/null || echo "NOTE: axum_dropin is no longer running (crashed?); see $d/axum/server.err"
    stop "$pid"
}

# start_modpyws DIR: mod_pywebsocket 0.7.9 standalone server with the example
# handlers (ws://127.0.0.1:PORT/echo); sets MODPYWS_PID and MODPYWS_PORT.
start_modpyws() {
    local d="$1"
    MODPYWS_PORT="$(free_port)"
    "$P/venv-modpyws/bin/python" -m mod_pywebsocket.standalone -H 127.0.0.1 -p "$MODPYWS_PORT" \
        -d "$P/modpyws-example" -w "$P/modpyws-example" --log-level debug >"$d/modpyws.log" 2>&1 &
    MODPYWS_PID=$!
    wait_port "$MODPYWS_PORT" 30 || { tail "$d/modpyws.log"; die "mod_pywebsocket did not start"; }
}

# deflate-frame: the legacy per-frame extension against mod_pywebsocket 0.7.9's
# DeflateFrameExtensionProcessor, in both roles (issue 15):
#  1. `wsx client --deflate-frame` -> the standalone server's /echo: echo byte
#     for byte, pywebsocket's log shows deflate-frame accepted with the offered
#     parameters and frames from wsx arriving compressed (it logs "Incoming
#     compress ratio" only for data frames with RSV1), stderr reports it;
#  2. peers/modpyws_dframe.py, a client made of mod_pywebsocket's own
#     handshake parsing, DeflateFrameExtensionProcessor and Stream (its
#     example/echo_client.py can offer only a bare deflate-frame), ->
#     `wsx serve --deflate-frame`: deflate-frame, x-webkit-deflate-frame,
#     no_context_takeover either way, compressed and fragmented messages, RSV1
#     and sizes of wsx's echoes on the wire; wsx's log names each extension;
#     and the stock echo_client.py --deflate-frame (echoes, RSV1 echoes, close).
# Never max_window_bits with mod_pywebsocket 0.7.9: it passes the parameter's
# string to zlib and fails on its first compressed frame (in either role).
part_deflate_frame() {
    install_modpyws
    local d="$OUT/deflate-frame" res="$OUT/deflate-frame.result"
    local py="$P/venv-modpyws/bin/python" p f rc skip run flags nct n min want msgs
    rm -rf "$d" && mkdir -p "$d"
    : >"$res"
    # mod_pywebsocket never echoes an empty message, so no empty lines here.
    local long
    long="$(python3 -c 'print("".join("{\"id\": %d, \"ext\": \"deflate-frame\"} " % i for i in range(150)))')"
    printf 'hello deflate-frame\n%s\n%s\nκόσμε ☃\nlast line\n' "$long" "$long" >"$d/in.txt"

    # 1. wsx client -> mod_pywebsocket standalone
    start_modpyws "$d"
    run=0
    for flags in "" "--server-no-context-takeover --client-no-context-takeover"; do
        run=$((run + 1)); p=0; f=0; rc=0
        nct=False; [ -z "$flags" ] || nct=True
        skip="$(wc -l <"$d/modpyws.log")"
        # shellcheck disable=SC2086
        timeout 60 "$WSX" client --deflate-frame $flags "ws://127.0.0.1:$MODPYWS_PORT/echo" \
            <"$d/in.txt" >"$d/out$run.txt" 2>"$d/err$run.txt" || rc=$?
        sleep 0.3
        tail -n +"$((skip + 1))" "$d/modpyws.log" >"$d/modpyws-run$run.log"
        if [ $rc = 0 ]; then p=$((p+1)); else f=$((f+1)); echo "FAIL [$run] wsx client --deflate-frame $flags exited $rc: $(tail -c 600 "$d/err$run.txt")"; fi
        if cmp -s "$d/in.txt" "$d/out$run.txt"; then p=$((p+1)); else f=$((f+1)); echo "FAIL [$run] echo differs (see $d/out$run.txt)"; fi
        if grep -F "Extensions accepted: ['deflate-frame']" "$d/modpyws-run$run.log" >/dev/null; then p=$((p+1)); else f=$((f+1)); echo "FAIL [$run] mod_pywebsocket did not accept deflate-frame: $(grep -m 2 'Extensions requested' "$d/modpyws-run$run.log")"; fi
        if grep -F "Enable deflate-frame extension (request: window_bits=None; no_context_takeover=$nct," "$d/modpyws-run$run.log" >/dev/null; then p=$((p+1)); else f=$((f+1)); echo "FAIL [$run] mod_pywebsocket did not see no_context_takeover=$nct in the offer: $(grep -m 1 'Enable deflate-frame' "$d/modpyws-run$run.log")"; fi
        if grep -x 'extensions: deflate-frame' "$d/err$run.txt" >/dev/null; then p=$((p+1)); else f=$((f+1)); echo "FAIL [$run] wsx stderr does not report deflate-frame: $(head -c 400 "$d/err$run.txt")"; fi
        # wsx -> pywebsocket: the two long lines must arrive as RSV1 frames a
        # fraction of their size (wire bytes / payload bytes).
        n="$(grep -c 'Incoming compress ratio: ' "$d/modpyws-run$run.log" || true)"
        min="$(sed -n 's/.*Incoming compress ratio: \([0-9.]*\) .*/\1/p' "$d/modpyws-run$run.log" | sort -g | sed -n 1p)"
        if [ "${n:-0}" -ge 2 ] && python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) < 0.25 else 1)' "${min:-1}"; then
            p=$((p+1)); echo "PASS [$run] $n frames from wsx arrived compressed (RSV1), best wire/payload ratio $min"
        else
            f=$((f+1)); echo "FAIL [$run] frames from wsx with RSV1: $n (need 2), best ratio ${min:-none} (need < 0.25)"
        fi
        # pywebsocket -> wsx: it compresses every frame it sends; the exact
        # echo above means wsx inflated them.
        n="$(grep -c 'Outgoing compress ratio: ' "$d/modpyws-run$run.log" || true)"
        if [ "${n:-0}" -ge 5 ]; then p=$((p+1)); else f=$((f+1)); echo "FAIL [$run] mod_pywebsocket sent $n compressed frames (want one per line, 5)"; fi
        printf 'RESULT\tmod_pywebsocket\twsx client --deflate-frame %s-> standalone /echo\t%d\t%d\n' \
            "${flags:+$flags }" $p $f >>"$res"
    done
    stop "$MODPYWS_PID"

    # 2. mod_pywebsocket client -> wsx serve --deflate-frame
    local offer out label
    run=0
    for flags in "" "--client-no-context-takeover"; do
        run=$((run + 1))
        # shellcheck disable=SC2086
        if ! RUST_LOG=wsx=debug start_serve "$d/wsx-serve$run.log" --deflate-frame $flags; then
            printf 'RESULT\twsx\twsx serve --deflate-frame%s did not start\t0\t1\n' "${flags:+ $flags}" >>"$res"
            continue
        fi
        local offers=("deflate-frame" "x-webkit-deflate-frame" "deflate-frame; no_context_takeover")
        [ -z "$flags" ] || offers=("x-webkit-deflate-frame")
        for offer in "${offers[@]}"; do
            label="modpyws client ($offer) -> wsx serve --deflate-frame${flags:+ $flags}"
            out="$d/modpyws-client$run-${offer%%;*}.txt"
            timeout 120 "$py" "$HERE/modpyws_dframe.py" --port "$SERVE_PORT" --offer "$offer" \
                --label "$label" >"$out" 2>&1 || true
            grep -v '^RESULT' "$out" || true
            if grep '^RESULT' "$out" >/dev/null; then
                grep '^RESULT' "$out" >>"$res"
            else
                printf 'RESULT\tmod_pywebsocket\t%s (no result: see %s)\t0\t1\n' "$label" "$out" >>"$res"
            fi
        done
        if [ -z "$flags" ]; then
            # mod_pywebsocket's stock example/echo_client.py --deflate-frame too
            # (comma-separated messages, so the long one has none).
            msgs="hello deflate-frame,$(printf '%s' "$long" | tr ',' ';'),$(printf '%s' "$long" | tr ',' ';'),last"
            p=0; f=0; rc=0
            timeout 60 "$py" "$P/modpyws-example/echo_client.py" -s 127.0.0.1 -p "$SERVE_PORT" -r /echo \
                --deflate-frame -m "$msgs" --log-level debug >"$d/echo_client.out" 2>"$d/echo_client.err" || rc=$?
            if [ $rc = 0 ]; then p=$((p+1)); else f=$((f+1)); echo "FAIL echo_client.py --deflate-frame exited $rc: $(tail -c 600 "$d/echo_client.err")"; fi
            printf '%s' "$msgs" | tr ',' '\n' >"$d/echo_client.want"; echo >>"$d/echo_client.want"
            sed -n 's/^Recv: //p' "$d/echo_client.out" >"$d/echo_client.got"
            if cmp -s "$d/echo_client.want" "$d/echo_client.got"; then p=$((p+1)); else f=$((f+1)); echo "FAIL echo_client.py: echoes differ (see $d/echo_client.got)"; fi
            n="$(grep -c 'Incoming compress ratio: ' "$d/echo_client.err" || true)"
            if [ "${n:-0}" -ge 2 ]; then p=$((p+1)); else f=$((f+1)); echo "FAIL echo_client.py got $n compressed (RSV1) echoes from wsx, want 2 or more"; fi
            if grep -x 'Recv ack' "$d/echo_client.out" >/dev/null; then p=$((p+1)); else f=$((f+1)); echo "FAIL echo_client.py: no closing handshake"; fi
            printf 'RESULT\tmod_pywebsocket\techo_client.py --deflate-frame -> wsx serve --deflate-frame\t%d\t%d\n' $p $f >>"$res"
        fi
        stop "$SERVE_PID"
        # wsx's own log: the names it serves, and each connection's answer.
        p=0; f=0
        if grep 'serving .*extensions=permessage-deflate, deflate-frame, x-webkit-deflate-frame' "$d/wsx-serve$run.log" >/dev/null; then p=$((p+1)); else f=$((f+1)); echo "FAIL wsx serve's startup log does not list deflate-frame: $(grep -m 1 serving "$d/wsx-serve$run.log")"; fi
        for offer in "${offers[@]}"; do
            if [ -n "$flags" ]; then want="${offer%%;*}; no_context_takeover"; else want="${offer%%;*}"; fi
            if grep -F "upgrade accepted path=/echo protocol=None extensions=Some(\"$want\")" "$d/wsx-serve$run.log" >/dev/null; then p=$((p+1)); else f=$((f+1)); echo "FAIL wsx serve's log does not show $want accepted (offer $offer)"; fi
        done
        printf 'RESULT\twsx\twsx serve --deflate-frame%s log: accepted names\t%d\t%d\n' "${flags:+ $flags}" $p $f >>"$res"
    done

}

# redis-fanout (issue 14): scaling out with a broker. Two processes of the
# redis_fanout example (integration/examples/redis_fanout.rs) share their rooms
# through a redis-server started here (loopback, free port, no persistence):
#  1. Python websockets clients on both processes, one room
#     (peers/redis_fanout_check.py room): every client of both processes gets
#     both senders' messages byte-exact, typed, in order, once; one order for
#     all; permessage-deflate negotiated; a second room gets none of them;
#  2. redis-server restarts on the same port: both processes reconnect
#     (subscriber and publisher) and messages cross again;
#  3. each process's stats line at SIGTERM: every delivery used the frame
#     the process compressed once, nothing lost or dropped.
# (the room check counts 4 × (REDIS_N + 1) + 5: negotiation on every client
# and the two second-room ones, the messages of every client, one order,
# the second room on each process)
BCAST_LABEL='broadcast cohorts: websockets + Node ws members -> wsx serve --broadcast'

REDIS_N=3    # receivers per process (besides the sender)
REDIS_M=150  # messages per sender
REDIS_ROOM_LABEL='websockets clients -> 2 redis_fanout processes + redis-server: one room'
REDIS_ACROSS_LABEL='after a redis-server restart: messages across processes'

# start_redis DIR: redis-server on 127.0.0.1:$REDIS_PORT (a free port when
# unset); sets REDIS_PID.
start_redis() {
    local d="$1"
    REDIS_PORT="${REDIS_PORT:-$(free_port)}"
    "$REDIS_SERVER" --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no \
        --daemonize no --dir "$d" >>"$d/redis-server.log" 2>&1 &
    REDIS_PID=$!
    wait_port "$REDIS_PORT" 30 || { tail -n 20 "$d/redis-server.log"; return 1; }
}

# start_fanout DIR NAME: a redis_fanout process on a free port, logs
# DIR/NAME.out (stdout) and DIR/NAME.err; sets FANOUT_PID and FANOUT_PORT.
start_fanout() {
    local d="$1" name="$2" port=""
    RUST_LOG=info "$FANOUT" --listen 127.0.0.1:0 --redis "redis://127.0.0.1:$REDIS_PORT/" \
        --prefix "wsx-conformance:" >"$d/$name.out" 2>"$d/$name.err" &
    FANOUT_PID=$!
    for _ in $(seq 1 300); do
        port="$(sed -n 's#^listening on ws://[^ ]*:\([0-9][0-9]*\)$#\1#p' "$d/$name.out" | head -n1)"
        [ -n "$port" ] && break
        kill -0 "$FANOUT_PID" 2>/dev/null || break
        sleep 0.1
    done
    if [ -z "$port" ]; then
        echo "redis_fanout $name did not print 'listening on ws://IP:PORT'; its log:" >&2
        tail -n 20 "$d/$name.err" >&2 || true
        return 1
    fi
    FANOUT_PORT="$port"
}

# wait_log FILE PATTERN COUNT SECONDS: until FILE has COUNT lines matching.
wait_log() {
    local n
    for _ in $(seq 1 $(( $4 * 10 ))); do
        n="$(grep -c "$2" "$1" 2>/dev/null || true)"
        [ "${n:-0}" -ge "$3" ] && return 0
        sleep 0.1
    done
    return 1
}

part_redis_fanout() {
    install_pyws
    install_redis
    local d="$OUT/redis-fanout" res="$OUT/redis-fanout.result"
    local py="$P/venv-ws/bin/python" chk="$HERE/redis_fanout_check.py"
    local profile="${WSX_REDIS_PROFILE:-dev}" dir=debug pa pb ua ub
    rm -rf "$d" && mkdir -p "$d"
    : >"$res"
    [ "$profile" != release ] || dir=release
    log "cargo build --profile $profile -p wsx --example redis_fanout"
    if (cd "$REPO" && cargo build --profile "$profile" -p wsx --example redis_fanout) >"$d/build.log" 2>&1; then
        printf 'RESULT\tredis\tredis_fanout example build\t1\t0\n' >>"$res"
    else
        echo "FAIL building the redis_fanout example:"; tail -n 25 "$d/build.log"
        printf 'RESULT\tredis\tredis_fanout example build\t0\t1\n' >>"$res"
        return 0
    fi
    FANOUT="${CARGO_TARGET_DIR:-$REPO/target}/$dir/examples/redis_fanout"

    REDIS_PORT=""
    start_redis "$d" || die "redis-server did not start"
    start_fanout "$d" a || die "redis_fanout a did not start"
    pa=$FANOUT_PID; ua="ws://127.0.0.1:$FANOUT_PORT"
    start_fanout "$d" b || die "redis_fanout b did not start"
    pb=$FANOUT_PID; ub="ws://127.0.0.1:$FANOUT_PORT"
    log "redis-server on port $REDIS_PORT; redis_fanout processes at $ua and $ub"

    # 1. one room across the two processes
    timeout 300 "$py" "$chk" room --a "$ua" --b "$ub" --receivers "$REDIS_N" --messages "$REDIS_M" \
        --label "$REDIS_ROOM_LABEL" >"$d/room.txt" 2>&1 || true
    grep -v '^PASS' "$d/room.txt" || true
    grep '^RESULT' "$d/room.txt" >>"$res" || true

    # 2. redis-server restarts (same port): both processes reconnect
    stop "$REDIS_PID"
    start_redis "$d" || die "redis-server did not start again"
    if wait_log "$d/a.err" 'subscribed to Redis' 2 30 && wait_log "$d/b.err" 'subscribed to Redis' 2 30; then
        timeout 60 "$py" "$chk" across --a "$ua" --b "$ub" \
            --label "$REDIS_ACROSS_LABEL" >"$d/across.txt" 2>&1 || true
        grep -v '^PASS' "$d/across.txt" || true
        grep '^RESULT' "$d/across.txt" >>"$res" || true
    else
        echo "FAIL the redis_fanout processes did not subscribe again within 30 s:"
        tail -n 5 "$d/a.err" "$d/b.err"
    fi

    # 3. their stats (printed at SIGTERM). Published: the sender's messages,
    # A's one to the second room, 2 each after the restart. Delivered: both
    # senders' messages to the room's clients of the process, the second
    # room's one, the 4 after the restart.
    stop "$pa"
    stop "$pb"
    stop "$REDIS_PID"
    local delivered=$(( (REDIS_N + 1) * 2 * REDIS_M + 1 + 4 ))
    "$py" "$chk" stats --log "$d/a.out" --expect-published $((REDIS_M + 1 + 2)) \
        --expect-delivered "$delivered" \
        --label "process A stats: compressed once per process, all shared, nothing lost" >"$d/stats.txt" 2>&1 || true
    "$py" "$chk" stats --log "$d/b.out" --expect-published $((REDIS_M + 2)) \
        --expect-delivered "$delivered" \
        --label "process B stats: compressed once per process, all shared, nothing lost" >>"$d/stats.txt" 2>&1 || true
    cat "$d/stats.txt"
    grep '^RESULT' "$d/stats.txt" >>"$res" || true
}

show_log() { # the interesting lines of a part's log, at most 80
    local n
    n="$(grep -cv '^RESULT\|^PASS\|^$' "$1" || true)"
    grep -v '^RESULT\|^PASS\|^$' "$1" | head -n 80 || true
    [ "${n:-0}" -le 80 ] || echo "    ... $((n - 80)) more lines in $1"
}

run_part() { # run_part NAME: run part_NAME in a subshell with its own log and cleanup
    local name="$1" rc=0 t0
    t0=$(date +%s)
    rm -f "$OUT/$name.result"
    (
        trap 'kill_tree $BASHPID' EXIT
        "part_${name//-/_}"
    ) >"$OUT/$name.log" 2>&1 || rc=$?
    echo "$(( $(date +%s) - t0 ))" > "$OUT/$name.seconds"
    if [ ! -s "$OUT/$name.result" ]; then
        printf 'RESULT\t%s\t(part did not complete: exit %s, see %s)\t0\t1\n' "$name" "$rc" "$OUT/$name.log" > "$OUT/$name.result"
    fi
    expected_results "$name" | python3 "$HERE/check_results.py" "$OUT/$name.result" >>"$OUT/$name.log"
}

# ---------------------------------------------------------------- main
# (one function, so that bash has read all of it before it runs: editing
# this file during a run cannot break the run)
main() {
    mkdir -p "$OUT"
    OUT="$(cd "$OUT" && pwd)"
    PARTS=()
    for part in autobahn-server autobahn-client tt-autobahn-server tt-autobahn-client python node chromium \
            dropin-chromium deflate-frame tt-dropin redis-fanout mux; do
        if want "$part"; then PARTS+=("$part"); fi
    done
    [ ${#PARTS[@]} -gt 0 ] || die "nothing selected"

    # Installs first, in the foreground, so that an install failure is loud.
    for part in "${PARTS[@]}"; do
        case "$part" in
            autobahn-*|tt-autobahn-*) install_autobahn ;;
            python) install_pyws ;;
            node) install_pyws; install_node ;;
            chromium|dropin-chromium) install_node; install_chromium ;;
            deflate-frame) install_modpyws ;;
            tt-dropin) install_pyws; install_node ;;
            redis-fanout) install_pyws; install_redis ;;
            mux) install_modpyws ;;
        esac
    done
    if [ "$INSTALL_ONLY" = 1 ]; then log "peers installed under $P"; exit 0; fi

    # (redis-fanout, tt-dropin, tt-autobahn-* and dropin-chromium run
    # examples, not the `wsx` command)
    local need_wsx=0 need_tt=0
    for part in "${PARTS[@]}"; do
        case "$part" in
            redis-fanout|tt-dropin) ;;
            tt-autobahn-*|dropin-chromium) need_tt=1 ;;
            *) need_wsx=1 ;;
        esac
    done
    [ "$need_wsx" = 0 ] || resolve_wsx
    T0=$(date +%s)
    log "reports and logs: $OUT"
    [ "$need_tt" = 0 ] || build_tt_upstream

    # The Autobahn runs are single-threaded Python (wstest) and slow: run them
    # in the background in two lanes (2 cores), one after the other in each
    # lane, the interop parts meanwhile. Each lane has a server role and a
    # client role (their durations vary from run to run, 9 to 21 min each on
    # a loaded 2-core machine).
    BG=()
    local lane lane_parts p
    for lane in "autobahn-server tt-autobahn-client" "autobahn-client tt-autobahn-server"; do
        lane_parts=()
        for part in $lane; do
            for p in "${PARTS[@]}"; do [ "$p" != "$part" ] || lane_parts+=("$part"); done
        done
        [ ${#lane_parts[@]} -gt 0 ] || continue
        log "start ${lane_parts[*]} (background, in turn; logs $OUT/PART.log)"
        (for part in "${lane_parts[@]}"; do run_part "$part"; done) &
        BG+=($!)
    done
    for part in "${PARTS[@]}"; do
        case "$part" in
            autobahn-*|tt-autobahn-*) ;;
            *)
                log "run $part"
                run_part "$part"
                show_log "$OUT/$part.log"
                ;;
        esac
    done
    [ ${#BG[@]} -eq 0 ] || log "waiting for the Autobahn runs"
    for pid in "${BG[@]:-}"; do
        [ -n "$pid" ] || continue
        wait "$pid" || true
    done
    for part in "${PARTS[@]}"; do
        case "$part" in
            autobahn-*|tt-autobahn-*) show_log "$OUT/$part.log" ;;
        esac
    done

    # ---------------------------------------------------------------- summary
    log "summary (total $(( $(date +%s) - T0 )) s; details in $OUT)"
    TOTAL_P=0
    TOTAL_F=0
    {
        printf '%-16s %-46s %8s %8s %7s\n' PEER ROLE PASSED FAILED SECONDS
        for part in "${PARTS[@]}"; do
            secs="$(cat "$OUT/$part.seconds" 2>/dev/null || echo '?')"
            while IFS=$'\t' read -r _ peer role p f; do
                printf '%-16s %-46s %8s %8s %7s\n' "$peer" "$role" "$p" "$f" "$secs"
            done < "$OUT/$part.result"
        done
    } | tee "$OUT/summary.txt"
    for part in "${PARTS[@]}"; do
        while IFS=$'\t' read -r _ _ _ p f; do
            TOTAL_P=$((TOTAL_P + p))
            TOTAL_F=$((TOTAL_F + f))
        done < "$OUT/$part.result"
    done
    if [ "$MUX" = 0 ] && [ ${#ONLY[@]} -eq 0 ]; then
        echo "(mod_pywebsocket mux interop not run: it needs --mux)"
    fi
    echo
    echo "conformance: $TOTAL_P passed, $TOTAL_F failed"
    [ "$TOTAL_F" = 0 ]
}

main; exit $?
