#!/usr/bin/env bash
# The seed baseline's ceiling for POST /drawing/{id}/canvas alone (auth, participation check,
# serializer, pusher trigger to atelier), under wrk at a few concurrencies, plus the end-to-end
# check (check.py) first. Starts its own atelier (as the Pusher service) and seed server.
# Usage: bench/realtime/seed/ceiling.sh [ATELIER_BINARY] [SECONDS=15] ["1 8 32 128"] [CONN_MAX_AGE=0]
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../../.." && pwd)"
BIN=${1:-${CARGO_TARGET_DIR:-$ROOT/target}/release/atelier}
SECS=${2:-15}; CONCURRENCIES=${3:-1 8 32 128}; CONN_MAX_AGE=${4:-0}
VENV="${SEED_VENV:-$HOME/.cache/atelier-bench-realtime-venv}"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
WORK=$(mktemp -d)
PORT=$(free_port)
SECRET=bench-secret-$RANDOM$RANDOM
"$BIN" serve --bind "127.0.0.1:$PORT" --data-dir "$WORK/data" --workers 0 --log warn \
  --pusher-app-id 1 --pusher-secret "$SECRET" >"$WORK/atelier.log" 2>&1 &
ATELIER=$!
trap 'kill $ATELIER 2>/dev/null; [ -s "$WORK/seed.pid" ] && kill "$(cat "$WORK/seed.pid")" 2>/dev/null; rm -rf "$WORK"' EXIT
for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$PORT/healthz" && break; sleep 0.2; done
SEED=$("$HERE/../seed.sh" --pusher-port "$PORT" --pusher-secret "$SECRET" --pusher-app-id 1 \
  --conn-max-age "$CONN_MAX_AGE" --pid-file "$WORK/seed.pid" --log-file "$WORK/seed.log")
"$VENV/bin/python" "$HERE/check.py" --seed-base "$SEED" --atelier-base "http://127.0.0.1:$PORT" \
  --secret "$SECRET" >&2
echo "seed at $SEED (CONN_MAX_AGE=$CONN_MAX_AGE), atelier at 127.0.0.1:$PORT, $(nproc) cores, ${SECS}s per row" >&2
# CPU time (user + system, clock ticks) of a set of processes: a figure that other load on the
# machine disturbs less than requests/s.
ticks() { for p in "$@"; do [ -r "/proc/$p/stat" ] && awk '{print $14 + $15}' "/proc/$p/stat"; done | awk '{s += $1} END {print s + 0}'; }
GUNICORN=$(cat "$WORK/seed.pid")
DBPID=$(pidof mariadbd || pidof mysqld || true)
HZ=$(getconf CLK_TCK)
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
printf '%6s %10s %9s %9s %9s %9s %12s %12s %12s\n' conns "req/s" "p50 ms" "p90 ms" "p99 ms" "non-2xx" \
  "django ms/req" "mysql ms/req" "atelier ms/req"
for c in $CONCURRENCIES; do
  threads=$(( c < 2 ? 1 : 2 ))
  workers=$(pgrep -P "$GUNICORN" | tr '\n' ' ')
  d0=$(ticks $GUNICORN $workers); m0=$(ticks $DBPID); a0=$(ticks $ATELIER)
  out=$(wrk -t"$threads" -c"$c" -d"${SECS}s" --timeout 10s --latency -s "$HERE/wrk_canvas.lua" "$SEED")
  rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
  ms() { awk -v p="$1" '$1 == p { v=$2; if (v ~ /us$/) {sub(/us$/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms$/,"",v)} else if (v ~ /s$/) {sub(/s$/,"",v); v*=1000}; printf "%.2f", v }' <<<"$out"; }
  bad=$(awk '/^non-2xx\/3xx responses:/ {print $3}' <<<"$out")
  errs=$(grep -o 'Socket errors:.*' <<<"$out" || true)
  d1=$(ticks $GUNICORN $workers); m1=$(ticks $DBPID); a1=$(ticks $ATELIER)
  n=$(awk '/requests in/ {print $1}' <<<"$out")
  cpu() { awk -v t="$1" -v n="$n" -v hz="$HZ" 'BEGIN {printf "%.2f", (n > 0 ? t * 1000 / hz / n : 0)}'; }
  printf '%6s %10s %9s %9s %9s %9s %12s %12s %12s %s\n' "$c" "$rps" "$(ms 50%)" "$(ms 90%)" "$(ms 99%)" \
    "$bad" "$(cpu $((d1 - d0)))" "$(cpu $((m1 - m0)))" "$(cpu $((a1 - a0)))" "$errs"
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
