#!/usr/bin/env bash
# Requests/s of `GET /healthz` and of an authenticated `GET /api/v1/me` on loopback, measured
# with wrk (Debian package) against a release build of atelier in embedded mode.
# Usage: bench/platform/run.sh [DURATION_SECONDS=10] [REPEATS=3] [CONNECTIONS=64]
#   ATELIER_BIN=path runs that binary instead of building one (e.g. to compare two builds).
set -euo pipefail
cd "$(dirname "$0")/../.."
DURATION=${1:-10}; REPEATS=${2:-3}; CONNECTIONS=${3:-64}
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
[ -n "${ATELIER_BIN:-}" ] || cargo build --release -q -p atelier
BIN="${ATELIER_BIN:-${CARGO_TARGET_DIR:-target}/release/atelier}"
DATA=$(mktemp -d)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$BIN" serve --bind "127.0.0.1:$PORT" --data-dir "$DATA" --workers 0 --log warn >/dev/null 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; rm -rf "$DATA"' EXIT
for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.1; done
TOKEN=$(curl -fs -X POST "http://127.0.0.1:$PORT/api/v1/auth/register" -H 'content-type: application/json' \
  -d '{"username":"bench","password":"benchmark password","gender":"Other","type":"Parent"}' |
  python3 -c 'import sys, json; print(json.load(sys.stdin)["token"])')

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
measure() { # name, then wrk arguments
  local name=$1; shift
  local rates=() p50s=() p99s=()
  for _ in $(seq 1 "$REPEATS"); do
    out=$(wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --latency "$@")
    rates+=("$(echo "$out" | awk '/Requests\/sec/ {print $2}')")
    p50s+=("$(echo "$out" | awk '$1=="50%" {print $2}')")
    p99s+=("$(echo "$out" | awk '$1=="99%" {print $2}')")
  done
  printf '%-28s req/s median %-10s (runs: %s)  p50 %s  p99 %s\n' "$name" \
    "$(printf '%s\n' "${rates[@]}" | median)" "${rates[*]}" "${p50s[*]}" "${p99s[*]}"
}
echo "wrk -t2 -c$CONNECTIONS -d${DURATION}s, $REPEATS runs each, $(nproc) cores"
measure "GET /healthz" "http://127.0.0.1:$PORT/healthz"
measure "GET /api/v1/me (Bearer)" -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT/api/v1/me"
