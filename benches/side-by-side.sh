#!/usr/bin/env bash
# Side-by-side echo benchmark on loopback: `wsx serve` against a
# tokio-tungstenite echo server (uncompressed), a Node `ws` echo server and a
# Python `websockets` echo server (both with permessage-deflate), all driven
# by the same `wsx load` run, interleaved A B C A B C over several rounds.
# wsx-w12 is `wsx serve` with Python websockets' default windows (12 bits
# both ways), for a like-for-like compressed comparison with it.
# Prints the medians and the ratios of wsx to each peer, then the server
# memory per open connection (RSS delta over N idle open connections).
#
#   benches/side-by-side.sh            # defaults below
#   ROUNDS=7 CONNS=20 MSGS=2000 SIZE=4096 benches/side-by-side.sh
#
# Environment (defaults): ROUNDS (5) CONNS (10) MSGS (500, per connection)
# SIZE (1024) CORPUS (chat-json) MEM_CONNS (200) TIMEOUT (60 s per load run)
# PEERS (target/peers-bench: where Node `ws` and Python `websockets` are
# installed from npm and PyPI on first use) OUT (target/side-by-side: raw
# JSON lines of every run).
#
# Every listener and connection is on 127.0.0.1; every load run is bounded
# by MSGS and TIMEOUT and stops by itself.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
ROUNDS="${ROUNDS:-5}"
CONNS="${CONNS:-10}"
MSGS="${MSGS:-500}"
SIZE="${SIZE:-1024}"
CORPUS="${CORPUS:-chat-json}"
MEM_CONNS="${MEM_CONNS:-200}"
TIMEOUT="${TIMEOUT:-60}"
PEERS="${PEERS:-$ROOT/target/peers-bench}"
OUT="${OUT:-$ROOT/target/side-by-side}"
WSX="$ROOT/target/release/wsx"
TT="$ROOT/target/release/tungstenite-echo"

die() { echo "side-by-side: $*" >&2; exit 1; }
log() { echo "== $*" >&2; }

# ---------------------------------------------------------------- build/install
log "building wsx and tungstenite-echo (release)"
cargo build --release -q -p wsx --bin wsx -p benches --bin tungstenite-echo

mkdir -p "$PEERS" "$OUT"
if [ ! -f "$PEERS/node/.ok" ]; then
    log "installing Node ws@8 into $PEERS/node"
    command -v npm >/dev/null || die "npm not found (Node 20 is expected)"
    mkdir -p "$PEERS/node"
    (cd "$PEERS/node" && npm init -y >/dev/null && npm install --no-audit --no-fund --silent ws@8)
    touch "$PEERS/node/.ok"
fi
if [ ! -f "$PEERS/venv-ws/.ok" ]; then
    log "installing Python websockets into $PEERS/venv-ws"
    python3 -m venv "$PEERS/venv-ws"
    "$PEERS/venv-ws/bin/pip" install -q websockets
    touch "$PEERS/venv-ws/.ok"
fi
NODE_VER="$(node --version)"
WS_VER="$(cd "$PEERS/node" && node -p 'require("ws/package.json").version')"
PY_VER="$("$PEERS/venv-ws/bin/python" --version | cut -d' ' -f2)"
WEBSOCKETS_VER="$("$PEERS/venv-ws/bin/python" -c 'import websockets; print(websockets.__version__)')"

# ---------------------------------------------------------------- servers
PIDS=()
cleanup() {
    for p in "${PIDS[@]:-}"; do
        [ -n "$p" ] && kill "$p" 2>/dev/null || true
    done
    for p in "${PIDS[@]:-}"; do
        [ -n "$p" ] && wait "$p" 2>/dev/null || true
    done
}
trap cleanup EXIT

# start NAME CMD...: start a server, wait for its `listening on` line; sets
# SERVER_PID and SERVER_URL.
start() {
    local name="$1"; shift
    local log="$OUT/$name.server.log"
    : >"$log" # truncate here, not in the background job (no stale line)
    NODE_PATH="$PEERS/node/node_modules" "$@" >"$log" 2>&1 &
    SERVER_PID=$!
    PIDS+=("$SERVER_PID")
    for _ in $(seq 1 100); do
        if grep -q '^listening on ' "$log"; then
            SERVER_URL="$(sed -n 's/^listening on //p' "$log" | head -1)/"
            return 0
        fi
        kill -0 "$SERVER_PID" 2>/dev/null || die "$name exited: $(cat "$log")"
        sleep 0.1
    done
    die "$name did not print its listening line"
}

