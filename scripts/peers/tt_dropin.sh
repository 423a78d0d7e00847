#!/usr/bin/env bash
# wsx-tokio-tungstenite, the drop-in for tokio-tungstenite, against real
# peers (Python websockets, Node ws), for conformance.sh.
#
#   scripts/peers/tt_dropin.sh [--peers DIR] [--out DIR] [--build-only]
#
#   --peers DIR   where conformance.sh installed the peers (venv-ws, node);
#                 default <repo>/target/peers
#   --out DIR     work directory; default <repo>/target/conformance/tt-dropin
#   --build-only  steps 1 and 2 only (conformance.sh builds the examples once
#                 this way before the parts that run them: tt-autobahn-server,
#                 tt-autobahn-client, dropin-chromium)
#
# 1. Builds the crate's examples (echo-server, client: tokio-tungstenite
#    programs).
# 2. Copies tokio-tungstenite 0.30's own examples, unchanged, from the cargo
#    registry into a scratch crate whose Cargo.toml has only
#    `tokio-tungstenite = { package = "wsx-tokio-tungstenite", path = ... }`
#    (plus what the examples themselves use) and builds each: one RESULT
#    line counts those that compile. The binaries are
#    $CARGO_TARGET_DIR/release/examples/tt-upstream-NAME. The scratch crate
#    is rewritten only where it changed (the sources keep the registry's
#    mtimes), so a second run with the same --out builds nothing.
# 3. Runs peers/tt_dropin.py for python and node: both roles with the
#    crate's examples, and tokio-tungstenite's echo-server and chat server.
#
# Prints PASS/FAIL lines and `RESULT<TAB>peer<TAB>role<TAB>passed<TAB>failed`
# lines; exit status 1 on any failure. A missing peer, registry source or
# build failure is a failed RESULT line, never a skip.
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
P="$REPO/target/peers"
OUT="$REPO/target/conformance/tt-dropin"
BUILD_ONLY=0
while [ $# -gt 0 ]; do
    case "$1" in
        --peers) P="$2"; shift 2 ;;
        --out) OUT="$2"; shift 2 ;;
        --build-only) BUILD_ONLY=1; shift ;;
        *) echo "usage: $0 [--peers DIR] [--out DIR] [--build-only]" >&2; exit 2 ;;
    esac
done
mkdir -p "$OUT"
TARGET="${CARGO_TARGET_DIR:-$REPO/target}"
EX="$TARGET/release/examples"
rc=0
result() { printf 'RESULT\t%s\t%s\t%d\t%d\n' "$1" "$2" "$3" "$4"; [ "$4" = 0 ] || rc=1; }

# 1. The crate's own examples.
if cargo build -q --release --manifest-path "$REPO/Cargo.toml" -p wsx-tokio-tungstenite --examples \
        >"$OUT/build-examples.log" 2>&1; then
    result rust "wsx-tokio-tungstenite examples build" 1 0
else
    echo "FAIL building wsx-tokio-tungstenite's examples (see $OUT/build-examples.log)"
    result rust "wsx-tokio-tungstenite examples build" 0 1
fi

# 2. tokio-tungstenite's examples with the renamed dependency.
UP_ROLE="tokio-tungstenite 0.30 examples build unchanged (renamed dependency)"
UPSRC=""
for d in "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/tokio-tungstenite-0.30.0/examples; do
    [ -d "$d" ] && UPSRC="$d"
done
UP="$OUT/upstream"
if [ -z "$UPSRC" ]; then
    # The workspace depends on tokio-tungstenite 0.30 (benches, tests), so
    # a fetch brings its source.
    cargo fetch -q --manifest-path "$REPO/Cargo.toml" >/dev/null 2>&1 || true
    for d in "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/tokio-tungstenite-0.30.0/examples; do
        [ -d "$d" ] && UPSRC="$d"
    done
fi
if [ -z "$UPSRC" ]; then
    echo "FAIL tokio-tungstenite 0.30's sources are not in the cargo registry"
    result rust "$UP_ROLE" 0 1
else
    # (cp -p: the registry's mtimes, so that cargo sees nothing new when
    # the files are the same as last time)
    mkdir -p "$UP/examples" "$UP/src"
    rm -f "$UP"/examples/*.rs
    cp -p "$UPSRC"/*.rs "$UP/examples/"
    [ -f "$UP/src/lib.rs" ] || : >"$UP/src/lib.rs"
    cp "$REPO/Cargo.lock" "$UP/Cargo.lock"
    {
        cat <<TOML
[package]
name = "tt-upstream-examples"
version = "0.0.0"
edition = "2021"
publish = false

[workspace]

[dependencies]
tokio-tungstenite = { package = "wsx-tokio-tungstenite", path = "$REPO/integration/tokio-tungstenite" }
# What tokio-tungstenite's examples use themselves (its dev-dependencies).
tokio = { version = "1", features = ["full"] }
futures-util = { version = "0.3", default-features = false, features = ["sink", "std"] }
futures-channel = "0.3"
log = "0.4"
env_logger = "0.10"
http-body-util = "0.1"
hyper = { version = "1", features = ["http1", "server"] }
hyper-util = { version = "0.1", features = ["tokio"] }
TOML
        # Prefixed names: the binaries share the target directory with the
        # workspace, whose examples include an echo-server and a client.
        for f in "$UP"/examples/*.rs; do
            n="$(basename "$f" .rs)"
            printf '\n[[example]]\nname = "tt-upstream-%s"\npath = "examples/%s.rs"\n' "$n" "$n"
        done
    } >"$UP/Cargo.toml.new"
    if cmp -s "$UP/Cargo.toml.new" "$UP/Cargo.toml"; then rm -f "$UP/Cargo.toml.new"; else mv "$UP/Cargo.toml.new" "$UP/Cargo.toml"; fi
    pass=0 fail=0
    for f in "$UP"/examples/*.rs; do
        n="$(basename "$f" .rs)"
        if CARGO_TARGET_DIR="$TARGET" cargo build -q --release --manifest-path "$UP/Cargo.toml" \
                --example "tt-upstream-$n" >"$OUT/build-upstream-$n.log" 2>&1; then
            echo "PASS rust | $UP_ROLE | $n"
            pass=$((pass + 1))
        else
            echo "FAIL rust | $UP_ROLE | $n (see $OUT/build-upstream-$n.log)"
            fail=$((fail + 1))
        fi
    done
    result rust "$UP_ROLE" $pass $fail
fi

[ "$BUILD_ONLY" = 0 ] || exit $rc

# 3. Real peers.
PY="$P/venv-ws/bin/python"
run_peer() {
    local peer="$1"
    if [ ! -x "$PY" ] || ! "$PY" -c 'import websockets' 2>/dev/null; then
        echo "FAIL $peer: no Python websockets in $P/venv-ws"
        result "$peer" "tt_dropin.py" 0 1
        return
    fi
    if [ "$peer" = node ] && { ! command -v node >/dev/null || [ ! -d "$P/node/node_modules/ws" ]; }; then
        echo "FAIL node: no node, or no ws in $P/node/node_modules"
        result node "tt_dropin.py" 0 1
        return
    fi
    NODE_PATH="$P/node/node_modules" "$PY" "$HERE/tt_dropin.py" --peer "$peer" \
        --echo-server "$EX/echo-server" --client "$EX/client" \
        --upstream-echo-server "$EX/tt-upstream-echo-server" \
        --upstream-chat-server "$EX/tt-upstream-server" || rc=1
}
run_peer python
run_peer node
exit $rc
