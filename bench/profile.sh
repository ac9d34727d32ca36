#!/usr/bin/env bash
# Profiles the memory-store and redis-store counter routes under load with callgrind (instruction
# counts: repeatable whatever else the machine does) and writes the top entries to
# bench/RESULTS.md ("Profile"), with instructions and allocations (malloc-family calls) per
# request over the whole run (start-up included, a few percent).
#
#   bench/profile.sh [--connections N]   (default 8; with more, Redis batches grow)
set -euo pipefail
cd "$(dirname "$0")/.."
connections=8
while (($#)); do
  case "$1" in
    --connections) connections=$2; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
command -v valgrind >/dev/null || { echo "valgrind is needed" >&2; exit 1; }
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

port=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --dir "$work" --daemonize no \
  --logfile "$work/redis.log" &
pids+=($!)
for _ in $(seq 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.05; done

section="$work/section.md"
{
  echo "## Profile"
  echo
  echo "Command: \`bench/profile.sh --connections $connections\` ($(date -u +%Y-%m-%d)): sessionkit-example (Release,"
  echo "--threads 1) under \`valgrind --tool=callgrind\`, loaded by \`wrk -t1 -c$connections -d8s\` on one session's"
  echo "counter route."
  echo "Self cost (instructions) of the top functions, share of the whole process:"
  echo
} >"$section"

for store in memory redis; do
  cpp_store=memory; route=/memory-store-counter
  [[ $store == redis ]] && cpp_store="redis://127.0.0.1:$port" route=/redis-store-counter
  valgrind --tool=callgrind --callgrind-out-file="$work/$store.out" \
    build-release/examples/sessionkit-example --port 0 --threads 1 --store "$cpp_store" >"$work/$store.log" 2>&1 &
  pid=$!; pids+=($pid)
  for _ in $(seq 400); do grep -q "listening on" "$work/$store.log" 2>/dev/null && break; sleep 0.05; done
  cpp_port=$(grep -o 'listening on http://[0-9.]*:[0-9]*' "$work/$store.log" | sed 's/.*://')
  cookie=$(curl -s -D - -o /dev/null "http://127.0.0.1:$cpp_port$route" | tr -d '\r' |
           awk -F': ' 'tolower($1)=="set-cookie"{split($2,a,";"); print a[1]; exit}')
  out=$(wrk -t1 -c"$connections" -d8s -H "Cookie: $cookie" "http://127.0.0.1:$cpp_port$route")
  rps=$(awk '/^Requests\/sec/{print $2}' <<<"$out")
  requests=$(awk '/requests in/{print $1}' <<<"$out")
  kill -TERM "$pid"; wait "$pid" 2>/dev/null || true
  total=$(callgrind_annotate "$work/$store.out" 2>/dev/null | awk '/PROGRAM TOTALS/{gsub(",","",$1); print $1}')
  # Calls of malloc and memalign (operator new and Asio's aligned blocks end there), summed over
  # the call graph's "calls=" lines; callgrind names a function once, then by its (id).
  allocations=$(awk '
    function named(s,   id, rest) {
      if (!match(s, /^\([0-9]+\)/)) return s
      id = substr(s, 1, RLENGTH); rest = substr(s, RLENGTH + 2)
      if (rest != "") name[id] = rest
      return name[id]
    }
    /^fn=/ { named(substr($0, 4)); next }
    /^cfn=/ { target = named(substr($0, 5)); next }
    /^calls=/ { if (target == "malloc" || target == "memalign") { split($1, c, "="); n += c[2] } target = ""; next }
    END { print n + 0 }' "$work/$store.out")
  {
    echo "### $route ($store store; $rps req/s under callgrind)"
    echo
    awk -v t="$total" -v r="$requests" -v a="$allocations" \
      'BEGIN{printf "%.0f instructions and %.1f malloc/memalign calls per request (%d requests)\n", t/r, a/r, r}'
    echo
    echo '```'
    # (no pipefail here: head closes the pipe early on purpose)
    set +o pipefail
    callgrind_annotate "$work/$store.out" 2>/dev/null | awk '/^-+$/{n++} n>=3' | grep -E '^ *[0-9,]+ \(' | head -20 |
      sed -E 's/\[[^]]*\]$//' | cut -c1-160
    set -o pipefail
    echo '```'
    echo
  } >>"$section"
done

results=bench/RESULTS.md
tmp=$(mktemp)
awk -v sec="$section" '
  $0 == "## Profile" {skip=1; while ((getline line < sec) > 0) print line; next}
  skip && /^## / {skip=0}
  !skip {print}' "$results" >"$tmp"
grep -qx "## Profile" "$results" || cat "$section" >>"$tmp"
mv "$tmp" "$results"
