#!/usr/bin/env bash
# Side-by-side HTTP benchmark: sessionkit-example vs the same app on express-session, same
# routes, same store, same load generator (wrk on loopback), alternating A B A B ... and
# reporting medians and ratios. Writes the table to bench/RESULTS.md (section "HTTP").
#
#   bench/side_by_side.sh [--rounds N] [--duration SECONDS] [--connections N] [--threads N]
#                         [--scenarios "memory-counter redis-counter ..."]
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

rounds=3 duration=10 connections=32 server_threads=1 scenarios=""
while (($#)); do
  case "$1" in
    --rounds) rounds=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --connections) connections=$2; shift 2 ;;
    --threads) server_threads=$2; shift 2 ;;
    --scenarios) scenarios=$2; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
# name:store:route:cookie-mode   (cookie-mode: none = no cookie, same = one session throughout)
all_scenarios="memory-new:memory:/memory-store-counter:none
memory-counter:memory:/memory-store-counter:same
memory-read:memory:/session-read:same
memory-floor:memory:/no-session:none
redis-new:redis:/redis-store-counter:none
redis-counter:redis:/redis-store-counter:same
redis-read:redis:/session-read:same
redis-floor:redis:/no-session:none
sqlite-counter:sqlite:/sqlite-store-counter:same
sqlite-read:sqlite:/session-read:same"
if [[ -n "$scenarios" ]]; then
  all_scenarios=$(for s in $scenarios; do grep "^$s:" <<<"$all_scenarios"; done)
fi

./scripts/install-deps.sh
command -v wrk >/dev/null || { sudo=""; [[ $(id -u) -ne 0 ]] && sudo=sudo; $sudo apt-get install -y -qq wrk; }
SESSIONKIT_BUILD_DIR=build-release SESSIONKIT_BUILD_TYPE=Release ./scripts/build.sh \
  -DSESSIONKIT_BUILD_TESTS=OFF >/dev/null
(cd tests/interop && npm ci --no-audit --no-fund --loglevel=error >/dev/null)

work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])' 2>/dev/null ||
              echo $((20000 + RANDOM % 20000)); }
wait_listening() {  # file
  for _ in $(seq 200); do grep -q "listening on" "$1" 2>/dev/null && return 0; sleep 0.05; done
  echo "server did not start: $(cat "$1")" >&2; exit 1
}

redis_port=$(free_port)
redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no --dir "$work" \
  --daemonize no --logfile "$work/redis.log" &
pids+=($!)
for _ in $(seq 100); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.05; done

start_servers() {  # store -> sets cpp_port node_port (express-session has no SQLite store: none)
  local store=$1 cpp_store="memory" node_env=()
  if [[ $store == redis ]]; then cpp_store="redis://127.0.0.1:$redis_port"; node_env=(REDIS_URL="redis://127.0.0.1:$redis_port"); fi
  if [[ $store == sqlite ]]; then cpp_store="sqlite:$work/sessions.db"; fi
  # The memory store without its session cap, as express-session's MemoryStore has none: the
  # new-session scenario makes millions of sessions.
  build-release/examples/sessionkit-example --port 0 --threads "$server_threads" --store "$cpp_store" \
    --memory-max-sessions 0 --memory-max-bytes 0 >"$work/cpp.log" 2>&1 &
  cpp_pid=$!; pids+=($cpp_pid)
  wait_listening "$work/cpp.log"
  cpp_port=$(grep -o 'listening on http://[0-9.]*:[0-9]*' "$work/cpp.log" | sed 's/.*://')
  node_pid="" node_port=""
  if [[ $store != sqlite ]]; then
    env "${node_env[@]}" PORT=0 node tests/interop/server.js >"$work/node.log" 2>&1 &
    node_pid=$!; pids+=($node_pid)
    wait_listening "$work/node.log"
    node_port=$(grep -o 'listening on http://[0-9.]*:[0-9]*' "$work/node.log" | sed 's/.*://')
  fi
}
stop_servers() { kill $cpp_pid $node_pid 2>/dev/null || true; wait $cpp_pid $node_pid 2>/dev/null || true; }

to_ms() { awk '{v=$1; if (v ~ /us$/) {sub(/us$/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms$/,"",v)} else if (v ~ /s$/) {sub(/s$/,"",v); v*=1000}; printf "%.3f", v}'; }

run_wrk() {  # port route cookie-mode -> "rps p50 p99 errors"
  local port=$1 route=$2 mode=$3 header=()
  if [[ $mode == same ]]; then
    local cookie
    cookie=$(curl -s -D - -o /dev/null "http://127.0.0.1:$port$route" | tr -d '\r' |
             awk -F': ' 'tolower($1)=="set-cookie"{split($2,a,";"); print a[1]; exit}')
    header=(-H "Cookie: $cookie")
  fi
  local out
  out=$(wrk -t1 -c"$connections" -d"${duration}s" --latency "${header[@]}" "http://127.0.0.1:$port$route")
  local rps p50 p99 errors
  rps=$(awk '/^Requests\/sec/{print $2}' <<<"$out")
  p50=$(awk '$1=="50%"{print $2}' <<<"$out" | to_ms)
  p99=$(awk '$1=="99%"{print $2}' <<<"$out" | to_ms)
  errors=$(awk '/Non-2xx or 3xx responses/{print $5} /Socket errors/{n+=$4+$6+$8+$10} END{}' <<<"$out" | head -1)
  echo "$rps $p50 $p99 ${errors:-0}"
}

