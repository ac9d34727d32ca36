#!/usr/bin/env bash
# Builds the Debian packages from a build tree with CPack and checks them: names and Debian
# dependencies, then (1) unpacked into a private root with dpkg -x, the consumer of
# tests/cmake_install builds against them through find_package and pkg-config and sessionctl
# runs; (2) when run as root, installed for real with dpkg -i, the consumer finds sessionkit in
# /usr with no hint, and the packages are removed again.
#
#   tests/package/run.sh SOURCE_DIR BUILD_DIR
set -euo pipefail
source_dir=$(cd "$1" && pwd)
build_dir=$(cd "$2" && pwd)
work=$(mktemp -d)
installed=()
cleanup() {
  if ((${#installed[@]})); then dpkg -r "${installed[@]}" >/dev/null 2>&1 || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
export CCACHE_BASEDIR="$source_dir" CCACHE_NOHASHDIR=true
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)

echo "== cpack -G DEB"
(cd "$work" && cpack --config "$build_dir/CPackConfig.cmake" -B "$work/debs" >/dev/null)
version=$(sed -n 's/^#define SESSIONKIT_VERSION_STRING "\(.*\)"/\1/p' "$build_dir/include/sessionkit/version.hpp")
arch=$(dpkg --print-architecture)
dev="$work/debs/libsessionkit-dev_${version}_${arch}.deb"
tools="$work/debs/sessionkit-tools_${version}_${arch}.deb"
examples="$work/debs/sessionkit-examples_${version}_${arch}.deb"
ls "$dev" "$tools" "$examples" >/dev/null

field() { dpkg-deb -f "$1" "$2"; }
# The static libraries need their dependencies' development packages; the programs their
# run-time libraries (found by dpkg-shlibdeps).
for need in libboost1.81-dev libboost-json1.81-dev libssl-dev libhiredis-dev libsqlite3-dev; do
  grep -q "$need" <<<"$(field "$dev" Depends)" || { echo "libsessionkit-dev does not depend on $need" >&2; exit 1; }
done
for need in libhiredis0.14 libsqlite3-0 libssl3 libboost-json1.81.0 libstdc++6; do
  grep -q "$need" <<<"$(field "$tools" Depends)" || { echo "sessionkit-tools does not depend on $need" >&2; exit 1; }
done
grep -q libhiredis0.14 <<<"$(field "$examples" Depends)"
for deb in dev tools examples; do dpkg-deb -c "${!deb}" >"$work/$deb.files"; done
grep -q "usr/lib/.*cmake/sessionkit/sessionkitConfig.cmake" "$work/dev.files"
grep -q "usr/include/sessionkit/version.hpp" "$work/dev.files"
grep -q "usr/bin/sessionctl" "$work/tools.files"
grep -q "usr/bin/sessionkit-example" "$work/examples.files"

echo "== unpacked into a private root: find_package, pkg-config, sessionctl"
root="$work/root"
for deb in "$dev" "$tools" "$examples"; do dpkg -x "$deb" "$root"; done
cmake -S "$source_dir/tests/cmake_install/consumer" -B "$work/consumer" -G Ninja "${launcher[@]}" \
  -DCMAKE_PREFIX_PATH="$root/usr" -DSESSIONKIT_COMPONENTS="redis;beast;sqlite" >/dev/null
cmake --build "$work/consumer" >/dev/null
grep -q "^sessionkit $version " <<<"$("$work/consumer/consumer")"
export PKG_CONFIG_PATH="$root/usr/lib/pkgconfig:$root/usr/lib/$(gcc -dumpmachine)/pkgconfig"
pkg-config --exists --print-errors sessionkit sessionkit-redis sessionkit-beast
# shellcheck disable=SC2046
g++ -std=c++20 "$source_dir/tests/cmake_install/consumer/main.cpp" -o "$work/by-pkg-config" \
  $(pkg-config --cflags --libs sessionkit-beast sessionkit-redis sessionkit)
grep -q "^sessionkit $version " <<<"$("$work/by-pkg-config")"
grep -q "Exit codes" <<<"$("$root/usr/bin/sessionctl" --help)"
grep -q -- "--concurrency" <<<"$("$root/usr/bin/sessionkit-example" --help)"

if [[ $(id -u) -eq 0 ]]; then
  echo "== dpkg -i, then find_package from /usr"
  if dpkg -s libsessionkit-dev >/dev/null 2>&1; then
    echo "libsessionkit-dev is installed already; not touching it" >&2
  else
    dpkg -i "$dev" "$tools" "$examples" >/dev/null
    installed=(libsessionkit-dev sessionkit-tools sessionkit-examples)
    cmake -S "$source_dir/tests/cmake_install/consumer" -B "$work/consumer-usr" -G Ninja "${launcher[@]}" \
      -DSESSIONKIT_COMPONENTS="redis;beast" >/dev/null
    grep -q "sessionkit_DIR:PATH=/usr/lib/.*cmake/sessionkit" "$work/consumer-usr/CMakeCache.txt"
    cmake --build "$work/consumer-usr" >/dev/null
    grep -q "^sessionkit $version " <<<"$("$work/consumer-usr/consumer")"
    [[ $(command -v sessionctl) == /usr/bin/sessionctl ]]
    dpkg -r "${installed[@]}" >/dev/null
    installed=()
    ! dpkg -s libsessionkit-dev >/dev/null 2>&1
  fi
else
  echo "== not root: dpkg -i skipped (the unpacked packages were checked)"
fi
echo "== all package checks passed"
