#!/usr/bin/env bash
# Where a Redis route's time goes under load: the example server (Release, one thread) on a
# Redis of its own, `wrk -t1 -cN` on one session, then per request: the server's and Redis's CPU
# (user and system µs, from /proc/PID/stat), Redis's commands, reads and writes (INFO stats: a
# read or write carries a batch, so reads per request = 1 / batch size), and how busy the server
# was. Prints; writes nothing. Run it twice with --binary to compare two builds side by side.
#
#   bench/redis_cpu.sh [--route /redis-store-counter] [--connections 32] [--duration 5]
#                      [--binary build-release/examples/sessionkit-example]
set -euo pipefail
cd "$(dirname "$0")/.."

route=/redis-store-counter connections=32 duration=5 binary=""
while (($#)); do
  case "$1" in
    --route) route=$2; shift 2 ;;
    --connections) connections=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --binary) binary=$2; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
if [[ -z "$binary" ]]; then
  SESSIONKIT_BUILD_DIR=build-release SESSIONKIT_BUILD_TYPE=Release ./scripts/build.sh \
    -DSESSIONKIT_BUILD_TESTS=OFF >/dev/null
  binary=build-release/examples/sessionkit-example
fi

work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

redis_port=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no --dir "$work" \
  --daemonize no --logfile "$work/redis.log" &
redis_pid=$!; pids+=($redis_pid)
for _ in $(seq 100); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.05; done

"$binary" --port 0 --threads 1 --store "redis://127.0.0.1:$redis_port" >"$work/server.log" 2>&1 &
server_pid=$!; pids+=($server_pid)
for _ in $(seq 200); do grep -q "listening on" "$work/server.log" && break; sleep 0.05; done
port=$(grep -o 'listening on http://[0-9.]*:[0-9]*' "$work/server.log" | sed 's/.*://')
cookie=$(curl -s -D - -o /dev/null "http://127.0.0.1:$port$route" | tr -d '\r' |
         awk -F': ' 'tolower($1)=="set-cookie"{split($2,a,";"); print a[1]; exit}')

stat() { redis-cli -p "$redis_port" info stats | tr -d '\r' | awk -F: -v k="$1" '$1==k{print $2}'; }
ticks() { awk '{print $14, $15}' "/proc/$1/stat"; }  # user, system (clock ticks)
commands0=$(stat total_commands_processed) reads0=$(stat total_reads_processed) writes0=$(stat total_writes_processed)
read -r su0 ss0 < <(ticks "$server_pid"); read -r ru0 rs0 < <(ticks "$redis_pid")
start=$(date +%s.%N)
out=$(wrk -t1 -c"$connections" -d"${duration}s" -H "Cookie: $cookie" "http://127.0.0.1:$port$route")
end=$(date +%s.%N)
commands1=$(stat total_commands_processed) reads1=$(stat total_reads_processed) writes1=$(stat total_writes_processed)
read -r su1 ss1 < <(ticks "$server_pid"); read -r ru1 rs1 < <(ticks "$redis_pid")

requests=$(awk '/requests in/{print $1}' <<<"$out")
rps=$(awk '/^Requests\/sec/{print $2}' <<<"$out")
hz=$(getconf CLK_TCK)
awk -v n="$requests" -v rps="$rps" -v hz="$hz" -v t="$(echo "$end - $start" | bc)" \
    -v su=$((su1 - su0)) -v ss=$((ss1 - ss0)) -v ru=$((ru1 - ru0)) -v rs=$((rs1 - rs0)) \
    -v c=$((commands1 - commands0)) -v r=$((reads1 - reads0)) -v w=$((writes1 - writes0)) -v route="$route" 'BEGIN{
  us = 1e6 / hz / n
  printf "%s: %.0f req/s (wrk -c'"$connections"', %d requests)\n", route, rps, n
  printf "server: %.2f µs user + %.2f µs system per request, busy %.0f%% of the run\n", su*us, ss*us, 100*(su+ss)/hz/t
  printf "redis:  %.2f µs user + %.2f µs system per request\n", ru*us, rs*us
  printf "redis:  %.2f commands, %.3f reads, %.3f writes per request (%.1f requests per read)\n", c/n, r/n, w/n, (r ? n/r : 0)
}'
