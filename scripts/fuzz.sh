#!/usr/bin/env bash
# Bounded fuzz runs of every parser that reads peer bytes (fuzz/, cargo-fuzz
# + libFuzzer). Stops by itself.
#
#   scripts/fuzz.sh                 every target, 120 s each
#   scripts/fuzz.sh --smoke         every target, 20 s each (CI)
#   scripts/fuzz.sh --time 600 frame_decoder deflate_decode
#   scripts/fuzz.sh --replay        only replay seeds + regressions (no fuzzing)
#
# Installs cargo-fuzz itself if missing (`cargo install cargo-fuzz`, ~1.5 min
# on 2 cores). The toolchain is stable Rust: cargo-fuzz's nightly-only flags
# (-Zsanitizer, sancov passes) are enabled with RUSTC_BOOTSTRAP=1. The first
# build of the fuzz crate takes several minutes (it builds the engine with
# the tokio stack and AddressSanitizer); later runs reuse fuzz/target.
#
# Inputs: fuzz/seeds/<target>/ (committed seeds), fuzz/regressions/<target>/
# (committed crash inputs, replayed first, must pass), fuzz/corpus/<target>/
# (the working corpus, not committed). A crash is written to
# fuzz/artifacts/<target>/ and the script exits 1 after the other targets ran.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

# Every target is a [[bin]] of fuzz/Cargo.toml: its `name`, in file order.
mapfile -t ALL < <(awk '/^\[\[bin\]\]/ { bin = 1; next }
    /^\[/ { bin = 0 }
    bin && /^name *=/ { gsub(/^name *= *"|"$/, ""); print; bin = 0 }' Cargo.toml)
[ ${#ALL[@]} -gt 0 ] || { echo "fuzz.sh: no [[bin]] target in fuzz/Cargo.toml" >&2; exit 2; }
SECS=120
REPLAY_ONLY=0
TARGETS=()
while [ $# -gt 0 ]; do
    case "$1" in
        --smoke) SECS=20 ;;
        --time) SECS="$2"; shift ;;
        --replay) REPLAY_ONLY=1 ;;
        -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
        -*) echo "fuzz.sh: unknown option $1" >&2; exit 2 ;;
        *) TARGETS+=("$1") ;;
    esac
    shift
done
[ ${#TARGETS[@]} -eq 0 ] && TARGETS=("${ALL[@]}")
for t in "${TARGETS[@]}"; do
    [[ " ${ALL[*]} " == *" $t "* ]] || { echo "fuzz.sh: no target $t (targets: ${ALL[*]})" >&2; exit 2; }
done

export RUSTC_BOOTSTRAP=1
export CARGO_TERM_COLOR=never

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "== installing cargo-fuzz"
    t0=$(date +%s)
    cargo install cargo-fuzz --locked
    echo "== cargo-fuzz installed in $(( $(date +%s) - t0 )) s"
fi

# Debug assertions on: integer overflow is a bug worth finding here.
FLAGS=(-O --debug-assertions)
echo "== building fuzz targets"
t0=$(date +%s)
cargo fuzz build "${FLAGS[@]}"
echo "== built in $(( $(date +%s) - t0 )) s"

failed=()
for t in "${TARGETS[@]}"; do
    corpus="corpus/$t"
    mkdir -p "$corpus" "artifacts/$t"
    # Replay the committed seeds and regression inputs: each must pass.
    inputs=()
    for d in "seeds/$t" "regressions/$t"; do
        [ -d "$d" ] && for f in "$d"/*; do [ -f "$f" ] && inputs+=("$f"); done
    done
    if [ ${#inputs[@]} -gt 0 ]; then
        echo "== $t: replaying ${#inputs[@]} seed/regression inputs"
        if ! cargo fuzz run "${FLAGS[@]}" "$t" "${inputs[@]}" -- -runs=1 >"artifacts/$t/replay.log" 2>&1; then
            tail -40 "artifacts/$t/replay.log"
            echo "!! $t: a seed or regression input fails"
            failed+=("$t(replay)")
            continue
        fi
    fi
    [ "$REPLAY_ONLY" = 1 ] && continue
    echo "== $t: fuzzing for ${SECS} s"
    # -timeout: one input taking >10 s is a hang; -rss_limit_mb: 2 GiB is a
    # leak or an unbounded allocation on peer input.
    if cargo fuzz run "${FLAGS[@]}" "$t" "$corpus" "seeds/$t" -- \
        -max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
        -print_final_stats=1 >"artifacts/$t/run.log" 2>&1; then
        grep -E 'stat::number_of_executed_units|stat::peak_rss_mb' "artifacts/$t/run.log" | tr '\n' ' '
        echo
    else
        tail -60 "artifacts/$t/run.log"
        echo "!! $t: crash, hang or leak; input saved under fuzz/artifacts/$t/"
        failed+=("$t")
    fi
done

if [ ${#failed[@]} -gt 0 ]; then
    echo "FUZZ FAILED: ${failed[*]}"
    exit 1
fi
if [ "$REPLAY_ONLY" = 1 ]; then
    echo "fuzz: ${#TARGETS[@]} targets replayed their seeds and regressions"
else
    echo "fuzz: ${#TARGETS[@]} targets passed (${SECS} s each)"
fi
