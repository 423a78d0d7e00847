#!/usr/bin/env bash
# Side-by-side broadcast (fan-out) benchmark on loopback: `wsx serve
# --broadcast` against Node ws and Python websockets broadcast servers, all
# driven by the same load client (benches/src/bin/broadcast_load.rs: raw
# RFC 6455 and zlib-rs, not wsx; it sends Node ws's client offer
# `permessage-deflate; client_max_window_bits`), on:
#
#   * server CPU per delivery: the server process's own utime+stime (all
#     threads, /proc/PID/stat, CLK_TCK ticks) over the message phases,
#     divided by the messages delivered (and verified) to all members; also
#     the same from /proc/PID/task/*/schedstat (ns, live threads);
#   * wire bytes per delivery: every WebSocket frame byte the members
#     received from the server after the handshake, up to their last message;
#   * deliveries/s and the fan-out time per message (send to last member).
#
# One run (per N in RECEIVERS, per server, per round): a room (a fresh URL
# path); one sender and N receivers, a tenth of them joining half-way; the
# sender sends M messages, each to everyone (the sender included), the next
# one once every member has the one WINDOW messages back (1: lockstep);
# every member checks every message byte-exact, with its kind, in order
# (late joiners: the contiguous suffix from their join point). The late
# joiners' handshakes, the set-up and the closes are outside the CPU figure
# (broadcast_load.rs has the details).
#
# Servers (each a separate process, started once, kept across the runs):
#   wsx-cohorts        `wsx serve --broadcast --deflate-level 6`:
#                      DeflateConfig::broadcast_cohorts(), context takeover,
#                      each message compressed once per cohort (members that
#                      were sent the same messages: here the early members
#                      and the late joiners)
#   wsx-broadcast      `wsx serve --broadcast --server-no-context-takeover
#                      --deflate-level 6`: DeflateConfig::broadcast(), each
#                      message compressed once for all members, without
#                      context
#   wsx                `wsx serve --broadcast` at its default deflate policy
#                      (level 1, context takeover: served by cohorts too)
#   node-ws            benches/peers/broadcast_ws.js: ws 8, a loop of
#                      `client.send(data, { binary })`, `perMessageDeflate:
#                      true` (ws's defaults: level 6, 15-bit windows, context
#                      takeover)
#   node-ws-nct        the same with `serverNoContextTakeover: true` (as in
#                      the tuning example of ws's README: each connection's
#                      compressor is reset after every message; with it ws
#                      sends messages under its 1024 B threshold
#                      uncompressed)
#   python-websockets  benches/peers/broadcast_websockets.py: websockets'
#                      `broadcast()`, its default compression (12-bit
#                      windows, memLevel 5, level 6, context takeover)
# Runs are interleaved A B C ... A B C over ROUNDS rounds (after WARMUP
# warm-up rounds, left out of the medians). Ratios are "server /
# wsx-cohorts" (> 1: the server costs more, or sends more, than wsx).
#
#   benches/broadcast.sh                                   # defaults below
#   RECEIVERS=1000 ROUNDS=5 benches/broadcast.sh
#   CORPUS=events benches/broadcast.sh                     # load_ws.js's JSON events
#   python3 benches/broadcast_report.py target/broadcast   # re-print the tables
#
# Environment (defaults):
#   RECEIVERS ("100 1000")  receiver counts, one block of rounds each
#   LATE_PERCENT (10)       share of the receivers that join half-way
#   DELIVERIES (150000)     messages per run = DELIVERIES / N (at least 20),
#                           unless MSGS is set
#   MSGS                    messages per run, for every N
#   WINDOW (1)              messages in flight past the slowest member
#   CORPUS (chat)           chat: wsx-corpus chat JSON, mixed sizes 200 B-4 KiB
#                           (the corpus of `wsx ratio` and of the
#                           DeflateConfig::broadcast() figures), M distinct
#                           messages, all text; events: the 1000 JSON event
#                           messages of benches/peers/load_ws.js (216 B-4 KB,
#                           one object each: chat message, presence, typing,
#                           reaction, order update, notification; every 10th
#                           binary), the side-by-side echo benchmark's corpus
#   ROUNDS (3)              measured rounds
#   WARMUP (1)              warm-up rounds before them (0: none)
#   TIMEOUT (300)           seconds allowed for one run (then it fails)
#   CLIENT_THREADS (2)      the load client's runtime threads
#   SERVERS                 space-separated subset of the server names
#   WSX                     wsx binary to measure (default: built here with
#                           `cargo build --release`, under CARGO_TARGET_DIR or
#                           target/; see side-by-side.sh on shared target
#                           directories)
#   LOAD                    broadcast-load binary (default: built here)
#   PEERS (target/peers-bench)  where Node ws@8 (npm) and Python websockets
#                           (PyPI, in a venv) are installed on first use, as
#                           side-by-side.sh does
#   OUT (target/broadcast)  runs.jsonl, meta.json, server logs; report.md
#
# Every listener and connection is on 127.0.0.1; every run is bounded by its
# message count and TIMEOUT and stops by itself; the servers are killed on
# exit. A server that fails to start (or dies) is reported as FAILED, a run
# with any error, mismatch, missing message or timeout as a failed run; the
# script then exits 1.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
RECEIVERS="${RECEIVERS:-100 1000}"
LATE_PERCENT="${LATE_PERCENT:-10}"
DELIVERIES="${DELIVERIES:-150000}"
MSGS="${MSGS:-}"
WINDOW="${WINDOW:-1}"
CORPUS="${CORPUS:-chat}"
ROUNDS="${ROUNDS:-3}"
WARMUP="${WARMUP:-1}"
TIMEOUT="${TIMEOUT:-300}"
CLIENT_THREADS="${CLIENT_THREADS:-2}"
PEERS="${PEERS:-$ROOT/target/peers-bench}"
OUT="${OUT:-$ROOT/target/broadcast}"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
LOAD_JS="$ROOT/benches/peers/load_ws.js"
CLK_TCK="$(getconf CLK_TCK)"

