#!/usr/bin/env bash
# The test suite under the sanitizers: everything under AddressSanitizer + UndefinedBehavior-
# Sanitizer, and the concurrency tests under ThreadSanitizer. Each in its own build directory.
set -euo pipefail
cd "$(dirname "$0")/.."
# ccache keyed on paths relative to the checkout, so a fresh clone reuses earlier builds.
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=true CCACHE_MAXSIZE="${CCACHE_MAXSIZE:-12G}"

configure_and_build() {  # dir flags
  local dir=$1 flags=$2
  cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_COMPILER_LAUNCHER=ccache \
    -DCMAKE_CXX_FLAGS="$flags -fno-omit-frame-pointer -O1 -Wno-maybe-uninitialized" \
    -DCMAKE_EXE_LINKER_FLAGS="$flags" -DCMAKE_SHARED_LINKER_FLAGS="$flags" \
    -DSESSIONKIT_BUILD_TESTS=ON >/dev/null
  cmake --build "$dir" -j "${SESSIONKIT_JOBS:-2}"
}

if [[ "${1:-all}" == all || "${1:-}" == asan ]]; then
  echo "== AddressSanitizer + UndefinedBehaviorSanitizer: the whole suite (the browser test once)"
  configure_and_build build-asan "-fsanitize=address,undefined -fno-sanitize-recover=all"
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1 \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir build-asan --output-on-failure -j 2 -E 'browser_login_demo\.(redis|sqlite)'
fi

if [[ "${1:-all}" == all || "${1:-}" == tsan ]]; then
  echo "== ThreadSanitizer: the concurrency tests"
  configure_and_build build-tsan "-fsanitize=thread -Wno-tsan"
  # Tests that run work on several threads at once: the stores from many threads, the
  # conformance suite (two completion threads), Redis pipelining, multi-threaded servers.
  TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$PWD/tests/tsan.supp" \
    ctest --test-dir build-tsan --output-on-failure -j 2 \
      -R 'memory_store|store_conformance|redis_store_fixture|example_server_threads|sqlite_example|redis_example.two_servers|three_frameworks|hardening_shutdown|engine_decision|destroy_final|asio_forms|beast_entry|lock_mode|merge_mode|concurrency_control|concurrency_frameworks'
fi
