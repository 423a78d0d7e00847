#!/usr/bin/env bash
# Side-by-side echo benchmark on loopback: `wsx serve` against peer echo
# servers, all driven by the same neutral load client (Node `ws`,
# benches/peers/load_ws.js), on the figures that matter:
#
#   * server CPU per message: the server process's own utime+stime (all
#     threads, /proc/PID/stat, in CLK_TCK ticks) before and after each load
#     run, divided by the messages echoed; also the same from the sum of
#     /proc/PID/task/*/schedstat (ns, live threads) as a finer cross-check;
#   * wire bytes per message, each direction, as the load client counts them
#     on its sockets (handshake and close excluded: see load_ws.js);
#   * server RSS per connection (VmRSS of /proc/PID/status) with MEM_CONNS
#     connections open: right after traffic and after an idle period.
#
# Servers (each a separate process, all started once and kept running across
# the throughput rounds; the memory runs use a fresh process each):
#   wsx                `wsx serve` (default policy), client offers deflate
#   wsx-plain          `wsx serve`, client offers no deflate (--no-deflate)
#   wsx-base           WSX_BASE serve (if set), client offers deflate
#   wsx-base-plain     WSX_BASE serve (if set), client offers no deflate
#   wsx-NAME           `wsx serve FLAGS` for each entry of WSX_VARIANTS
#   tokio-tungstenite  benches' tungstenite-echo (no deflate), client --no-deflate
#   node-ws            benches/peers/echo_ws.js (ws 8, deflate, threshold 0)
#   python-websockets  benches/peers/echo_websockets.py (websockets, deflate)
#   sockudo-ws yawc ratchet wtx
#                      benches/peers/rust (crates.io libraries, each at its
#                      deflate defaults)
# Every server gets the same load, interleaved A B C ... A B C over ROUNDS
# rounds. Ratios are "server / wsx" (so > 1 means the server costs more than
# wsx); the uncompressed servers are compared with wsx-plain, the compressed
# ones with wsx.
#
#   benches/side-by-side.sh                                # defaults below
#   ROUNDS=3 MEM_CONNS=500 benches/side-by-side.sh         # shorter
#   WSX_BASE=/work/wsx-baseline benches/side-by-side.sh    # before/after in one run
#   WSX_VARIANTS="w12:--server-max-window-bits 12 --client-max-window-bits 12;l1:--deflate-level 1" \
#       benches/side-by-side.sh
#   python3 benches/side_by_side_report.py target/side-by-side   # re-print the tables
#
# Environment (defaults):
#   ROUNDS (5)          throughput rounds
#   WARMUP (1)          1: one warm-up round (round 0, not in the medians)
#                       before them; 0: none
#   CONNS (20)          connections per load run
#   MSGS (400)          round trips per connection per load run
#   TIMEOUT (120)       seconds allowed for one load run (then it is killed
#                       and counted as failed)
#   MEM_CONNS (1000)    connections of the memory runs
#   MEM_MSGS ("3 30")   messages per connection of the memory runs (one run,
#                       with a fresh server, per value)
#   MEM_IDLE (3)        seconds the memory connections stay idle (>= 2)
#   WSX                 wsx binary to measure (default: built here with
#                       `cargo build --release`, under CARGO_TARGET_DIR or
#                       target/). Careful with a CARGO_TARGET_DIR shared with
#                       another worktree of this workspace: both build the
#                       same cargo unit there, so target/release/wsx is
#                       whichever tree built last. Use a private target
#                       directory or pass WSX.
#   WSX_BASE            a second wsx binary, run as wsx-base / wsx-base-plain
#   WSX_VARIANTS        "NAME:FLAGS;NAME:FLAGS": extra `wsx serve` servers
#                       (FLAGS may start with @/path/to/wsx: another binary)
#   TT                  tungstenite-echo binary (default: built here)
#   SERVERS             space-separated subset of the server names to run
#                       (default: all)
#   PEERS (target/peers-bench)       where Node ws@8 (npm) and Python
#                       websockets (PyPI, in a venv) are installed on first use
#   PEERS_RUST_TARGET (target/peers-rust)  CARGO_TARGET_DIR of the Rust peers
#   OUT (target/side-by-side)        raw JSON lines: runs.jsonl, memory.jsonl,
#                       meta.json, server logs; report.md (the tables)
#
# Every listener and connection is on 127.0.0.1; every load run is bounded
# by its message count and TIMEOUT and stops by itself. A server that fails
# to start (or dies) is reported as FAILED and the script exits 1 at the end;
# a load run with any error or mismatch counts as a failed run (also exit 1).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
ROUNDS="${ROUNDS:-5}"
WARMUP="${WARMUP:-1}"
CONNS="${CONNS:-20}"
MSGS="${MSGS:-400}"
TIMEOUT="${TIMEOUT:-120}"
MEM_CONNS="${MEM_CONNS:-1000}"
MEM_MSGS="${MEM_MSGS:-3 30}"
MEM_IDLE="${MEM_IDLE:-3}"
PEERS="${PEERS:-$ROOT/target/peers-bench}"
PEERS_RUST_TARGET="${PEERS_RUST_TARGET:-$ROOT/target/peers-rust}"
OUT="${OUT:-$ROOT/target/side-by-side}"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
LOAD="$ROOT/benches/peers/load_ws.js"
CLK_TCK="$(getconf CLK_TCK)"