stop() {
    kill "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}

server_cmd() {
    case "$1" in
        wsx|wsx-plain) echo "$WSX serve --listen 127.0.0.1:0" ;;
        wsx-w12) echo "$WSX serve --listen 127.0.0.1:0 --server-max-window-bits 12 --client-max-window-bits 12" ;;
        wsx-pooled) echo "$WSX serve --listen 127.0.0.1:0 --server-no-context-takeover --client-no-context-takeover" ;;
        tokio-tungstenite) echo "$TT --listen 127.0.0.1:0" ;;
        node-ws) echo "node $ROOT/benches/peers/echo_ws.js 0" ;;
        python-websockets) echo "$PEERS/venv-ws/bin/python $ROOT/benches/peers/echo_websockets.py 0" ;;
    esac
}

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

# ---------------------------------------------------------------- throughput
RESULTS="$OUT/runs.jsonl"
: >"$RESULTS"
declare -A URL
for s in wsx wsx-w12 tokio-tungstenite node-ws python-websockets; do
    # shellcheck disable=SC2046
    start "$s" $(server_cmd "$s")
    URL[$s]="$SERVER_URL"
    log "$s on $SERVER_URL (pid $SERVER_PID)"
done

# One load run: MODE (plain|deflate) SERVER ROUND
run_load() {
    local mode="$1" server="$2" round="$3" flags=()
    [ "$mode" = plain ] && flags=(--no-deflate)
    local line
    line="$("$WSX" load --url "${URL[$server]}" --connections "$CONNS" --messages "$MSGS" \
        --size "$SIZE" --corpus "$CORPUS" --timeout "$TIMEOUT" --json "${flags[@]}")" || true
    [ -n "$line" ] || line='{"errors":-1}'
    echo "{\"mode\":\"$mode\",\"server\":\"$server\",\"round\":$round,\"run\":$line}" >>"$RESULTS"
    echo "$line" | python3 -c 'import json,sys; r=json.load(sys.stdin); print("   %-8s %-18s %9.0f msg/s  p50 %6.2f ms  p99 %6.2f ms  errors %s" % (sys.argv[1], sys.argv[2], r.get("msgs_per_s",0), r.get("p50_us",0)/1e3, r.get("p99_us",0)/1e3, r.get("errors")))' "$mode" "$server" >&2
}

log "load: $CONNS connections x $MSGS messages of $SIZE B $CORPUS, $ROUNDS rounds, interleaved"
for round in $(seq 1 "$ROUNDS"); do
    log "round $round/$ROUNDS"
    for s in wsx tokio-tungstenite; do run_load plain "$s" "$round"; done
    for s in wsx wsx-w12 node-ws python-websockets; do run_load deflate "$s" "$round"; done
done
cleanup
PIDS=()

# ---------------------------------------------------------------- memory
MEMF="$OUT/memory.jsonl"
: >"$MEMF"
log "memory: RSS delta over $MEM_CONNS open idle connections (one $SIZE B message each, then held)"
for s in wsx wsx-pooled node-ws python-websockets wsx-plain tokio-tungstenite; do
    flags=()
    case "$s" in tokio-tungstenite|wsx-plain) flags=(--no-deflate) ;; esac
    # shellcheck disable=SC2046
    start "$s" $(server_cmd "$s")
    pid="$SERVER_PID"
    sleep 0.5
    before="$(rss_kib "$pid")"
    errf="$OUT/$s.load.err"
    "$WSX" load --url "$SERVER_URL" --connections "$MEM_CONNS" --messages 1 --size "$SIZE" \
        --corpus "$CORPUS" --hold 4 --timeout "$TIMEOUT" --json "${flags[@]}" >"$OUT/$s.mem.json" 2>"$errf" &
    lpid=$!
    PIDS+=("$lpid")
    for _ in $(seq 1 200); do
        grep -q '^holding' "$errf" 2>/dev/null && break
        kill -0 "$lpid" 2>/dev/null || break
        sleep 0.1
    done
    sleep 1
    after="$(rss_kib "$pid")"
    wait "$lpid" || true
    ext="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get("extensions",""))' "$OUT/$s.mem.json" 2>/dev/null || echo '?')"
    echo "{\"server\":\"$s\",\"conns\":$MEM_CONNS,\"rss_before_kib\":$before,\"rss_after_kib\":$after,\"extensions\":\"$ext\"}" >>"$MEMF"
    stop "$pid"