median() { sort -g | awk '{a[NR]=$1} END{ if (NR==0) exit; if (NR%2) print a[(NR+1)/2]; else printf "%.3f\n", (a[NR/2]+a[NR/2+1])/2 }'; }

results="$work/results.txt"
: >"$results"
while IFS=: read -r name store route mode; do
  [[ -z "$name" ]] && continue
  # Fresh servers and an empty store for each scenario: sessions piled up by a *-new scenario
  # must not weigh on the next one.
  redis-cli -p "$redis_port" flushall >/dev/null
  start_servers "$store"
  for r in $(seq "$rounds"); do
    for system in sessionkit express; do
      port=$cpp_port; [[ $system == express ]] && port=$node_port
      [[ -z "$port" ]] && continue
      read -r rps p50 p99 errors < <(run_wrk "$port" "$route" "$mode")
      echo "$name $system $r $rps $p50 $p99 $errors" >>"$results"
      echo "  $name round $r $system: $rps req/s, p50 ${p50} ms, p99 ${p99} ms, non-2xx ${errors}" >&2
    done
  done
  stop_servers
done <<<"$all_scenarios"

# The table: medians per scenario and system, then the ratios.
table="$work/table.md"
{
  echo "| scenario | sessionkit req/s | express req/s | ratio | sessionkit p50 / p99 ms | express p50 / p99 ms | p99 ratio (express/sessionkit) |"
  echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
  while IFS=: read -r name _ _ _; do
    [[ -z "$name" ]] && continue
    m() { awk -v n="$name" -v s="$1" -v c="$2" '$1==n && $2==s {print $c}' "$results" | median; }
    crps=$(m sessionkit 4); nrps=$(m express 4)
    c50=$(m sessionkit 5); c99=$(m sessionkit 6); n50=$(m express 5); n99=$(m express 6)
    if [[ -z "$nrps" ]]; then
      awk -v n="$name" -v cr="$crps" -v c50="$c50" -v c99="$c99" \
        'BEGIN{printf "| %s | %.0f | n/a | | %.2f / %.2f | n/a | |\n", n, cr, c50, c99}'
      continue
    fi
    awk -v n="$name" -v cr="$crps" -v nr="$nrps" -v c50="$c50" -v c99="$c99" -v n50="$n50" -v n99="$n99" \
      'BEGIN{printf "| %s | %.0f | %.0f | %.1fx | %.2f / %.2f | %.2f / %.2f | %.1fx |\n", n, cr, nr, cr/nr, c50, c99, n50, n99, n99/c99}'
  done <<<"$all_scenarios"
  # The cost of sessions: each session scenario against its own store's no-session floor.
  if grep -q -- "-floor:" <<<"$all_scenarios"; then
    echo
    echo "| scenario | sessionkit req/s | own floor req/s | share of the floor | session cost |"
    echo "| --- | ---: | ---: | ---: | ---: |"
    while IFS=: read -r name store _ _; do
      [[ -z "$name" || "$name" == *-floor ]] && continue
      floor=$(awk -v n="$store-floor" '$1==n && $2=="sessionkit" {print $4}' "$results" | median)
      [[ -z "$floor" ]] && continue
      crps=$(awk -v n="$name" '$1==n && $2=="sessionkit" {print $4}' "$results" | median)
      awk -v n="$name" -v c="$crps" -v f="$floor" \
        'BEGIN{printf "| %s | %.0f | %.0f | %.2f | %.0f%% |\n", n, c, f, c/f, 100*(1-c/f)}'
    done <<<"$all_scenarios"
  fi
} >"$table"
cat "$table"

# Record it in bench/RESULTS.md, replacing the previous HTTP section.
results_md=bench/RESULTS.md
[[ -f $results_md ]] || echo "# Benchmark results" >"$results_md"
section="$work/section.md"
{
  echo "## HTTP, side by side with express-session"
  echo
  echo "Command: \`bench/side_by_side.sh --rounds $rounds --duration $duration --connections $connections --threads $server_threads${scenarios:+ --scenarios \"$scenarios\"}\`"
  echo
  echo "Machine: $(nproc) cores, $(uname -sr); $(date -u +%Y-%m-%d). wrk -t1 -c$connections -d${duration}s on loopback,"
  echo "systems alternated A B A B for $rounds rounds; medians shown. sessionkit-example --threads $server_threads"
  echo "(Release, $(g++ --version | head -1)); Node $(node --version), express-session 1.18.2,"
  echo "connect-redis 10.0.0, redis 6.3.1; $(redis-server --version | awk '{print $1, $2, $3}')."
  echo "Scenarios: *-new sends no cookie (a new session per request), *-counter reuses one session"
  echo "(read, modify, save), *-read reuses one session without modifying it (touch only),"
  echo "*-floor is a route without session middleware. Each scenario starts fresh servers on an empty store."
  echo
  cat "$table"
  echo
} >"$section"
awk -v sec="$section" '
  /^## HTTP, side by side/ {skip=1; while ((getline line < sec) > 0) print line; next}
  skip && /^## / {skip=0}
  !skip {print}
' "$results_md" >"$work/new.md"
grep -q "^## HTTP, side by side" "$results_md" || cat "$section" >>"$work/new.md"
cp "$work/new.md" "$results_md"
echo "written to $results_md" >&2
