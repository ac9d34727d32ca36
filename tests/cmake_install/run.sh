#!/usr/bin/env bash
# Installs sessionkit from a build tree into a temporary prefix, then builds and runs a small
# application against it three ways: find_package(... COMPONENTS redis beast), pkg-config, and
# find_package of a component a core-only build of sessionkit does not have (must fail, clearly).
#
#   tests/cmake_install/run.sh SOURCE_DIR BUILD_DIR
set -euo pipefail
source_dir=$(cd "$1" && pwd)
build_dir=$(cd "$2" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export CCACHE_BASEDIR="$source_dir" CCACHE_NOHASHDIR=true
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)

echo "== install into $work/prefix"
cmake --install "$build_dir" --prefix "$work/prefix" >/dev/null
test -f "$work/prefix/include/sessionkit/version.hpp"

echo "== find_package(sessionkit CONFIG REQUIRED COMPONENTS redis beast)"
cmake -S "$source_dir/tests/cmake_install/consumer" -B "$work/consumer" -G Ninja "${launcher[@]}" \
  -DCMAKE_PREFIX_PATH="$work/prefix" -DSESSIONKIT_COMPONENTS="redis;beast" >/dev/null
cmake --build "$work/consumer" >/dev/null
"$work/consumer/consumer" | tee "$work/out"
grep -q "^sessionkit 0\.1\.0 db 2 cap 1024 signed 46$" "$work/out"

echo "== pkg-config sessionkit-redis sessionkit-beast"
export PKG_CONFIG_PATH="$work/prefix/lib/pkgconfig:$work/prefix/lib/x86_64-linux-gnu/pkgconfig"
pkg-config --exists --print-errors sessionkit sessionkit-redis sessionkit-beast sessionkit-sqlite
# shellcheck disable=SC2046
g++ -std=c++20 "$source_dir/tests/cmake_install/consumer/main.cpp" -o "$work/by-pkg-config" \
  $(pkg-config --cflags --libs sessionkit-beast sessionkit-redis sessionkit)
"$work/by-pkg-config" | grep -q "^sessionkit 0\.1\.0 "

echo "== a component that was not built: a clear error"
cmake -S "$source_dir" -B "$work/core-only" -G Ninja "${launcher[@]}" -DCMAKE_BUILD_TYPE=Release \
  -DSESSIONKIT_WITH_BEAST=OFF -DSESSIONKIT_WITH_REDIS=OFF -DSESSIONKIT_WITH_SQLITE=OFF \
  -DSESSIONKIT_WITH_HTTPLIB=OFF -DSESSIONKIT_WITH_RESTINIO=OFF -DSESSIONKIT_BUILD_TESTS=OFF \
  -DSESSIONKIT_BUILD_EXAMPLES=OFF -DSESSIONKIT_INSTALL=ON >/dev/null
cmake --build "$work/core-only" -j 2 >/dev/null
cmake --install "$work/core-only" --prefix "$work/core-prefix" >/dev/null
if cmake -S "$source_dir/tests/cmake_install/consumer" -B "$work/missing" -G Ninja \
     -DCMAKE_PREFIX_PATH="$work/core-prefix" -DSESSIONKIT_COMPONENTS="redis" >"$work/missing.log" 2>&1; then
  echo "find_package succeeded for a component that was not built" >&2
  exit 1
fi
grep -q "built without its 'redis' component" "$work/missing.log" || { cat "$work/missing.log" >&2; exit 1; }
# The core alone is found there.
cat >"$work/core-consumer.cmake" <<'CMAKE'
cmake_minimum_required(VERSION 3.25)
project(core_only LANGUAGES CXX)
find_package(sessionkit CONFIG REQUIRED)
if(NOT TARGET sessionkit::core OR TARGET sessionkit::redis)
  message(FATAL_ERROR "expected sessionkit::core alone")
endif()
CMAKE
mkdir -p "$work/core-consumer" && cp "$work/core-consumer.cmake" "$work/core-consumer/CMakeLists.txt"
cmake -S "$work/core-consumer" -B "$work/core-consumer/build" -DCMAKE_PREFIX_PATH="$work/core-prefix" >/dev/null
echo "== all install checks passed"
