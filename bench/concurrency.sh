#!/usr/bin/env bash
# Concurrency modes side by side: sessionkit-example with --concurrency none, lock and merge, on
# the memory store and Redis, (a) 64 clients on 64 different sessions (the common case: each
# request names one of 64 sessions in turn, so concurrent requests are mostly of different
# sessions) and (b) 64 clients on one hot session; for (b) also how many increments each mode
# loses (2xx counter responses minus how much the count grew), and the same for express-session.
# Writes the tables to bench/RESULTS.md (section "Concurrency modes").
#
#   bench/concurrency.sh [--rounds N] [--duration SECONDS] [--stores "memory redis"] [--pin-redis]
#
# --pin-redis runs redis-server on CPU 1 and the servers and wrk on CPU 0 (taskset), as if Redis
# had a machine of its own; its table goes to the section "Redis on its own core".
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=3 duration=5 stores="memory redis" pin=""
while (($#)); do
  case "$1" in
    --rounds) rounds=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --stores) stores=$2; shift 2 ;;
    --pin-redis) pin=1; shift ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done

./scripts/install-deps.sh
command -v wrk >/dev/null || { sudo=""; [[ $(id -u) -ne 0 ]] && sudo=sudo; $sudo apt-get install -y -qq wrk; }
SESSIONKIT_BUILD_DIR=build-release SESSIONKIT_BUILD_TYPE=Release ./scripts/build.sh \
  -DSESSIONKIT_BUILD_TESTS=OFF >/dev/null
(cd tests/interop && npm ci --no-audit --no-fund --loglevel=error >/dev/null)

work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
wait_listening() {  # file
  for _ in $(seq 200); do grep -q "listening on" "$1" 2>/dev/null && return 0; sleep 0.05; done
  echo "server did not start: $(cat "$1")" >&2; exit 1
}

redis_port=$(free_port)
redis_cpu=() app_cpu=()
if [[ -n $pin ]]; then redis_cpu=(taskset -c 1); app_cpu=(taskset -c 0); fi
"${redis_cpu[@]}" redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no --dir "$work" \
  --daemonize no --logfile "$work/redis.log" &
pids+=($!)
for _ in $(seq 100); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.05; done
# One Redis round trip, for the bound a lock puts on one session's requests.
ping_rps=$(redis-benchmark -p "$redis_port" -t ping_mbulk -n 20000 -c 1 -q 2>/dev/null |
           awk '/PING_MBULK/{for (i=1;i<=NF;i++) if ($i ~ /requests/) {print $(i-1); exit}}')

start_server() {  # system store mode -> sets port pid
  local system=$1 store=$2 mode=$3
  if [[ $system == sessionkit ]]; then
    local url=memory
    [[ $store == redis ]] && url="redis://127.0.0.1:$redis_port"
    "${app_cpu[@]}" build-release/examples/sessionkit-example --port 0 --threads 1 --store "$url" --concurrency "$mode" \
      --lock-timeout 30000 >"$work/server.log" 2>&1 &
  else
    local env_args=(PORT=0)
    [[ $store == redis ]] && env_args+=(REDIS_URL="redis://127.0.0.1:$redis_port")
    "${app_cpu[@]}" env "${env_args[@]}" node tests/interop/server.js >"$work/server.log" 2>&1 &
  fi
  pid=$!; pids+=($pid)
  wait_listening "$work/server.log"
  port=$(grep -o 'listening on http://[0-9.]*:[0-9]*' "$work/server.log" | sed 's/.*://')
}
stop_server() { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; }

new_cookie() {  # port -> "connect.sid=..." of a new session (count 1)
  curl -s -D - -o /dev/null "http://127.0.0.1:$1/memory-store-counter" | tr -d '\r' |
    awk -F': ' 'tolower($1)=="set-cookie"{split($2,a,";"); print a[1]; exit}'
}

