# Sourced by scripts/load-fault.sh and scripts/soak.sh: build the `wsx`
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
    DRIVER="$td/$dir/examples/load_fault"
}