die() { echo "broadcast: $*" >&2; exit 1; }
log() { echo "== $*" >&2; }
# shellcheck source=benches/bench-common.sh
. "$ROOT/benches/bench-common.sh"

case "$CORPUS" in chat | events) ;; *) die "CORPUS must be chat or events" ;; esac
max_n=0
for n in $RECEIVERS; do
    [ "$n" -ge 10 ] 2>/dev/null || die "RECEIVERS: '$n' is not a number >= 10"
    if [ "$n" -gt "$max_n" ]; then max_n="$n"; fi
done
# N + 1 connections in the client and in each server.
raise_fd_limit $((max_n + 200)) "$max_n receivers"

# ---------------------------------------------------------------- build/install
if [ -z "${WSX:-}" ]; then
    log "building wsx (release) into $TARGET_DIR"
    cargo build --release -q -p wsx-cli --bin wsx
    WSX="$TARGET_DIR/release/wsx"
fi
if [ -z "${LOAD:-}" ]; then
    log "building broadcast-load (release) into $TARGET_DIR"
    cargo build --release -q -p benches --bin broadcast-load
    LOAD="$TARGET_DIR/release/broadcast-load"
fi
[ -x "$WSX" ] || die "WSX=$WSX is not an executable"
[ -x "$LOAD" ] || die "LOAD=$LOAD is not an executable"
# Run copies (a build in a shared target directory must not swap a binary
# between two runs of this script).
mkdir -p "$OUT/bin"
WSX_SRC="$WSX"
cp "$WSX" "$OUT/bin/wsx" && WSX="$OUT/bin/wsx"
cp "$LOAD" "$OUT/bin/broadcast-load" && LOAD="$OUT/bin/broadcast-load"

