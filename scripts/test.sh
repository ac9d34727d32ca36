#!/usr/bin/env bash
# The test command: installs what is missing, builds everything, and runs every test (unit,
# integration against the real example server over HTTP).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
./scripts/build.sh -DSESSIONKIT_BUILD_TESTS=ON
# The Express twin app for the interop tests, pinned by its lock file.
(cd tests/interop && npm ci --no-audit --no-fund --loglevel=error)
ctest --test-dir "${SESSIONKIT_BUILD_DIR:-build}" --output-on-failure -j 2 "$@"
# The same suite under ASan + UBSan, the concurrency tests under TSan, then every fuzz target
# for SESSIONKIT_FUZZ_SECONDS (30 by default). SESSIONKIT_QUICK=1 skips these.
if [[ "${SESSIONKIT_QUICK:-0}" != 1 ]]; then
  ./scripts/sanitizers.sh
  ./scripts/fuzz.sh "${SESSIONKIT_FUZZ_SECONDS:-30}"
fi
