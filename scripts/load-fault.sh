#!/usr/bin/env bash
# Load-and-fault run (bounded, stops by itself): starts `wsx serve` on a
# free loopback port, then integration/examples/load_fault.rs opens many
# concurrent permessage-deflate connections exchanging numbered messages
# while a quarter of them are reset abruptly (often mid-frame). Passes only
# if every surviving connection got every message back, in order,
# byte-exact, and the server still serves afterwards.
#
#   scripts/load-fault.sh                      200 conns x 100 messages
#   scripts/load-fault.sh --conns 500 --messages 300 --victims 0.3 --seed 7
#   LOAD_PROFILE=dev scripts/load-fault.sh     unoptimised build (faster to build)
#
# Extra arguments go to the driver (see its --help). Traffic stays on
# 127.0.0.1. The whole run is capped by --max-seconds (default 120).
set -euo pipefail
cd "$(dirname "$0")/.."

PROFILE="${LOAD_PROFILE:-release}"
# shellcheck source=scripts/load-common.sh
. scripts/load-common.sh
build_wsx_and_driver "$PROFILE"

start_wsx_serve
echo "== server $URL (pid $SERVER)"

status=0
"$DRIVER" --url "$URL/" "$@" || status=$?

if ! kill -0 "$SERVER" 2>/dev/null; then
    echo "!! the server died during the run:"; tail -20 "$LOG/stderr"; exit 1
fi
echo "== server RSS after the run: $(awk '/VmRSS/ {print $2, $3}' /proc/$SERVER/status), peak $(awk '/VmHWM/ {print $2, $3}' /proc/$SERVER/status), open fds $(ls /proc/$SERVER/fd | wc -l)"
exit $status