die() { echo "side-by-side: $*" >&2; exit 1; }
log() { echo "== $*" >&2; }
# shellcheck source=benches/bench-common.sh
. "$ROOT/benches/bench-common.sh"

[ "$MEM_IDLE" -ge 2 ] || die "MEM_IDLE must be >= 2 (seconds)"
# 1000 connections need 1000+ descriptors in the client and in each server.
raise_fd_limit $((MEM_CONNS + 200)) "MEM_CONNS=$MEM_CONNS"

# ---------------------------------------------------------------- build/install
if [ -z "${WSX:-}" ]; then
    log "building wsx (release) into $TARGET_DIR"
    cargo build --release -q -p wsx-cli --bin wsx
    WSX="$TARGET_DIR/release/wsx"
fi
if [ -z "${TT:-}" ]; then
    log "building tungstenite-echo (release) into $TARGET_DIR"
    cargo build --release -q -p benches --bin tungstenite-echo
    TT="$TARGET_DIR/release/tungstenite-echo"
fi
[ -x "$WSX" ] || die "WSX=$WSX is not an executable"
[ -x "$TT" ] || die "TT=$TT is not an executable"
[ -z "${WSX_BASE:-}" ] || [ -x "$WSX_BASE" ] || die "WSX_BASE=$WSX_BASE is not an executable"
# Run copies: a build in a shared target directory (another worktree, another
# helper) must not swap a binary between two runs of this script's servers.
mkdir -p "$OUT/bin"
WSX_SRC="$WSX"
cp "$WSX" "$OUT/bin/wsx" && WSX="$OUT/bin/wsx"
cp "$TT" "$OUT/bin/tungstenite-echo" && TT="$OUT/bin/tungstenite-echo"
if [ -n "${WSX_BASE:-}" ]; then
    WSX_BASE_SRC="$WSX_BASE"
    cp "$WSX_BASE" "$OUT/bin/wsx-base" && WSX_BASE="$OUT/bin/wsx-base"
fi

# One cargo invocation per peer: built together, their flate2 features would
# unify and ratchet's C zlib would replace the others' zlib-rs.
log "building the Rust peers (release, --locked, one at a time) into $PEERS_RUST_TARGET"
for p in echo-sockudo echo-yawc echo-ratchet echo-wtx; do
    (cd "$ROOT/benches/peers/rust" &&
        CARGO_TARGET_DIR="$PEERS_RUST_TARGET" cargo build --release --locked -q -p "$p")
done
RPEERS="$PEERS_RUST_TARGET/release"

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
export NODE_PATH="$PEERS/node/node_modules"

