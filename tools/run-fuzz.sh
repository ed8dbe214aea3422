#!/bin/sh
# Build the libFuzzer targets (clang, ASan+UBSan) and run each for a bounded time on its
# seed corpus (tests/fuzz/corpus/<target>).  A crash leaves crash-* files in the build
# dir and fails this script.  Usage: tools/run-fuzz.sh [SECONDS_PER_TARGET] [BUILD_DIR]
# The HDF5 targets take recipes (tests/fuzz/fuzz_h5recipe.h); docs/hardening.md.
set -eu
secs=${1:-30}
dir=${2:-build-fuzz}
top=$(cd "$(dirname "$0")/.." && pwd)
CC=clang cmake -S "$top" -B "$dir" -DXBAR_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$dir" -j "$(nproc)"
dir=$(cd "$dir" && pwd) # the runs below cd into it: corpus paths must not be relative
status=0
for t in "$dir"/fuzz_*; do
    [ -x "$t" ] || continue
    name=$(basename "$t")
    corpus="$top/tests/fuzz/corpus/${name#fuzz_}"
    work="$dir/corpus-${name#fuzz_}"
    mkdir -p "$work"
    echo "fuzz: $name for ${secs}s"
    # Leak reports from libhdf5/libngspice internals are suppressed (tools/lsan.supp).
    if ! (cd "$dir" && ASAN_OPTIONS=detect_leaks=1 LSAN_OPTIONS="suppressions=$top/tools/lsan.supp" \
            "./$name" -max_total_time="$secs" \
            -timeout=10 -rss_limit_mb=2048 "$work" ${corpus:+"$corpus"} >"$name.log" 2>&1); then
        echo "fuzz: $name FAILED (see $dir/$name.log)"; tail -30 "$dir/$name.log"; status=1
    else
        tail -1 "$dir/$name.log"
    fi
done
exit $status