done

# ---------------------------------------------------------------- report
python3 - "$RESULTS" "$MEMF" <<EOF
import json, statistics, sys
runs = [json.loads(l) for l in open(sys.argv[1])]
mem = [json.loads(l) for l in open(sys.argv[2])]
def med(mode, server, key):
    v = [r["run"].get(key) for r in runs if r["mode"] == mode and r["server"] == server and r["run"].get("errors") == 0]
    v = [x for x in v if x is not None]
    return statistics.median(v) if v else None
def ext(mode, server):
    for r in runs:
        if r["mode"] == mode and r["server"] == server and r["run"].get("extensions") is not None:
            return r["run"]["extensions"] or "(none)"
    return "?"
def errs(mode, server):
    return sum(1 for r in runs if r["mode"] == mode and r["server"] == server and r["run"].get("errors") != 0)
print()
print("machine: %s, %s cores; wsx load: $CONNS connections x $MSGS messages of $SIZE B $CORPUS, $ROUNDS rounds interleaved" % (
    open("/proc/cpuinfo").read().split("model name")[1].split(":")[1].split("\n")[0].strip(), __import__("os").cpu_count()))
print("peers: tokio-tungstenite 0.30, Node $NODE_VER ws $WS_VER, Python $PY_VER websockets $WEBSOCKETS_VER")
print()
print("| mode | server | msg/s (median) | p50 ms | p99 ms | wire ratio | failed runs | negotiated |")
print("|---|---|---:|---:|---:|---:|---:|---|")
rows = [("plain", "wsx"), ("plain", "tokio-tungstenite"), ("deflate", "wsx"), ("deflate", "wsx-w12"), ("deflate", "node-ws"), ("deflate", "python-websockets")]
for mode, s in rows:
    m = med(mode, s, "msgs_per_s"); p50 = med(mode, s, "p50_us"); p99 = med(mode, s, "p99_us"); cr = med(mode, s, "compression_ratio")
    f = lambda x, d=1: "-" if x is None else ("%.*f" % (d, x))
    print("| %s | %s | %s | %s | %s | %s | %d | %s |" % (mode, s, f(m, 0), f(p50 and p50/1e3, 2), f(p99 and p99/1e3, 2), f(cr, 2), errs(mode, s), ext(mode, s)))
print()
print("| ratio (msg/s medians) | measured | target |")
print("|---|---:|---|")
def ratio(a, b):
    x, y = med(*a, "msgs_per_s"), med(*b, "msgs_per_s")
    return None if not x or not y else x / y
for label, a, b, target, goal in [
    ("wsx / tokio-tungstenite, uncompressed", ("plain", "wsx"), ("plain", "tokio-tungstenite"), ">= 1.0 (aim 1.3)", 1.0),
    ("wsx / Node ws, compressed", ("deflate", "wsx"), ("deflate", "node-ws"), ">= 2.0", 2.0),
    ("wsx / Python websockets, compressed", ("deflate", "wsx"), ("deflate", "python-websockets"), ">= 5.0", 5.0),
    ("wsx-w12 / Python websockets (same 12-bit windows)", ("deflate", "wsx-w12"), ("deflate", "python-websockets"), ">= 5.0", 5.0),
]:
    r = ratio(a, b)
    verdict = "-" if r is None else ("met" if r >= goal else "MISSED by %.0f%%" % (100 * (1 - r / goal)))
    print("| %s | %s | %s: %s |" % (label, "-" if r is None else "%.2fx" % r, target, verdict))
print()
print("| server memory, %d idle open connections | RSS before | RSS after | per connection | negotiated |" % mem[0]["conns"])
print("|---|---:|---:|---:|---|")
for m in mem:
    per = (m["rss_after_kib"] - m["rss_before_kib"]) / m["conns"]
    print("| %s | %d KiB | %d KiB | %.1f KiB | %s |" % (m["server"], m["rss_before_kib"], m["rss_after_kib"], per, m["extensions"] or "(none)"))
print()
print("wsx-plain and tokio-tungstenite: uncompressed (the client sends --no-deflate), the engine's own per-connection cost")
print("targets: <= 48 KiB per compressed connection with context takeover (wsx default policy); < 8 KiB per idle connection pooled (wsx-pooled: --server-no-context-takeover --client-no-context-takeover)")
EOF
