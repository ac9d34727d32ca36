#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan) and runs each for SECONDS (default 30).
set -euo pipefail
cd "$(dirname "$0")/.."
# ccache keyed on paths relative to the checkout, so a fresh clone reuses earlier builds.
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=true CCACHE_MAXSIZE="${CCACHE_MAXSIZE:-12G}"
seconds="${1:-30}"
build_dir="${SESSIONKIT_FUZZ_BUILD_DIR:-build-fuzz}"
flags="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -g -O1"
CC=clang CXX=clang++ cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Debug \
  -DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_FLAGS="$flags" \
  -DSESSIONKIT_BUILD_TESTS=OFF -DSESSIONKIT_BUILD_EXAMPLES=OFF -DSESSIONKIT_WITH_BEAST=OFF \
  -DSESSIONKIT_BUILD_FUZZERS=ON -DSESSIONKIT_FUZZ_SECONDS="$seconds" >/dev/null
cmake --build "$build_dir" -j 2
log="$build_dir/fuzz.log"
status=0
ctest --test-dir "$build_dir" -L fuzz --output-on-failure -V -j 2 >"$log" 2>&1 || status=$?
grep -E "Test +#|stat::number_of_executed_units|SUMMARY|ERROR|tests passed" "$log" || true
exit "$status"
