#!/usr/bin/env bash
# The benchmark command: side-by-side HTTP load against express-session (bench/side_by_side.sh),
# then the micro-benchmarks, memory per session against Node's MemoryStore, and a profile of the
# two counter routes. Everything lands in bench/RESULTS.md with the commands that made it.
#   bench/run.sh [--quick]    (--quick: 1 round of 3 s, for trying the script)
set -euo pipefail
cd "$(dirname "$0")/.."
quick=0; [[ "${1:-}" == --quick ]] && quick=1

if ((quick)); then bench/side_by_side.sh --rounds 1 --duration 3
else bench/side_by_side.sh --rounds 3 --duration 10; fi

SESSIONKIT_BUILD_DIR=build-release SESSIONKIT_BUILD_TYPE=Release ./scripts/build.sh \
  -DSESSIONKIT_BUILD_TESTS=OFF -DSESSIONKIT_BUILD_BENCH=ON >/dev/null

results=bench/RESULTS.md
replace_section() {  # title file
  local title=$1 file=$2 tmp
  tmp=$(mktemp)
  awk -v t="## $title" -v sec="$file" '
    $0 == t {skip=1; while ((getline line < sec) > 0) print line; next}
    skip && /^## / {skip=0}
    !skip {print}' "$results" >"$tmp"
  grep -qxF "## $title" "$results" || cat "$file" >>"$tmp"
  mv "$tmp" "$results"
}

# Micro-benchmarks.
micro=$(mktemp)
min_time=1; ((quick)) && min_time=0.1
{
  echo "## Micro-benchmarks"
  echo
  echo "Command: \`build-release/bench/sessionkit_micro_bench --benchmark_min_time=$min_time\` (Google Benchmark, Release)."
  echo
  echo '```'
  build-release/bench/sessionkit_micro_bench --benchmark_min_time=$min_time 2>/dev/null | sed -n '/^Benchmark/,$p' | grep -v '^---'
  echo '```'
  echo
} >"$micro"
replace_section "Micro-benchmarks" "$micro"

# Memory per session: sessionkit's MemoryStore against express-session's, same sessions.
memory=$(mktemp)
{
  echo "## Memory per session"
  echo
  echo "Commands: \`build-release/bench/sessionkit_memory_probe N\` and"
  echo "\`node --expose-gc bench/memory/node_memory_store.js N\`: RSS growth after storing N sessions"
  echo "(32-character ids; the record \`{\"cookie\":{\"originalMaxAge\":86400000,\"expires\":\"...\",\"httpOnly\":true,\"path\":\"/\"},\"count\":1}\`, 112 bytes)."
  echo
  echo "| sessions | sessionkit bytes/session | express-session bytes/session | ratio |"
  echo "| ---: | ---: | ---: | ---: |"
  for n in 100000 1000000; do
    c=$(build-release/bench/sessionkit_memory_probe $n | sed 's/.*bytes_per_session=//')
    j=$(node --expose-gc bench/memory/node_memory_store.js $n | sed 's/.*bytes_per_session=//')
    awk -v n=$n -v c="$c" -v j="$j" 'BEGIN{printf "| %d | %.0f | %.0f | %.2f |\n", n, c, j, c/j}'
  done
  echo
} >"$memory"
replace_section "Memory per session" "$memory"

# Instructions per request: deterministic where requests/s are noisy.
instructions=$(mktemp)
{
  echo "## Instructions per request"
  echo
  echo "Commands: \`bench/instructions.sh\` and \`bench/instructions.sh --new /memory-store-counter\`"
  echo "(callgrind, user space only, N and 2N requests on one keep-alive connection; the kernel's"
  echo "share of a request is the same for every route). The session routes reuse one cookie, whose"
  echo "HMAC the connection's cookie memo checks once; with \`--new\` every request makes a session"
  echo "and signs its id. Under valgrind OpenSSL's generic SHA-256 runs, so an HMAC costs more"
  echo "instructions here (~4.4k) than on a CPU with SHA extensions."
  echo
  echo '```'
  bench/instructions.sh
  bench/instructions.sh --new /memory-store-counter | sed 's|^/memory-store-counter|/memory-store-counter (new session each)|'
  echo '```'
  echo
} >"$instructions"
replace_section "Instructions per request" "$instructions"

# Profile: callgrind counts instructions (repeatable) for the two counter routes under load.
bench/profile.sh
echo "bench/RESULTS.md updated" >&2
