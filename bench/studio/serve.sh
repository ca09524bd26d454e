# Sourced by the studio benchmarks: starts `$BIN serve` on 127.0.0.1:$PORT with its data in
# $WORK/srv (extra serve arguments: "$@"), stops it and removes $WORK on exit, registers a user,
# and exports ATELIER_SERVER and ATELIER_TOKEN for the `atelier studio` CLI. `field NAME` prints
# a field of the last JSON line on stdin.
"$BIN" serve --bind "127.0.0.1:$PORT" --data-dir "$WORK/srv" --workers 1 \
  --max-upload-bytes 500000000 --log warn "$@" &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; rm -rf "$WORK"' EXIT
export ATELIER_SERVER=http://127.0.0.1:$PORT
for _ in $(seq 100); do curl -sf "$ATELIER_SERVER/readyz" >/dev/null && break; sleep 0.2; done
ATELIER_TOKEN=$(curl -sf "$ATELIER_SERVER/api/v1/auth/register" -H 'content-type: application/json' \
  -d '{"username":"bench","password":"bench bench","gender":"Other","type":"Parent"}' |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
export ATELIER_TOKEN
field() { python3 -c "import json,sys; print(json.loads(sys.stdin.readlines()[-1])['$1'])"; }
