#!/usr/bin/env bash
# What Redis options cost: the same-session Redis counter on sessionkit-example (--threads 1,
# Release) over plain TCP, over TLS (rediss://, certificates made by openssl), and with
# --redis-wait-replicas 1 (a real replica on loopback); wrk -t1 -c32, alternating A B C for N
# rounds, medians. Writes bench/RESULTS.md (section "Redis options").
#
#   bench/redis_options.sh [--rounds N] [--duration SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=3 duration=5
while (($#)); do
  case "$1" in
    --rounds) rounds=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done

./scripts/install-deps.sh
SESSIONKIT_BUILD_DIR=build-release SESSIONKIT_BUILD_TYPE=Release ./scripts/build.sh -DSESSIONKIT_BUILD_TESTS=OFF >/dev/null
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
wait_listening() { for _ in $(seq 200); do grep -q "listening on" "$1" 2>/dev/null && return 0; sleep 0.05; done; cat "$1" >&2; exit 1; }

tests/support/make_tls_certs.sh "$work/certs" >/dev/null
port=$(free_port) tls_port=$(free_port) replica_port=$(free_port)
redis-server --port "$port" --tls-port "$tls_port" --tls-cert-file "$work/certs/server.crt" \
  --tls-key-file "$work/certs/server.key" --tls-ca-cert-file "$work/certs/ca.crt" --tls-auth-clients no \
  --bind 127.0.0.1 --save "" --appendonly no --dir "$work" --daemonize no --logfile "$work/redis.log" \
  --repl-diskless-sync-delay 0 &
pids+=($!)
mkdir -p "$work/replica"
redis-server --port "$replica_port" --replicaof 127.0.0.1 "$port" --bind 127.0.0.1 --save "" --appendonly no \
  --dir "$work/replica" --daemonize no --logfile "$work/replica.log" &
pids+=($!)
for _ in $(seq 200); do redis-cli -p "$port" info replication | grep -q "state=online" && break; sleep 0.05; done

declare -A args=(
  [plain]="--store redis://127.0.0.1:$port"
  [tls]="--store rediss://127.0.0.1:$tls_port --redis-tls-ca $work/certs/ca.crt"
  [wait1]="--store redis://127.0.0.1:$port --redis-wait-replicas 1 --redis-wait-timeout 1000"
)
to_ms() { awk '{v=$1; if (v ~ /us$/) {sub(/us$/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms$/,"",v)} else if (v ~ /s$/) {sub(/s$/,"",v); v*=1000}; printf "%.3f", v}'; }
results="$work/results"
: >"$results"
for round in $(seq "$rounds"); do
  for variant in plain tls wait1; do
    # shellcheck disable=SC2086
    build-release/examples/sessionkit-example --port 0 --threads 1 ${args[$variant]} >"$work/app.log" 2>&1 &
    app=$!; pids+=($app)
    wait_listening "$work/app.log"
    app_port=$(grep -o 'listening on http://[0-9.]*:[0-9]*' "$work/app.log" | sed 's/.*://')
    for _ in $(seq 100); do [[ $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$app_port/session-read") == 200 ]] && break; sleep 0.05; done
    cookie=$(curl -s -D - -o /dev/null "http://127.0.0.1:$app_port/redis-store-counter" | tr -d '\r' |
             awk -F': ' 'tolower($1)=="set-cookie"{split($2,a,";"); print a[1]; exit}')
    out=$(wrk -t1 -c32 -d"${duration}s" --latency -H "Cookie: $cookie" "http://127.0.0.1:$app_port/redis-store-counter")
    rps=$(awk '/^Requests\/sec/{print $2}' <<<"$out")
    p99=$(awk '$1=="99%"{print $2}' <<<"$out" | to_ms)
    bad=$(awk '/Non-2xx/{print $5}' <<<"$out")
    echo "$variant $rps $p99 ${bad:-0}" >>"$results"
    echo "  $variant round $round: $rps req/s, p99 $p99 ms, non-2xx ${bad:-0}" >&2
    kill "$app"; wait "$app" 2>/dev/null || true
  done
done

median() { sort -g | awk '{a[NR]=$1} END{ if (NR%2) print a[(NR+1)/2]; else printf "%.3f\n", (a[NR/2]+a[NR/2+1])/2 }'; }
table="$work/table.md"
{
  echo "| Redis | counter req/s | share of plain | p99 ms | non-2xx |"
  echo "| --- | ---: | ---: | ---: | ---: |"
  plain=$(awk '$1=="plain"{print $2}' "$results" | median)
  for variant in plain tls wait1; do
    rps=$(awk -v v="$variant" '$1==v{print $2}' "$results" | median)
    p99=$(awk -v v="$variant" '$1==v{print $3}' "$results" | median)
    bad=$(awk -v v="$variant" '$1==v{print $4}' "$results" | median)
    label=$variant
    [[ $variant == plain ]] && label="plain TCP"
    [[ $variant == tls ]] && label="TLS (rediss://)"
    [[ $variant == wait1 ]] && label="--redis-wait-replicas 1"
    awk -v l="$label" -v r="$rps" -v p="$plain" -v q="$p99" -v b="$bad" \
      'BEGIN{printf "| %s | %.0f | %.2f | %.2f | %s |\n", l, r, r/p, q, b}'
  done
} >"$table"
cat "$table"
section="$work/section.md"
{
  echo "## Redis options"
  echo
  echo "Command: \`bench/redis_options.sh --rounds $rounds --duration $duration\`"
  echo
  echo "$(nproc) cores, $(date -u +%Y-%m-%d); sessionkit-example --threads 1 (Release), one session's counter,"
  echo "wrk -t1 -c32 -d${duration}s, variants alternated for $rounds rounds, medians. One redis-server with a plain and a"
  echo "TLS port and one replica, all on loopback (so Redis, its replica, wrk and the server share the cores)."
  echo
  cat "$table"
  echo
} >"$section"
results_md=bench/RESULTS.md
awk -v sec="$section" '
  /^## Redis options/ {skip=1; while ((getline line < sec) > 0) print line; next}
  skip && /^## / {skip=0}
  !skip {print}
' "$results_md" >"$work/new.md"
grep -q "^## Redis options" "$results_md" || cat "$section" >>"$work/new.md"
cp "$work/new.md" "$results_md"
echo "written to $results_md" >&2
