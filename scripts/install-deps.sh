#!/usr/bin/env bash
# Installs what sessionkit needs on Debian 12 (bookworm): compilers and build tools, the
# libraries it builds on, and what the tests run against (redis-server, Node.js for interop,
# headless Chromium with WebDriver for the login demo's browser tests).
# Packages already present are left alone, so this is quick on a prepared machine.
set -euo pipefail

packages=(
  build-essential cmake ninja-build ccache pkg-config
  libboost1.81-dev libboost-json1.81-dev libssl-dev libhiredis-dev libsqlite3-dev
  libcpp-httplib-dev librestinio-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  redis-server curl ca-certificates wrk clang libclang-rt-14-dev
  python3-prometheus-client dpkg-dev file openssl
  chromium chromium-driver python3-selenium fonts-dejavu-core
)
if [[ "${1:-}" == "--build-only" ]]; then
  packages=(build-essential cmake ninja-build ccache pkg-config
            libboost1.81-dev libboost-json1.81-dev libssl-dev libhiredis-dev libsqlite3-dev
            libcpp-httplib-dev librestinio-dev curl)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Node.js (and npm) for the interop tests and the Node baseline; any installed Node will do.
if [[ "${1:-}" != "--build-only" ]] && ! command -v npm >/dev/null 2>&1; then
  missing+=(nodejs npm)
fi

if ((${#missing[@]})); then
  sudo=""
  [[ $(id -u) -ne 0 ]] && sudo="sudo"
  echo "Installing: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
