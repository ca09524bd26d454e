#!/usr/bin/env bash
# Real-time fan-out on loopback: 1,000 WebSocket clients in 250 rooms (4 artists per room), each
# artist drawing RATE strokes per second, in two modes:
#   http   - the seed's design served by atelier: every stroke is POSTed to
#            /api/v1/drawings/{id}/strokes (appended to the log) and triggered on the room's
#            presence channel; all 4 artists receive it;
#   client - Pusher client events on a private channel: pure WebSocket fan-out to the 3 others;
#   seed   - the seed's own design side by side (LittleStudio: Django REST Framework under
#            gunicorn + MySQL, each stroke forwarded with the `pusher` library; atelier stands in
#            for the hosted Pusher service): bench/realtime/seed.sh starts it. Not in the default
#            MODES: it needs a Python venv and MariaDB (SQLite otherwise), and saturates far below
#            1,000 strokes/s, so run it as MODES=seed with a lower RATE too.
# Latency = receive time - send time (same clock, carried in the stroke). REPEATS runs per mode,
# medians printed. The load generator shares the machine's cores with the server.
# Usage: bench/realtime/run.sh [SECONDS=20] [REPEATS=3] [RATE=1] [CLIENTS=1000] [ROOMS=250]
#   MODES="client http" (default) picks the modes; DB=postgres://… runs the server on PostgreSQL;
#   NO_BUILD=1 uses the binaries already built; SQLITE_SYNCHRONOUS=normal|full sets the server's
#   SQLite durability (default full: every stroke commit synced); ATELIER_BIN=path serves with
#   that binary (e.g. to compare two builds; the load generator still comes from the target).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
SECS=${1:-20}; REPEATS=${2:-3}; RATE=${3:-1}; CLIENTS=${4:-1000}; ROOMS=${5:-250}
[ -n "${NO_BUILD:-}" ] || (cd "$ROOT" && cargo build --release -q -p atelier --bin atelier --example realtime_load)
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}/release"
ulimit -n 65536 2>/dev/null || ulimit -n 8192 || true
WORK=$(mktemp -d)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
SECRET=bench-secret-$RANDOM$RANDOM
DB_ARGS=()
[ -n "${DB:-}" ] && DB_ARGS=(--database-url "$DB")
"${ATELIER_BIN:-$TARGET/atelier}" serve --bind "127.0.0.1:$PORT" --data-dir "$WORK/data" "${DB_ARGS[@]}" --workers 0 --log warn \
  --pusher-app-id 1 --pusher-secret "$SECRET" --registrations-per-ip 1000000 \
  ${SQLITE_SYNCHRONOUS:+--sqlite-synchronous "$SQLITE_SYNCHRONOUS"} >"$WORK/server.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; [ -f "$WORK/seed.pid" ] && kill "$(cat "$WORK/seed.pid")" 2>/dev/null; rm -rf "$WORK"' EXIT
for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$PORT/healthz" && break; sleep 0.2; done
SEED_BASE=
case " ${MODES:-client http} " in
  *" seed "*)
    SEED_BASE=$("$HERE/seed.sh" --pusher-port "$PORT" --pusher-secret "$SECRET" --pusher-app-id 1 \
      --rooms "$ROOMS" --artists $((CLIENTS / ROOMS)) --pid-file "$WORK/seed.pid" --log-file "$WORK/seed.log")
    echo "seed server: $SEED_BASE" >&2 ;;
esac

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
field() { python3 -c "import sys, json; print(json.loads(sys.argv[1])['$2'])" "$1"; }
printf '%-7s %8s %8s %12s %12s %9s %9s %9s %9s\n' mode clients rooms sent delivered "msgs/s" "p50 ms" "p99 ms" "max ms"
for mode in ${MODES:-client http}; do
  lines=()
  for _ in $(seq 1 "$REPEATS"); do
    line=$("$TARGET/examples/realtime_load" --base "http://127.0.0.1:$PORT" --key atelier-key \
      --secret "$SECRET" --clients "$CLIENTS" --rooms "$ROOMS" --seconds "$SECS" --rate "$RATE" --mode "$mode" \
      ${SEED_BASE:+--seed-base "$SEED_BASE"})
    echo "  $line" >&2
    lines+=("$line")
  done
  m() { for l in "${lines[@]}"; do field "$l" "$1"; done | median; }
  printf '%-7s %8s %8s %12s %12s %9.0f %9.2f %9.2f %9.2f\n' "$mode" "$CLIENTS" "$ROOMS" \
    "$(m sent)" "$(m delivered)" "$(m msgs_per_sec)" "$(m p50_ms)" "$(m p99_ms)" "$(m max_ms)"
done
