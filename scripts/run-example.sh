#!/usr/bin/env bash
# Builds and runs the example server (in-memory store): http://127.0.0.1:3000/memory-store-counter
# Extra arguments go to the server, e.g. ./scripts/run-example.sh --port 8080 --max-age 60000
# SESSIONKIT_EXAMPLE=sessionkit-login-demo runs the login demo instead (http://127.0.0.1:3000/).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh --build-only
./scripts/build.sh -DSESSIONKIT_BUILD_TESTS=OFF >/dev/null
exec "${SESSIONKIT_BUILD_DIR:-build}/examples/${SESSIONKIT_EXAMPLE:-sessionkit-example}" "$@"