# ---------------------------------------------------------------- server table
# NAMES: run order (the interleaving order); CMD: how to start it; MODE:
# deflate (the client offers permessage-deflate) or plain (--no-deflate);
# REF: the server its ratios are taken against.
NAMES=()
declare -A CMD MODE REF
add() { NAMES+=("$1"); MODE[$1]="$2"; REF[$1]="$3"; CMD[$1]="$4"; }
add wsx deflate wsx "$WSX serve --listen 127.0.0.1:0"
add wsx-plain plain wsx-plain "$WSX serve --listen 127.0.0.1:0"
if [ -n "${WSX_BASE:-}" ]; then
    add wsx-base deflate wsx "$WSX_BASE serve --listen 127.0.0.1:0"
    add wsx-base-plain plain wsx-plain "$WSX_BASE serve --listen 127.0.0.1:0"
fi
if [ -n "${WSX_VARIANTS:-}" ]; then
    IFS=';' read -r -a variants <<<"$WSX_VARIANTS"
    for v in "${variants[@]}"; do
        [ -n "${v// /}" ] || continue
        vname="${v%%:*}"
        vflags="${v#*:}"
        [ "$vname" != "$v" ] && [ -n "$vname" ] || die "WSX_VARIANTS entry '$v' is not NAME:FLAGS"
        vbin="$WSX"
        if [ "${vflags#@}" != "$vflags" ]; then # NAME:@/path/to/wsx FLAGS
            vbin="${vflags#@}"; vbin="${vbin%% *}"
            vflags="${vflags#@"$vbin"}"
            [ -x "$vbin" ] || die "WSX_VARIANTS entry '$v': $vbin is not executable"
        fi
        add "wsx-$vname" deflate wsx "$vbin serve --listen 127.0.0.1:0 $vflags"
    done
fi
add tokio-tungstenite plain wsx-plain "$TT --listen 127.0.0.1:0"
add node-ws deflate wsx "node $ROOT/benches/peers/echo_ws.js 0"
add python-websockets deflate wsx "$PEERS/venv-ws/bin/python $ROOT/benches/peers/echo_websockets.py 0"
add sockudo-ws deflate wsx "$RPEERS/echo-sockudo --listen 127.0.0.1:0"
add yawc deflate wsx "$RPEERS/echo-yawc --listen 127.0.0.1:0"
add ratchet deflate wsx "$RPEERS/echo-ratchet --listen 127.0.0.1:0"
add wtx deflate wsx "$RPEERS/echo-wtx --listen 127.0.0.1:0"
select_servers

# ---------------------------------------------------------------- metadata
ver_of_lock() { # CRATE LOCKFILE: the version of CRATE in a Cargo.lock
    awk -v n="$1" '$0 == "name = \"" n "\"" {getline; gsub(/version = |"/, ""); print; exit}' "$2"
}
{
    printf '{"date":"%s","machine":"%s","cores":%s,"clk_tck":%s' \
        "$(date -u +%FT%TZ)" "$(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)" "$(nproc)" "$CLK_TCK"
    printf ',"rounds":%s,"warmup":%s,"conns":%s,"msgs":%s,"timeout":%s' "$ROUNDS" "$WARMUP" "$CONNS" "$MSGS" "$TIMEOUT"
    printf ',"mem_conns":%s,"mem_msgs":"%s","mem_idle":%s' "$MEM_CONNS" "$MEM_MSGS" "$MEM_IDLE"
    printf ',"wsx":"%s","wsx_version":"%s","wsx_sha256":"%s"' "$WSX_SRC" "$("$WSX" --version)" "$(sha256sum "$WSX" | cut -c1-16)"
    if [ -n "${WSX_BASE:-}" ]; then
        printf ',"wsx_base":"%s","wsx_base_version":"%s","wsx_base_sha256":"%s"' \
            "$WSX_BASE_SRC" "$("$WSX_BASE" --version)" "$(sha256sum "$WSX_BASE" | cut -c1-16)"
    fi
    printf ',"wsx_variants":"%s"' "${WSX_VARIANTS:-}"
    printf ',"node":"%s","ws":"%s"' "$(node --version)" "$(node -p 'require("ws/package.json").version')"
    printf ',"python":"%s","websockets":"%s"' "$("$PEERS/venv-ws/bin/python" --version | cut -d' ' -f2)" \
        "$("$PEERS/venv-ws/bin/python" -c 'import websockets; print(websockets.__version__)')"
    printf ',"tokio-tungstenite":"%s"' "$(ver_of_lock tokio-tungstenite "$ROOT/Cargo.lock")"
    for c in sockudo-ws yawc ratchet_rs ratchet_deflate wtx flate2 zlib-rs libz-rs-sys; do
        printf ',"%s":"%s"' "$c" "$(ver_of_lock "$c" "$ROOT/benches/peers/rust/Cargo.lock")"
    done
    printf ',"corpus":%s' "$(node "$LOAD" --corpus-stats)"
    printf ',"servers":['
    sep=''
    for n in "${NAMES[@]}"; do
        printf '%s{"name":"%s","mode":"%s","ref":"%s","cmd":"%s"}' "$sep" "$n" "${MODE[$n]}" "${REF[$n]}" "${CMD[$n]}"
        sep=','
    done
    printf ']}\n'
} >"$OUT/meta.json"

