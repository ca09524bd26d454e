#!/usr/bin/env bash
# Starts the seed's (LittleStudio's) stroke path as the real-time benchmark's baseline: Django +
# Django REST Framework under gunicorn (sync workers), MySQL (MariaDB) through PyMySQL, and the
# `pusher` server library triggering each stroke on a Pusher service - atelier's Pusher-protocol
# server, started by the caller. Prints the base URL (the only line on stdout) once it answers,
# and leaves gunicorn running in the background; stop it with `kill "$(cat PID_FILE)"`.
#
# Usage: bench/realtime/seed.sh --pusher-port PORT --pusher-secret SECRET [options]
#   --pusher-port PORT      atelier's port (its Pusher HTTP API is /apps/{id}/events there)
#   --pusher-secret SECRET  atelier's --pusher-secret
#   --pusher-app-id ID      atelier's --pusher-app-id; the pusher library accepts digits only,
#                           so atelier must run with a numeric one [1]
#   --pusher-key KEY        atelier's --pusher-key [atelier-key]
#   --rooms R --artists A   drawings 1..R, tokens bench-r{r}-a{a} [250, 4]
#   --workers N             gunicorn sync workers [2 x cores + 1]
#   --port P                gunicorn's port on 127.0.0.1 [a free one]
#   --db mysql|sqlite       [mysql; sqlite if MariaDB is unreachable]
#   --conn-max-age S        Django CONN_MAX_AGE [0, Django's default]
#   --pid-file FILE         gunicorn master's PID [$TMPDIR/atelier-seed-gunicorn.pid]
#   --log-file FILE         gunicorn's log [$TMPDIR/atelier-seed-gunicorn.log]
# The same settings may come from the environment: PUSHER_PORT, PUSHER_SECRET, PUSHER_APP_ID,
# PUSHER_KEY, SEED_ROOMS, SEED_ARTISTS, SEED_WORKERS, SEED_PORT, SEED_DB, SEED_CONN_MAX_AGE,
# SEED_PID_FILE, SEED_LOG_FILE; MySQL: SEED_MYSQL_HOST/PORT/USER/PASSWORD/DB (127.0.0.1, 3306,
# root, empty, littlestudio_bench). The venv lives in ~/.cache/atelier-bench-realtime-venv.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
APP="$HERE/seed"
VENV="${SEED_VENV:-$HOME/.cache/atelier-bench-realtime-venv}"
TMP="${TMPDIR:-/tmp}"

PUSHER_PORT=${PUSHER_PORT:-}; PUSHER_SECRET=${PUSHER_SECRET:-}
PUSHER_APP_ID=${PUSHER_APP_ID:-1}; PUSHER_KEY=${PUSHER_KEY:-atelier-key}
ROOMS=${SEED_ROOMS:-250}; ARTISTS=${SEED_ARTISTS:-4}
WORKERS=${SEED_WORKERS:-$((2 * $(nproc) + 1))}
PORT=${SEED_PORT:-}; DB=${SEED_DB:-mysql}; CONN_MAX_AGE=${SEED_CONN_MAX_AGE:-0}
PID_FILE=${SEED_PID_FILE:-$TMP/atelier-seed-gunicorn.pid}
LOG_FILE=${SEED_LOG_FILE:-$TMP/atelier-seed-gunicorn.log}
while [ $# -gt 0 ]; do
  case "$1" in
    --pusher-port) PUSHER_PORT=$2 ;;
    --pusher-secret) PUSHER_SECRET=$2 ;;
    --pusher-app-id) PUSHER_APP_ID=$2 ;;
    --pusher-key) PUSHER_KEY=$2 ;;
    --rooms) ROOMS=$2 ;;
    --artists) ARTISTS=$2 ;;
    --workers) WORKERS=$2 ;;
    --port) PORT=$2 ;;
    --db) DB=$2 ;;
    --conn-max-age) CONN_MAX_AGE=$2 ;;
    --pid-file) PID_FILE=$2 ;;
    --log-file) LOG_FILE=$2 ;;
    *) echo "seed.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift 2
done
[ -n "$PUSHER_PORT" ] && [ -n "$PUSHER_SECRET" ] || {
  echo "seed.sh: --pusher-port and --pusher-secret are required" >&2; exit 2; }