mkdir -p "$PEERS"
if [ ! -f "$PEERS/node/.ok" ]; then
    log "installing Node ws@8 into $PEERS/node"
    command -v npm >/dev/null || die "npm not found (Node 20 is expected)"
    mkdir -p "$PEERS/node"
    (cd "$PEERS/node" && npm init -y >/dev/null && npm install --no-audit --no-fund --silent ws@8) ||
        die "could not install Node ws@8"
    touch "$PEERS/node/.ok"
fi
if [ ! -f "$PEERS/venv-ws/.ok" ]; then
    log "installing Python websockets into $PEERS/venv-ws"
    python3 -m venv "$PEERS/venv-ws" || die "could not create $PEERS/venv-ws"
    "$PEERS/venv-ws/bin/pip" install -q websockets || die "could not install Python websockets"
    touch "$PEERS/venv-ws/.ok"
fi
export NODE_PATH="$PEERS/node/node_modules"
node -e 'require("ws")' 2>/dev/null || die "Node cannot load ws from $NODE_PATH"
"$PEERS/venv-ws/bin/python" -c 'import websockets.asyncio.server' 2>/dev/null ||
    die "$PEERS/venv-ws has no websockets (>= 13, with websockets.asyncio)"

CORPUS_FLAGS=(--corpus chat)
if [ "$CORPUS" = events ]; then
    node "$LOAD_JS" --dump-corpus "$OUT/events.bin" || die "could not write the events corpus"
    CORPUS_FLAGS=(--corpus-file "$OUT/events.bin")
fi
msgs_for() { # N: messages per run
    if [ -n "$MSGS" ]; then echo "$MSGS"; else
        local m=$((DELIVERIES / $1))
        echo $((m < 20 ? 20 : m))
    fi
}

# ---------------------------------------------------------------- server table
NAMES=()
declare -A CMD
add() { NAMES+=("$1"); CMD[$1]="$2"; }
add wsx-cohorts "$WSX serve --broadcast --listen 127.0.0.1:0 --deflate-level 6"
add wsx-broadcast "$WSX serve --broadcast --listen 127.0.0.1:0 --server-no-context-takeover --deflate-level 6"
add wsx "$WSX serve --broadcast --listen 127.0.0.1:0"
add node-ws "node $ROOT/benches/peers/broadcast_ws.js 0"
add node-ws-nct "node $ROOT/benches/peers/broadcast_ws.js 0 --server-no-context-takeover"
add python-websockets "$PEERS/venv-ws/bin/python $ROOT/benches/peers/broadcast_websockets.py 0"
select_servers

# ---------------------------------------------------------------- metadata
{
    printf '{"date":"%s","machine":"%s","cores":%s,"clk_tck":%s' \
        "$(date -u +%FT%TZ)" "$(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)" "$(nproc)" "$CLK_TCK"
    printf ',"loadavg_start":"%s"' "$(cut -d' ' -f1-3 /proc/loadavg)"
    printf ',"receivers":"%s","late_percent":%s,"deliveries":%s,"msgs":"%s","window":%s' \
        "$RECEIVERS" "$LATE_PERCENT" "$DELIVERIES" "$MSGS" "$WINDOW"
    printf ',"rounds":%s,"warmup":%s,"timeout":%s,"client_threads":%s' "$ROUNDS" "$WARMUP" "$TIMEOUT" "$CLIENT_THREADS"
    printf ',"wsx":"%s","wsx_version":"%s","wsx_sha256":"%s"' "$WSX_SRC" "$("$WSX" --version)" "$(sha256sum "$WSX" | cut -c1-16)"
    printf ',"node":"%s","ws":"%s"' "$(node --version)" "$(node -p 'require("ws/package.json").version')"
    printf ',"python":"%s","websockets":"%s"' "$("$PEERS/venv-ws/bin/python" --version | cut -d' ' -f2)" \
        "$("$PEERS/venv-ws/bin/python" -c 'import websockets; print(websockets.__version__)')"
    printf ',"corpus_name":"%s","corpus":%s' "$CORPUS" \
        "$("$LOAD" --corpus-stats "${CORPUS_FLAGS[@]}" --messages "$(msgs_for "$max_n")")"
    printf ',"servers":['
    sep=''
    for n in "${NAMES[@]}"; do
        printf '%s{"name":"%s","cmd":"%s"}' "$sep" "$n" "${CMD[$n]}"
        sep=','
    done
    printf ']}\n'
} >"$OUT/meta.json"

