#!/usr/bin/env bash
# Detect over HTTP on loopback, side by side: the seed's design (Flask + OpenCV, gunicorn with 2
# workers) against atelier (`POST /api/v1/detect`), same 640x480 photo, same cascade and
# parameters. wrk at each concurrency, REPEATS runs each, medians and the ratio printed.
# Usage: bench/detect/run.sh [SECONDS=10] [REPEATS=3] ["CONCURRENCIES=1 8 32"]
#   ATELIER_BIN=path runs that binary instead of building one (e.g. to compare two builds);
#   SIDES=atelier runs atelier alone (no Python, OpenCV or gunicorn; the photo is the classify
#   fixture's astronaut scaled to 640x480 with Pillow), for before/after runs of atelier.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
SECONDS_PER_RUN=${1:-10}; REPEATS=${2:-3}; CONCURRENCIES=${3:-"1 8 32"}
CASCADE=/usr/share/opencv4/haarcascades/haarcascade_frontalface_default.xml
SIDES=${SIDES:-"seed atelier"}
SEED_WANTED=; case " $SIDES " in *" seed "*) SEED_WANTED=1 ;; esac
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
[ -f "$CASCADE" ] || { apt-get update -qq && apt-get install -y -qq opencv-data >/dev/null; }
[ -z "$SEED_WANTED" ] || python3 -c "import cv2, flask, gunicorn, skimage" 2>/dev/null \
  || python3 -m pip install -q 'opencv-python-headless<5' flask gunicorn scikit-image
[ -n "${ATELIER_BIN:-}" ] || (cd "$ROOT" && cargo build --release -q -p atelier)
BIN="${ATELIER_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/release/atelier}"
WORK=$(mktemp -d)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
if [ -n "$SEED_WANTED" ]; then
python3 - "$WORK/photo.jpg" <<'PY'
import sys, cv2
from skimage import data
photo = cv2.cvtColor(cv2.resize(data.astronaut(), (640, 480)), cv2.COLOR_RGB2BGR)
cv2.imwrite(sys.argv[1], photo, [cv2.IMWRITE_JPEG_QUALITY, 90])
PY
else
python3 - "$WORK/photo.jpg" "$ROOT/crates/classify/tests/fixtures/parity/images/000.png" <<'PY'
import sys
from PIL import Image
Image.open(sys.argv[2]).convert("RGB").resize((640, 480)).save(sys.argv[1], quality=90)
PY
fi
SEED_PORT=$(free_port); ATELIER_PORT=$(free_port)
SEED=
if [ -n "$SEED_WANTED" ]; then
  (cd "$HERE" && CASCADE="$CASCADE" OMP_NUM_THREADS=1 gunicorn -w 2 -b "127.0.0.1:$SEED_PORT" --log-level warning seed_app:app) &
  SEED=$!
fi
"$BIN" serve --bind "127.0.0.1:$ATELIER_PORT" --data-dir "$WORK/data" --workers 0 --log warn >/dev/null 2>&1 &
ATELIER=$!
trap 'kill $SEED $ATELIER 2>/dev/null; rm -rf "$WORK"' EXIT
for url in ${SEED:+"http://127.0.0.1:$SEED_PORT/detect"} "http://127.0.0.1:$ATELIER_PORT/healthz"; do
  for _ in $(seq 1 100); do curl -s -o /dev/null "$url" && break; sleep 0.2; done
done
echo "answers (must agree):"
[ -z "$SEED" ] || { curl -s -F "file=@$WORK/photo.jpg" "http://127.0.0.1:$SEED_PORT/detect"; echo; }
curl -s -F "file=@$WORK/photo.jpg" "http://127.0.0.1:$ATELIER_PORT/api/v1/detect?cascade=frontalface_default&scale_factor=1.1&min_neighbors=3"; echo

run() { # url concurrency -> one JSON line per run
  wrk -t"$(( $2 < 2 ? 1 : 2 ))" -c"$2" -d"${SECONDS_PER_RUN}s" -s "$HERE/../classify/multipart.lua" "$1" -- "$WORK/photo.jpg" | tail -n1
}
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
field() { python3 -c "import sys, json; print(json.loads(sys.argv[1])['$2'])" "$1"; }
printf '\n%-6s %-8s %12s %10s %10s %8s\n' conc side "req/s" "p50 ms" "p99 ms" errors
for c in $CONCURRENCIES; do
  declare -A rps
  for side in $SIDES; do
    if [ $side = seed ]; then url="http://127.0.0.1:$SEED_PORT/detect"
    else url="http://127.0.0.1:$ATELIER_PORT/api/v1/detect?cascade=frontalface_default&scale_factor=1.1&min_neighbors=3"; fi
    lines=(); for _ in $(seq 1 "$REPEATS"); do lines+=("$(run "$url" "$c")"); done
    r=$(for l in "${lines[@]}"; do field "$l" rps; done | median)
    p50=$(for l in "${lines[@]}"; do field "$l" p50_ms; done | median)
    p99=$(for l in "${lines[@]}"; do field "$l" p99_ms; done | median)
    errs=$(for l in "${lines[@]}"; do field "$l" errors; done | paste -sd+ | bc)
    rps[$side]=$r
    printf '%-6s %-8s %12.1f %10.2f %10.2f %8s\n' "$c" "$side" "$r" "$p50" "$p99" "$errs"
  done
  [ -z "$SEED" ] || printf '%-6s ratio atelier/seed req/s: %.2f\n' "$c" "$(echo "${rps[atelier]} / ${rps[seed]}" | bc -l)"
done