cat >"$work/many.lua" <<'EOF'
local cookies = {}
for line in io.lines(os.getenv("COOKIES_FILE")) do cookies[#cookies + 1] = line end
local i = 0
request = function()
  i = i % #cookies + 1
  return wrk.format("GET", "/memory-store-counter", { Cookie = cookies[i] })
end
done = function(summary) io.write(string.format("COUNTS %d %d\n", summary.requests, summary.errors.status)) end
EOF
cat >"$work/hot.lua" <<'EOF'
done = function(summary) io.write(string.format("COUNTS %d %d\n", summary.requests, summary.errors.status)) end
EOF

to_ms() { awk '{v=$1; if (v ~ /us$/) {sub(/us$/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms$/,"",v)} else if (v ~ /s$/) {sub(/s$/,"",v); v*=1000}; printf "%.3f", v}'; }

results="$work/results.txt"
: >"$results"
run_case() {  # system store mode scenario round
  local system=$1 store=$2 mode=$3 scenario=$4 round=$5 out
  redis-cli -p "$redis_port" flushall >/dev/null
  start_server "$system" "$store" "$mode"
  if [[ $scenario == many ]]; then
    : >"$work/cookies"
    for _ in $(seq 64); do new_cookie "$port" >>"$work/cookies"; done
    out=$(COOKIES_FILE="$work/cookies" "${app_cpu[@]}" wrk -t1 -c64 -d"${duration}s" --latency -s "$work/many.lua" "http://127.0.0.1:$port/")
  else
    local cookie
    cookie=$(new_cookie "$port")
    out=$("${app_cpu[@]}" wrk -t1 -c64 -d"${duration}s" --latency -s "$work/hot.lua" -H "Cookie: $cookie" \
          "http://127.0.0.1:$port/memory-store-counter")
    sleep 0.5  # requests wrk cut off at the end still finish
    local final
    final=$(curl -s -H "Cookie: $cookie" "http://127.0.0.1:$port/session-read" | awk '{print $3}')
  fi
  local rps p99 requests non2xx
  rps=$(awk '/^Requests\/sec/{print $2}' <<<"$out")
  p99=$(awk '$1=="99%"{print $2}' <<<"$out" | to_ms)
  read -r requests non2xx < <(awk '/^COUNTS/{print $2, $3}' <<<"$out")
  local lost="-"
  if [[ $scenario == hot ]]; then lost=$(( requests - non2xx - (final - 1) )); fi
  echo "$system $store $mode $scenario $round $rps $p99 $non2xx $lost" >>"$results"
  echo "  $system $store $mode $scenario round $round: $rps req/s, p99 $p99 ms, non-2xx $non2xx, lost $lost" >&2
  stop_server
}

for round in $(seq "$rounds"); do
  for store in $stores; do
    for scenario in many hot; do
      for mode in none lock merge; do run_case sessionkit "$store" "$mode" "$scenario" "$round"; done
      run_case express "$store" none "$scenario" "$round"
    done
  done
done

median() { sort -g | awk '{a[NR]=$1} END{ if (NR==0) exit; if (NR%2) print a[(NR+1)/2]; else printf "%.3f\n", (a[NR/2]+a[NR/2+1])/2 }'; }
m() { awk -v s="$1" -v st="$2" -v mo="$3" -v sc="$4" -v c="$5" '$1==s && $2==st && $3==mo && $4==sc {print $c}' "$results" | median; }
table="$work/table.md"
{
  echo "| store | scenario | mode | req/s | share of none | p99 ms | non-2xx | increments lost (of 2xx) |"
  echo "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: |"
  for store in $stores; do
    for scenario in many hot; do
      none_rps=$(m sessionkit "$store" none "$scenario" 6)
      label="64 sessions"; [[ $scenario == hot ]] && label="1 hot session"
      for mode in none lock merge; do
        rps=$(m sessionkit "$store" "$mode" "$scenario" 6); p99=$(m sessionkit "$store" "$mode" "$scenario" 7)
        bad=$(m sessionkit "$store" "$mode" "$scenario" 8); lost=$(m sessionkit "$store" "$mode" "$scenario" 9)
        awk -v st="$store" -v l="$label" -v mo="$mode" -v r="$rps" -v n="$none_rps" -v p="$p99" -v b="$bad" -v lo="${lost:--}" \
          'BEGIN{printf "| %s | %s | sessionkit %s | %.0f | %.2f | %.2f | %s | %s |\n", st, l, mo, r, r/n, p, b, (l ~ /hot/ ? lo : "-")}'
      done
      rps=$(m express "$store" none "$scenario" 6); p99=$(m express "$store" none "$scenario" 7)
      bad=$(m express "$store" none "$scenario" 8); lost=$(m express "$store" none "$scenario" 9)
      awk -v st="$store" -v l="$label" -v r="$rps" -v p="$p99" -v b="$bad" -v lo="${lost:--}" \
        'BEGIN{printf "| %s | %s | express-session | %.0f | | %.2f | %s | %s |\n", st, l, r, p, b, (l ~ /hot/ ? lo : "-")}'
    done
  done
} >"$table"
cat "$table"

results_md=bench/RESULTS.md
section="$work/section.md"
title="Concurrency modes"
[[ -n $pin ]] && title="Redis on its own core: concurrency modes"
{
  echo "## $title"
  echo
  echo "Command: \`bench/concurrency.sh --rounds $rounds --duration $duration${pin:+ --pin-redis} --stores \"$stores\"\`"
  [[ -n $pin ]] && echo && echo "redis-server pinned to CPU 1, the servers and wrk to CPU 0 (taskset)."
  echo
  echo "Machine: $(nproc) cores, $(uname -sr); $(date -u +%Y-%m-%d). wrk -t1 -c64 -d${duration}s on loopback against"
  echo "sessionkit-example --threads 1 --concurrency MODE (Release) and the Express app (express-session 1.18.2,"
  echo "connect-redis 10.0.0), fresh server and empty store per run, medians of $rounds rounds. \"64 sessions\": each"
  echo "request names the next of 64 sessions in turn; \"1 hot session\": every request the same one. Increments lost:"
  echo "2xx counter responses minus how much the count grew (requests wrk cut off at the end can still count, so a"
  echo "mode that loses nothing may show a small negative number). One Redis round trip here: ${ping_rps:-?} PING/s from one"
  echo "client, so a lock, held for two round trips per request plus the handler, bounds one session's requests to"
  echo "about half of that."
  echo
  cat "$table"
  echo
} >"$section"
awk -v sec="$section" -v title="## $title" '
  index($0, title) == 1 && length($0) == length(title) {skip=1; while ((getline line < sec) > 0) print line; next}
  skip && /^## / {skip=0}
  !skip {print}
' "$results_md" >"$work/new.md"
grep -qx "## $title" "$results_md" || cat "$section" >>"$work/new.md"
cp "$work/new.md" "$results_md"
echo "written to $results_md" >&2