# ---------------------------------------------------------------- servers

RESULTS="$OUT/runs.jsonl"
: >"$RESULTS"
for n in "${NAMES[@]}"; do
    if start "$n"; then log "$n on ${URL[$n]} (pid ${PID[$n]})"; fi
done

# run_load NAME N ROUND: one run against a running server, in a fresh room.
run_load() {
    local name="$1" n="$2" round="$3" pid="${PID[$1]:-}" m line rc
    m="$(msgs_for "$n")"
    if [ -z "$pid" ] || ! kill -0 "$pid" 2>/dev/null; then
        [ -n "${FAILED[$name]:-}" ] || FAILED[$name]="exited during the run (see $OUT/$name.server.log)"
        echo "{\"server\":\"$name\",\"n\":$n,\"round\":$round,\"failed\":\"server not running\"}" >>"$RESULTS"
        return 0
    fi
    rc=0
    line="$(timeout -k 5 $((TIMEOUT + 30)) "$LOAD" --url "${URL[$name]}/room-$n-$round" \
        --receivers "$n" --late-percent "$LATE_PERCENT" --messages "$m" --window "$WINDOW" \
        "${CORPUS_FLAGS[@]}" --server-pid "$pid" --clk-tck "$CLK_TCK" --timeout "$TIMEOUT" \
        --threads "$CLIENT_THREADS" 2>>"$OUT/$name.load.err")" || rc=$?
    kill -0 "$pid" 2>/dev/null || FAILED[$name]="exited during a run (see $OUT/$name.server.log)"
    [ -n "$line" ] || line='{"errors":-1}'
    echo "{\"server\":\"$name\",\"n\":$n,\"round\":$round,\"rc\":$rc,\"loadavg\":\"$(cut -d' ' -f1-3 /proc/loadavg)\",\"load\":$line}" >>"$RESULTS"
    tail -1 "$RESULTS" | python3 -c '
import json, sys
r = json.load(sys.stdin); l = r["load"]
print("   %-18s N=%-5s %8.2f us/delivery (%8.2f schedstat)  %7.1f B/delivery  %3.0f%% compressed  %7.0f deliveries/s  fan-out p50 %7.2f ms  errors %s mismatches %s rc %s" % (
    r["server"], r["n"], l.get("cpu_us_per_delivery") or 0, l.get("cpu_us_per_delivery_schedstat") or 0,
    l.get("wire_per_delivery") or 0, 100 * (l.get("compressed_share") or 0), l.get("deliveries_per_s") or 0,
    l.get("fanout_p50_ms") or 0, l.get("errors"), l.get("mismatches"), r["rc"]))' >&2
}

for n in $RECEIVERS; do
    log "N=$n receivers ($((n * LATE_PERCENT / 100)) of them half-way), $(msgs_for "$n") messages per run, window $WINDOW, $ROUNDS rounds, interleaved"
    for round in $(seq "$((WARMUP > 0 ? 1 - WARMUP : 1))" "$ROUNDS"); do
        if [ "$round" -le 0 ]; then log "warm-up round"; else log "round $round/$ROUNDS"; fi
        for s in "${NAMES[@]}"; do run_load "$s" "$n" "$round"; done
    done
done

# ---------------------------------------------------------------- report
python3 -c 'import json, sys
m = json.load(open(sys.argv[1])); m["loadavg_end"] = sys.argv[2]
json.dump(m, open(sys.argv[1], "w"))' "$OUT/meta.json" "$(cut -d' ' -f1-3 /proc/loadavg)"
write_failed
python3 "$ROOT/benches/broadcast_report.py" "$OUT" | tee "$OUT/report.md"