case "$PUSHER_APP_ID" in *[!0-9]*|'') echo "seed.sh: --pusher-app-id must be digits" >&2; exit 2 ;; esac

# The venv: created once, reused while requirements.txt is unchanged.
STAMP="$VENV/.requirements.sha256"
WANT=$(sha256sum "$APP/requirements.txt" | cut -d' ' -f1)
if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$STAMP" 2>/dev/null)" != "$WANT" ]; then
  echo "seed.sh: preparing $VENV" >&2
  python3 -m venv "$VENV" >&2
  "$VENV/bin/pip" install -q -r "$APP/requirements.txt" >&2
  echo "$WANT" >"$STAMP"
fi

# The database: MariaDB/MySQL as the seed had, else SQLite.
export SEED_MYSQL_HOST=${SEED_MYSQL_HOST:-127.0.0.1} SEED_MYSQL_PORT=${SEED_MYSQL_PORT:-3306}
export SEED_MYSQL_USER=${SEED_MYSQL_USER:-root} SEED_MYSQL_PASSWORD=${SEED_MYSQL_PASSWORD:-}
export SEED_MYSQL_DB=${SEED_MYSQL_DB:-littlestudio_bench}
if [ "$DB" = mysql ]; then
  if ! "$VENV/bin/python" - <<'EOF' >&2
import os, pymysql
conn = pymysql.connect(host=os.environ["SEED_MYSQL_HOST"], port=int(os.environ["SEED_MYSQL_PORT"]),
                       user=os.environ["SEED_MYSQL_USER"], password=os.environ["SEED_MYSQL_PASSWORD"],
                       connect_timeout=3)
with conn.cursor() as cur:
    cur.execute("CREATE DATABASE IF NOT EXISTS `%s` CHARACTER SET utf8mb4"
                % os.environ["SEED_MYSQL_DB"].replace("`", ""))
conn.close()
EOF
  then
    echo "seed.sh: MySQL at $SEED_MYSQL_HOST:$SEED_MYSQL_PORT unreachable; using SQLite" >&2
    DB=sqlite
  fi
fi
export SEED_DB=$DB SEED_CONN_MAX_AGE=$CONN_MAX_AGE
export SEED_SQLITE_PATH=${SEED_SQLITE_PATH:-$TMP/atelier-seed-littlestudio.sqlite3}
export PUSHER_HOST=127.0.0.1 PUSHER_PORT PUSHER_SECRET PUSHER_APP_ID PUSHER_KEY PUSHER_SSL=0

cd "$APP"
"$VENV/bin/python" manage.py migrate -v0 >&2
"$VENV/bin/python" manage.py seed_rooms --rooms "$ROOMS" --artists "$ARTISTS" >&2

# A previous instance with the same PID file is stopped first.
if [ -s "$PID_FILE" ] && kill -0 "$(cat "$PID_FILE")" 2>/dev/null; then
  kill "$(cat "$PID_FILE")"
  for _ in $(seq 1 50); do kill -0 "$(cat "$PID_FILE")" 2>/dev/null || break; sleep 0.1; done
fi
if [ -z "$PORT" ]; then
  PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
fi
rm -f "$PID_FILE"
# Sync workers, 2 x cores + 1 (gunicorn's recommendation); --backlog large enough for the
# benchmark's 1,000 artists; no access log (as gunicorn's default).
"$VENV/bin/gunicorn" littlestudio.wsgi:application --bind "127.0.0.1:$PORT" \
  --workers "$WORKERS" --worker-class sync --backlog 2048 --daemon \
  --pid "$PID_FILE" --error-logfile "$LOG_FILE" --log-level warning
URL="http://127.0.0.1:$PORT"
for _ in $(seq 1 100); do
  code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$URL/drawing/1/canvas" || true)
  [ "$code" = 401 ] && [ -s "$PID_FILE" ] && break
  sleep 0.2
done
if [ "${code:-}" != 401 ]; then
  echo "seed.sh: gunicorn did not answer on $URL; log $LOG_FILE:" >&2
  tail -20 "$LOG_FILE" >&2
  exit 1
fi
echo "seed.sh: $WORKERS sync workers, db=$DB, pid $(cat "$PID_FILE") in $PID_FILE" >&2
echo "$URL"
