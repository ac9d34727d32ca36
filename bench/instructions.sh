#!/usr/bin/env bash
# User-space instructions per request of the example server (Release), counted by callgrind:
# deterministic, unlike requests/s on a shared VM, so small changes to the hot path show. Each
# route is measured with N and 2N keep-alive requests on one session; the difference divided
# by N cancels start-up. (Under valgrind OpenSSL uses its generic SHA-256 code, so the HMAC
# counts several thousand instructions more than with the CPU's SHA extensions.)
#
#   bench/instructions.sh [--requests N] [--server-args "ARGS"] [--login USER] [--new] [ROUTE...]
#     (default routes: /no-session /memory-store-counter /session-read; ARGS go to the server,
#      e.g. "--metrics"; --login: the session is made by POST /login as USER, so the requests
#      measured are a logged-in user's, with the store's user index kept; --new: the requests
#      carry no cookie, so each one makes a new session)
set -euo pipefail
cd "$(dirname "$0")/.."

n=2000
routes=()
server_args=""
login=""
new_sessions=""
while (($#)); do
  case "$1" in
    --requests) n=$2; shift 2 ;;
    --server-args) server_args=$2; shift 2 ;;
    --login) login=$2; shift 2 ;;
    --new) new_sessions=1; shift ;;
    *) routes+=("$1"); shift ;;
  esac
done
((${#routes[@]})) || routes=(/no-session /memory-store-counter /session-read)
command -v valgrind >/dev/null || { echo "valgrind is needed (Debian package valgrind)" >&2; exit 1; }
SESSIONKIT_BUILD_DIR=build-release SESSIONKIT_BUILD_TYPE=Release ./scripts/build.sh \
  -DSESSIONKIT_BUILD_TESTS=OFF >/dev/null
bin=build-release/examples/sessionkit-example
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Total instructions of one server run that answers `count` requests on `route`.
run() {  # route count
  valgrind --tool=callgrind --callgrind-out-file="$work/out" "$bin" --port 0 --threads 1 \
    --store memory $server_args >"$work/log" 2>&1 &
  local pid=$!
  for _ in $(seq 300); do grep -q "listening on" "$work/log" && break; sleep 0.1; done
  local port
  port=$(grep -o 'listening on http://[0-9.]*:[0-9]*' "$work/log" | sed 's/.*://')
  python3 - "$port" "$1" "$2" "$login" "$new_sessions" <<'PY'
import http.client, sys
port, route, n, login, new = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
c = http.client.HTTPConnection("127.0.0.1", port)
if login:
    c.request("POST", "/login", body="user=" + login,
              headers={"Content-Type": "application/x-www-form-urlencoded"})
else:
    c.request("GET", "/memory-store-counter")
r = c.getresponse(); r.read()
cookie = r.getheader("Set-Cookie").split(";")[0]
for _ in range(n):
    c.request("GET", route, headers={} if new else {"Cookie": cookie})
    r = c.getresponse(); r.read()
    assert r.status == 200, r.status
PY
  kill -INT "$pid"
  wait "$pid" 2>/dev/null || true
  grep -o "Collected : [0-9]*" "$work/log" | awk '{print $3}'
}

for route in "${routes[@]}"; do
  a=$(run "$route" "$n")
  b=$(run "$route" $((2 * n)))
  echo "$route $(((b - a) / n)) instructions/request"
done