# ---------------------------------------------------------------- servers

stop() {
    local name="$1" pid="${PID[$1]:-}"
    [ -n "$pid" ] || return 0
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    unset "PID[$name]"
}

# cpu_ticks PID: utime+stime of every thread of the process, in CLK_TCK
# ticks (fields 14 and 15 of /proc/PID/stat, counted after the `comm` field,
# which may contain spaces).
cpu_ticks() {
    local s
    s="$(cat "/proc/$1/stat")" || return 1
    s="${s##*) }"
    # shellcheck disable=SC2086
    set -- $s
    echo $(( ${12} + ${13} ))
}
# cpu_ns PID: sum of the on-CPU ns of the live threads (schedstat).
# (%.0f, not %d: mawk's %d saturates at 2^31 ns.)
cpu_ns() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{s += $1} END {printf "%.0f\n", s}'; }
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

load_flags() { [ "${MODE[$1]}" = plain ] && echo --no-deflate || true; }

# ---------------------------------------------------------------- throughput
RESULTS="$OUT/runs.jsonl"
MEMF="$OUT/memory.jsonl"
: >"$RESULTS"
: >"$MEMF"
for n in "${NAMES[@]}"; do
    if start "$n" /; then log "$n on ${URL[$n]} (pid ${PID[$n]})"; fi
done

# run_load NAME ROUND: one load run against a running server.
run_load() {
    local name="$1" round="$2" pid="${PID[$1]:-}" line rc t0 t1 n0 n1
    if [ -z "$pid" ] || ! kill -0 "$pid" 2>/dev/null; then
        [ -n "${FAILED[$name]:-}" ] || FAILED[$name]="exited during the run (see $OUT/$name.server.log)"
        echo "{\"server\":\"$name\",\"round\":$round,\"failed\":\"server not running\"}" >>"$RESULTS"
        return 0
    fi
    t0="$(cpu_ticks "$pid")"; n0="$(cpu_ns "$pid")"
    rc=0
    # shellcheck disable=SC2046
    line="$(timeout -k 5 $((TIMEOUT + 15)) node "$LOAD" --url "${URL[$name]}" --connections "$CONNS" \
        --messages "$MSGS" --timeout "$TIMEOUT" $(load_flags "$name") 2>>"$OUT/$name.load.err")" || rc=$?
    if ! t1="$(cpu_ticks "$pid" 2>/dev/null)"; then
        FAILED[$name]="exited during a load run (see $OUT/$name.server.log)"
        t1="$t0"
    fi
    n1="$(cpu_ns "$pid")"
    [ -n "$line" ] || line='{"errors":-1}'
    echo "{\"server\":\"$name\",\"mode\":\"${MODE[$name]}\",\"round\":$round,\"rc\":$rc,\"cpu_ticks\":$((t1 - t0)),\"clk_tck\":$CLK_TCK,\"cpu_ns_threads\":$((n1 - n0)),\"load\":$line}" >>"$RESULTS"
    tail -1 "$RESULTS" | python3 -c '
import json, sys
r = json.load(sys.stdin); l = r["load"]; m = l.get("msgs") or 0
cpu = r["cpu_ticks"] / r["clk_tck"] * 1e6 / m if m else float("nan")
print("   %-18s %7.1f us/msg  %6.0f/%6.0f B/msg s->c/c->s  %7.0f msg/s  errors %s mismatches %s rc %s" % (
    r["server"], cpu, l.get("wire_s2c_per_msg") or 0, l.get("wire_c2s_per_msg") or 0,
    l.get("msgs_per_s") or 0, l.get("errors"), l.get("mismatches"), r["rc"]))' >&2
}

