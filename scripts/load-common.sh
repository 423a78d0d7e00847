# shellcheck shell=bash
# Sourced by scripts/load-fault.sh and scripts/soak.sh. build_wsx_and_driver: build the `wsx`
# binary and the load_fault driver with cargo profile $1 (release or dev),
# then set BIN and DRIVER to their paths.
build_wsx_and_driver() {
    local profile="$1" dir td
    if [ "$profile" = release ]; then dir=release; else dir=debug; fi
    export CARGO_TERM_COLOR=never
    echo "== building wsx and the load_fault driver ($profile)"
    cargo build --profile "$profile" -p wsx-cli --bin wsx
    cargo build --profile "$profile" -p wsx --example load_fault
    td="${CARGO_TARGET_DIR:-target}"
    BIN="$td/$dir/wsx"
    # shellcheck disable=SC2034 # read by the sourcing script
    DRIVER="$td/$dir/examples/load_fault"
}

# Raise the descriptor limit (for this shell and the server), start
# `$BIN serve` on a free loopback port and wait for its address: sets LOG
# (a scratch directory with its stdout/stderr), SERVER (its pid) and URL
# (ws://IP:PORT), and a trap that stops it and removes LOG on exit.
start_wsx_serve() {
    ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
    LOG=$(mktemp -d)
    "$BIN" serve --listen 127.0.0.1:0 >"$LOG/stdout" 2>"$LOG/stderr" &
    SERVER=$!
    trap 'kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; rm -rf "$LOG"' EXIT
    for _ in $(seq 1 100); do
        grep -q '^listening on ' "$LOG/stdout" 2>/dev/null && break
        sleep 0.1
    done
    URL=$(sed -n 's/^listening on //p' "$LOG/stdout" | head -1)
    [ -n "$URL" ] || { echo "wsx serve did not start:"; cat "$LOG/stderr"; exit 1; }
}
