#!/usr/bin/env bash
# Issue 16's benchmark: the counter with the account features on (idle and absolute timeouts,
# a logged-in user kept in the store's user index) against the plain counter, on memory and on
# Redis, 64 clients on 64 sessions (wrk -t1 -c64, one server thread, A B A B rounds); then
# sessions_of and destroy_all_of timed with 1,000,000 sessions stored (memory, Redis, SQLite).
# Writes the section "Accounts: timeouts and the user index" of bench/RESULTS.md.
#
#   bench/accounts.sh [--rounds N] [--duration S] [--sessions N]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=3 duration=5 sessions=1000000
while (($#)); do
  case "$1" in
    --rounds) rounds=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --sessions) sessions=$2; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
command -v wrk >/dev/null || { sudo=""; [[ $(id -u) -ne 0 ]] && sudo=sudo; $sudo apt-get install -y -qq wrk; }
SESSIONKIT_BUILD_DIR=build-release SESSIONKIT_BUILD_TYPE=Release ./scripts/build.sh \
  -DSESSIONKIT_BUILD_TESTS=OFF -DSESSIONKIT_BUILD_BENCH=ON >/dev/null

work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }

redis_port=$(free_port)
redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no --dir "$work" --daemonize no \
  --logfile "$work/redis.log" &
pids+=($!)
for _ in $(seq 100); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.05; done

accounts_flags=(--idle-timeout 1800000 --absolute-timeout 28800000)
cat >"$work/many.lua" <<'LUA'
local cookies = {}
for line in io.lines(os.getenv("COOKIES_FILE")) do cookies[#cookies + 1] = line end
local i = 0
request = function()
  i = i % #cookies + 1
  return wrk.format("GET", "/memory-store-counter", { Cookie = cookies[i] })
end
LUA

cookie_of() {  # curl args... -> the session cookie the response sets
  curl -s -D - -o /dev/null "$@" | tr -d '\r' | awk -F': ' 'tolower($1)=="set-cookie"{split($2,a,";"); print a[1]; exit}'
}
to_ms() { awk '{v=$1; if (v ~ /us$/) {sub(/us$/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms$/,"",v)} else if (v ~ /s$/) {sub(/s$/,"",v); v*=1000}; printf "%.3f", v}'; }

results="$work/results.txt"
: >"$results"
run_case() {  # store config round
  local store=$1 config=$2 round=$3 url=memory args=()
  [[ $store == redis ]] && url="redis://127.0.0.1:$redis_port"
  [[ $config == accounts ]] && args=("${accounts_flags[@]}")
  redis-cli -p "$redis_port" flushall >/dev/null
  build-release/examples/sessionkit-example --port 0 --threads 1 --store "$url" "${args[@]}" >"$work/server.log" 2>&1 &
  local pid=$!
  pids+=($pid)
  for _ in $(seq 200); do grep -q "listening on" "$work/server.log" && break; sleep 0.05; done
  local port
  port=$(grep -o 'listening on http://[0-9.]*:[0-9]*' "$work/server.log" | sed 's/.*://')
  : >"$work/cookies"
  for i in $(seq 64); do
    if [[ $config == accounts ]]; then cookie_of -d "user=user$i" "http://127.0.0.1:$port/login" >>"$work/cookies"
    else cookie_of "http://127.0.0.1:$port/memory-store-counter" >>"$work/cookies"; fi
  done
  local out rps p99
  out=$(COOKIES_FILE="$work/cookies" wrk -t1 -c64 -d"${duration}s" --latency -s "$work/many.lua" "http://127.0.0.1:$port/")
  rps=$(awk '/^Requests\/sec/{print $2}' <<<"$out")
  p99=$(awk '$1=="99%"{print $2}' <<<"$out" | to_ms)
  echo "$store $config $round $rps $p99" >>"$results"
  echo "  $store $config round $round: $rps req/s, p99 $p99 ms" >&2
  kill "$pid"; wait "$pid" 2>/dev/null || true
}
for round in $(seq "$rounds"); do
  for store in memory redis; do
    for config in plain accounts; do run_case "$store" "$config" "$round"; done
  done
done

median() { sort -g | awk '{a[NR]=$1} END{ if (NR%2) print a[(NR+1)/2]; else printf "%.3f\n", (a[NR/2]+a[NR/2+1])/2 }'; }
m() { awk -v st="$1" -v c="$2" '$1==st && $2==c {print $'"$3"'}' "$results" | median; }

timing="$work/timing.txt"
{
  build-release/bench/sessionkit_user_index_timing --store memory --sessions "$sessions"
  redis-cli -p "$redis_port" flushall >/dev/null
  build-release/bench/sessionkit_user_index_timing --store "redis://127.0.0.1:$redis_port" --sessions "$sessions"
  build-release/bench/sessionkit_user_index_timing --store "sqlite:$work/index.db" --sessions "$sessions"
} >"$timing"

section="$work/section.md"
{
  echo "## Accounts: timeouts and the user index"
  echo
  echo "Command: \`bench/accounts.sh --rounds $rounds --duration $duration --sessions $sessions\` ($(date -u +%Y-%m-%d), $(nproc) cores)."
  echo "The counter on 64 sessions, 64 clients (\`wrk -t1 -c64 -d${duration}s\`, server \`--threads 1\`, Redis on the"
  echo "same machine), median of $rounds rounds: plain (no login) against accounts (each session logged in"
  echo "by \`POST /login\`, so kept in the store's user index, with \`${accounts_flags[*]}\`)."
  echo
  echo "| store | plain req/s | accounts req/s | accounts / plain | plain p99 ms | accounts p99 ms |"
  echo "| --- | ---: | ---: | ---: | ---: | ---: |"
  for store in memory redis; do
    p=$(m "$store" plain 4); a=$(m "$store" accounts 4)
    echo "| $store | $p | $a | $(awk -v a="$a" -v p="$p" 'BEGIN{printf "%.2f", a/p}') | $(m "$store" plain 5) | $(m "$store" accounts 5) |"
  done
  echo
  echo "\`sessions_of\` and \`destroy_all_of\` (\`build-release/bench/sessionkit_user_index_timing --store URL --sessions $sessions\`: $sessions sessions of"
  echo "$((sessions / 5)) users, 5 each; the time to list one user's 5 sessions, and to end them):"
  echo
  echo '```'
  cat "$timing"
  echo '```'
  echo
} >"$section"

results_md=bench/RESULTS.md
tmp=$(mktemp)
awk -v t="## Accounts: timeouts and the user index" -v sec="$section" '
  $0 == t {skip=1; while ((getline line < sec) > 0) print line; next}
  skip && /^## / {skip=0}
  !skip {print}' "$results_md" >"$tmp"
grep -qxF "## Accounts: timeouts and the user index" "$results_md" || cat "$section" >>"$tmp"
mv "$tmp" "$results_md"
cat "$section"