log "throughput: $CONNS connections x $MSGS round trips per run, $ROUNDS rounds, interleaved"
# Round 0 is a warm-up (JIT, allocator, thread pools), recorded but left out
# of the medians.
for round in $(seq "$((WARMUP > 0 ? 0 : 1))" "$ROUNDS"); do
    if [ "$round" = 0 ]; then log "warm-up round"; else log "round $round/$ROUNDS"; fi
    for n in "${NAMES[@]}"; do run_load "$n" "$round"; done
done
for n in "${NAMES[@]}"; do stop "$n"; done

# ---------------------------------------------------------------- memory
# For each server and each K in MEM_MSGS: a fresh server; RSS before any
# connection; MEM_CONNS connections opened (all, before any traffic), K round
# trips on each, then RSS 0.2 s after the traffic ends ("just after traffic")
# and after MEM_IDLE s idle ("idle"); then the client closes them all.
log "memory: $MEM_CONNS connections, K in {$MEM_MSGS} messages each, then $MEM_IDLE s idle"
for k in $MEM_MSGS; do
    for n in "${NAMES[@]}"; do
        if [ -n "${FAILED[$n]:-}" ] || ! start "$n" /; then
            echo "{\"server\":\"$n\",\"k\":$k,\"failed\":\"server not started\"}" >>"$MEMF"
            continue
        fi
        pid="${PID[$n]}"
        sleep 0.5
        before="$(rss_kib "$pid")"
        errf="$OUT/$n.mem$k.err"
        memout="$OUT/$n.mem$k.json"
        # Truncate here, not in the background job: the poll below must not
        # see the `holding` line of an earlier run before the job starts.
        : >"$errf"
        : >"$memout"
        # shellcheck disable=SC2046
        timeout -k 5 $((TIMEOUT + MEM_IDLE + 30)) node "$LOAD" --url "${URL[$n]}" --connections "$MEM_CONNS" \
            --messages "$k" --hold $((MEM_IDLE + 1)) --timeout $((TIMEOUT + MEM_IDLE + 10)) \
            $(load_flags "$n") >"$memout" 2>"$errf" &
        lpid=$!
        ALL_PIDS+=("$lpid")
        held=0
        for _ in $(seq 1 $((10 * (TIMEOUT + 10)))); do
            if grep -q '^holding' "$errf" 2>/dev/null; then held=1; break; fi
            kill -0 "$lpid" 2>/dev/null || break
            sleep 0.1
        done
        after=0 idle=0
        if [ "$held" = 1 ]; then
            sleep 0.2
            after="$(rss_kib "$pid" || echo 0)"
            sleep "$((MEM_IDLE))"
            idle="$(rss_kib "$pid" || echo 0)"
        fi
        rc=0
        wait "$lpid" || rc=$?
        line="$(head -1 "$memout")"
        [ -n "$line" ] || line='{"errors":-1}'
        kill -0 "$pid" 2>/dev/null || FAILED[$n]="exited during a memory run (see $OUT/$n.server.log)"
        echo "{\"server\":\"$n\",\"mode\":\"${MODE[$n]}\",\"k\":$k,\"conns\":$MEM_CONNS,\"held\":$held,\"rc\":$rc,\"rss_before_kib\":$before,\"rss_after_traffic_kib\":$after,\"rss_idle_kib\":$idle,\"load\":$line}" >>"$MEMF"
        log "$(printf '%-18s K=%-3s before %7s KiB  after traffic %7s KiB  idle %7s KiB  rc %s' "$n" "$k" "$before" "$after" "$idle" "$rc")"
        stop "$n"
    done
done

# ---------------------------------------------------------------- report
write_failed
python3 "$ROOT/benches/side_by_side_report.py" "$OUT" | tee "$OUT/report.md"
