#!/usr/bin/env bash
# One Redis versus a three-master Redis Cluster on the same machine: the Redis counter on many
# sessions (sessionkit-example --threads 1, Release; wrk -t1 -c32 over 1000 sessions' cookies),
# alternating one / cluster for N rounds, medians. The cores are the same, so this measures what
# routing costs, not what more machines gain; the CPU time of the app and of the redis-servers
# per request says which costs are per server and which per node. Writes bench/RESULTS.md
# (section "Redis Cluster").
#
#   bench/redis_cluster.sh [--rounds N] [--duration SECONDS] [--sessions N]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=3 duration=5 sessions=1000
while (($#)); do
  case "$1" in
    --rounds) rounds=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --sessions) sessions=$2; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done

./scripts/install-deps.sh
command -v wrk >/dev/null || { sudo=""; [[ $(id -u) -ne 0 ]] && sudo=sudo; $sudo apt-get install -y -qq wrk; }
SESSIONKIT_BUILD_DIR=build-release SESSIONKIT_BUILD_TYPE=Release ./scripts/build.sh -DSESSIONKIT_BUILD_TESTS=OFF >/dev/null
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
wait_listening() { for _ in $(seq 200); do grep -q "listening on" "$1" 2>/dev/null && return 0; sleep 0.05; done; cat "$1" >&2; exit 1; }
start_redis() {  # dir port args...
  local dir=$1 port=$2
  shift 2
  mkdir -p "$dir"
  redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --dir "$dir" --daemonize no \
    --logfile "$dir/redis.log" "$@" &
  pids+=($!)
  redis_pids+=($!)
  for _ in $(seq 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.05; done
}

redis_pids=()
single_port=$(free_port)
start_redis "$work/single" "$single_port"
single_pids=("${redis_pids[@]}")
redis_pids=()
cluster_ports=()
for i in 1 2 3; do
  port=$(free_port)
  cluster_ports+=("$port")
  start_redis "$work/node$i" "$port" --cluster-enabled yes --cluster-config-file nodes.conf \
    --cluster-port "$(free_port)" --cluster-node-timeout 2000
done
cluster_pids=("${redis_pids[@]}")
redis-cli --cluster create "${cluster_ports[@]/#/127.0.0.1:}" --cluster-replicas 0 --cluster-yes >/dev/null
for _ in $(seq 200); do
  redis-cli -p "${cluster_ports[0]}" cluster info | grep -q "cluster_state:ok" && break
  sleep 0.05
done

declare -A urls=(
  [one]="redis://127.0.0.1:$single_port"
  [cluster]="redis-cluster://127.0.0.1:${cluster_ports[0]}"
)
cat >"$work/many.lua" <<'LUA'
local cookies = {}
for line in io.lines(os.getenv("COOKIES_FILE")) do cookies[#cookies + 1] = line end
local i = 0
request = function()
  i = i % #cookies + 1
  return wrk.format("GET", "/redis-store-counter", { Cookie = cookies[i] })
end
LUA
# N new sessions on one keep-alive connection, their cookies one per line.
make_sessions() {  # port n file
  python3 - "$1" "$2" >"$3" <<'PY'
import http.client, sys
port, n = int(sys.argv[1]), int(sys.argv[2])
c = http.client.HTTPConnection("127.0.0.1", port)
for _ in range(n):
    c.request("GET", "/redis-store-counter")
    r = c.getresponse(); r.read()
    print(r.getheader("Set-Cookie").split(";")[0])
PY
}
proc_stat() { local out=(); for p in "$@"; do out+=("$p/stat"); done; awk '{s += $14 + $15} END {print s}' "${out[@]/#//proc/}"; }
to_ms() { awk '{v=$1; if (v ~ /us$/) {sub(/us$/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms$/,"",v)} else if (v ~ /s$/) {sub(/s$/,"",v); v*=1000}; printf "%.3f", v}'; }
hz=$(getconf CLK_TCK)

results="$work/results"
: >"$results"
for round in $(seq "$rounds"); do
  for variant in one cluster; do
    redis-cli -p "$single_port" flushall >/dev/null
    for p in "${cluster_ports[@]}"; do redis-cli -p "$p" flushall >/dev/null; done
    build-release/examples/sessionkit-example --port 0 --threads 1 --store "${urls[$variant]}" >"$work/app.log" 2>&1 &
    app=$!; pids+=($app)
    wait_listening "$work/app.log"
    app_port=$(grep -o 'listening on http://[0-9.]*:[0-9]*' "$work/app.log" | sed 's/.*://')
    for _ in $(seq 100); do [[ $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$app_port/session-read") == 200 ]] && break; sleep 0.05; done
    make_sessions "$app_port" "$sessions" "$work/cookies"
    if [[ $variant == one ]]; then rp=("${single_pids[@]}"); else rp=("${cluster_pids[@]}"); fi
    app_before=$(proc_stat "$app")
    redis_before=$(proc_stat "${rp[@]}")
    out=$(COOKIES_FILE="$work/cookies" wrk -t1 -c32 -d"${duration}s" --latency -s "$work/many.lua" "http://127.0.0.1:$app_port/")
    app_cpu=$(( $(proc_stat "$app") - app_before ))
    redis_cpu=$(( $(proc_stat "${rp[@]}") - redis_before ))
    requests=$(awk '/requests in/{print $1}' <<<"$out")
    rps=$(awk '/^Requests\/sec/{print $2}' <<<"$out")
    p99=$(awk '$1=="99%"{print $2}' <<<"$out" | to_ms)
    bad=$(awk '/Non-2xx/{print $5}' <<<"$out")
    app_us=$(awk -v t="$app_cpu" -v n="$requests" -v hz="$hz" 'BEGIN{printf "%.1f", t / hz / n * 1e6}')
    redis_us=$(awk -v t="$redis_cpu" -v n="$requests" -v hz="$hz" 'BEGIN{printf "%.1f", t / hz / n * 1e6}')
    echo "$variant $rps $p99 ${bad:-0} $app_us $redis_us" >>"$results"
    echo "  $variant round $round: $rps req/s, p99 $p99 ms, non-2xx ${bad:-0}, app $app_us us/request, redis $redis_us us/request" >&2
    kill "$app"; wait "$app" 2>/dev/null || true
  done
done

median() { sort -g | awk '{a[NR]=$1} END{ if (NR%2) print a[(NR+1)/2]; else printf "%.3f\n", (a[NR/2]+a[NR/2+1])/2 }'; }
table="$work/table.md"
{
  echo "| Redis | counter req/s | share of one Redis | p99 ms | non-2xx | app CPU µs/request | Redis CPU µs/request |"
  echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
  one=$(awk '$1=="one"{print $2}' "$results" | median)
  for variant in one cluster; do
    col() { awk -v v="$variant" -v c="$1" '$1==v{print $c}' "$results" | median; }
    label="one Redis (redis://)"
    [[ $variant == cluster ]] && label="3-master cluster (redis-cluster://)"
    awk -v l="$label" -v r="$(col 2)" -v o="$one" -v q="$(col 3)" -v b="$(col 4)" -v a="$(col 5)" -v d="$(col 6)" \
      'BEGIN{printf "| %s | %.0f | %.2f | %.2f | %s | %.1f | %.1f |\n", l, r, r/o, q, b, a, d}'
  done
} >"$table"
cat "$table"
section="$work/section.md"
{
  echo "## Redis Cluster"
  echo
  echo "Command: \`bench/redis_cluster.sh --rounds $rounds --duration $duration --sessions $sessions\`"
  echo
  echo "$(nproc) cores, $(date -u +%Y-%m-%d); sessionkit-example --threads 1 (Release), the Redis counter over"
  echo "$sessions sessions (wrk -t1 -c32 -d${duration}s, each request the next session's cookie), one Redis and a"
  echo "three-master cluster (no replicas) alternated for $rounds rounds, medians. Everything shares the same cores,"
  echo "so this is the cost of routing, not the gain of more machines. CPU columns: the app's and the"
  echo "redis-servers' user + system time (/proc/PID/stat) divided by the requests served."
  echo
  cat "$table"
  echo
} >"$section"
results_md=bench/RESULTS.md
awk -v sec="$section" '
  /^## Redis Cluster$/ {skip=1; while ((getline line < sec) > 0) print line; next}
  skip && /^## / {skip=0}
  !skip {print}
' "$results_md" >"$work/new.md"
grep -q "^## Redis Cluster$" "$results_md" || cat "$section" >>"$work/new.md"
cp "$work/new.md" "$results_md"
echo "written to $results_md" >&2
