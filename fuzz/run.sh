#!/usr/bin/env bash
# Runs every cargo-fuzz target in fuzz/ for SECONDS each (default 20), one after another, and
# exits non-zero if any of them crashed, panicked, hung or went over its memory limits.
#
#   fuzz/run.sh              # 20 s per target: the bounded run .ci/run does
#   fuzz/run.sh 3600         # the long run: an hour per target (before a release, after a
#                            # parser change; let it run overnight with 28800)
#   fuzz/run.sh 600 chunked  # one target (or several) only
#
# Toolchain: cargo-fuzz (installed here if missing) drives libFuzzer, which needs the
# SanitizerCoverage instrumentation that stable rustc has (-Cpasses=sancov-module and -Cllvm-args
# are stable). AddressSanitizer, though, is `-Zsanitizer=address`, a nightly-only flag, and only
# the stable toolchain is installed. RUSTC_BOOTSTRAP=1 lets this same stable compiler accept
# unstable flags (it is how the Rust project builds its own compiler); it is set for the fuzz
# build only, where a dependency's build script probing for nightly features may also see them.
# ASan is worth it: the parsers run over httparse's SIMD code, `MaybeUninit` header slots and
# `bytes`, where a memory error would not panic, and it makes libFuzzer's -malloc_limit_mb
# work. Set FUZZ_SANITIZER=none to build without it (no -Z flag, no RUSTC_BOOTSTRAP; three to
# four times the executions per second, but memory errors in unsafe code go unseen).
#
# Corpus: the hand-written seeds in corpus/<target>/ and the reproducers in
# regressions/<target>/ are read, never written; what libFuzzer finds goes to work/corpus/<target>/
# (git-ignored, kept between runs so a long run resumes). A crash is saved in
# artifacts/<target>/; minimize it with `cargo fuzz tmin <target> <file>` (same sanitizer
# flags), and if it is a bug in src/ commit the minimized file to regressions/<target>/.
#
# Limits applied to every input: 10 s (a hang is a crash), 2 GiB RSS, no single allocation over
# 256 MiB; each target also checks its own allocation peak against its input's size.
set -euo pipefail
cd "$(dirname "$0")"

per_target=${1:-20}
shift || true
all_targets=(request_head chunked response_head cache_control header_fields playlist signed_url)
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=("${all_targets[@]}")
fi

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "== installing cargo-fuzz"
    cargo install cargo-fuzz --locked --version '^0.13'
fi

sanitizer=${FUZZ_SANITIZER:-address}
flags=(--sanitizer "$sanitizer" --target-dir "target/$sanitizer")
if [ "$sanitizer" != none ]; then
    export RUSTC_BOOTSTRAP=1
fi

# The fuzz crate's lock starts from the daemon's, so the parsers are fuzzed with exactly the
# dependency versions the daemon is built and tested with (httparse above all); cargo only adds
# the fuzz-only crates (libfuzzer-sys). Derived, hence git-ignored.
cp ../Cargo.lock Cargo.lock

echo "== building fuzz targets (sanitizer: $sanitizer)"
build_start=$(date +%s)
cargo fuzz build "${flags[@]}"
echo "   built in $(($(date +%s) - build_start)) s"

mkdir -p work/logs
failed=()
for target in "${targets[@]}"; do
    mkdir -p "work/corpus/$target"
    inputs=("work/corpus/$target" "corpus/$target")
    if [ -d "regressions/$target" ]; then
        inputs+=("regressions/$target")
    fi
    # Heads may be up to 32 KiB (requests) and 64 KiB (responses): let inputs grow past both.
    max_len=4096
    case $target in request_head | response_head) max_len=70000 ;; esac
    log="work/logs/$target.log"
    echo "== fuzzing $target for ${per_target} s (log: fuzz/$log)"
    if cargo fuzz run "${flags[@]}" "$target" "${inputs[@]}" -- \
        -max_total_time="$per_target" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=256 \
        -max_len="$max_len" -print_final_stats=1 >"$log" 2>&1; then
        runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
        corpus=$(find "${inputs[@]}" -type f | wc -l)
        echo "   ok: ${runs:-?} executions, $corpus corpus inputs"
    else
        echo "   FAILED: $target; what failed, then the end of the log:"
        grep -m 1 -A 2 -E "panicked at|ERROR: libFuzzer|ERROR: AddressSanitizer" "$log" || true
        tail -n 25 "$log"
        failed+=("$target")
    fi
done

if [ ${#failed[@]} -gt 0 ]; then
    echo "== fuzzing failed: ${failed[*]} (crash inputs are in fuzz/artifacts/)"
    exit 1
fi
echo "== fuzzing passed: ${targets[*]}"
