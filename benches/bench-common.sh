# shellcheck shell=bash
# Shared by benches/side-by-side.sh and benches/broadcast.sh (sourced, not
# run). The caller defines `die` and `log`, sets OUT, and fills NAMES (the
# servers, in run order) and CMD[NAME] (each server's command line; it
# prints `listening on URL` when ready).

# shellcheck disable=SC2034 # PID and URL are read by the caller
declare -A PID URL FAILED
ALL_PIDS=()

# raise_fd_limit N WHAT: raise the soft descriptor limit to the hard one
# and fail unless it allows N.
raise_fd_limit() {
    ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
    [ "$(ulimit -n)" = unlimited ] || [ "$(ulimit -n)" -ge "$1" ] ||
        die "ulimit -n is $(ulimit -n): too low for $2"
}

# select_servers: with SERVERS set (names, space-separated), keep only those
# in NAMES, in that order; an unknown name is an error.
select_servers() {
    [ -n "${SERVERS:-}" ] || return 0
    local keep=() n
    for n in $SERVERS; do
        [ -n "${CMD[$n]:-}" ] || die "SERVERS: unknown server '$n' (known: ${NAMES[*]})"
        keep+=("$n")
    done
    NAMES=("${keep[@]}")
}

# Every server started is stopped when the script exits.
stop_all_servers() {
    local p
    for p in "${ALL_PIDS[@]:-}"; do if [ -n "$p" ]; then kill "$p" 2>/dev/null || true; fi; done
    for p in "${ALL_PIDS[@]:-}"; do if [ -n "$p" ]; then wait "$p" 2>/dev/null || true; fi; done
}
trap stop_all_servers EXIT

# start NAME [SUFFIX]: start a server, wait (<= 10 s) for its `listening on`
# line; sets PID[NAME] and URL[NAME] (the printed URL + SUFFIX), or
# FAILED[NAME] and returns 1.
start() {
    local name="$1" suffix="${2:-}" log="$OUT/$1.server.log" pid
    : >"$log"
    # shellcheck disable=SC2086 # CMD is a command line, split on purpose
    ${CMD[$name]} >"$log" 2>&1 &
    pid=$!
    ALL_PIDS+=("$pid")
    for _ in $(seq 1 100); do
        if grep -q '^listening on ' "$log"; then
            PID[$name]="$pid"
            URL[$name]="$(sed -n 's/^listening on //p' "$log" | head -1)$suffix"
            return 0
        fi
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill "$pid" 2>/dev/null || true
    FAILED[$name]="did not start: $(tail -c 300 "$log")"
    log "$name FAILED to start (see $log)"
    return 1
}

# write_failed: $OUT/failed.jsonl, one {"server", "failed"} line per FAILED
# server (JSON-quoted by python: the reasons quote server logs).
write_failed() {
    local n
    : >"$OUT/failed.jsonl"
    for n in "${!FAILED[@]}"; do
        python3 -c 'import json, sys; print(json.dumps({"server": sys.argv[1], "failed": sys.argv[2]}))' \
            "$n" "${FAILED[$n]}" >>"$OUT/failed.jsonl"
    done
}
