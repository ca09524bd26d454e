#!/usr/bin/env bash
# The studio over HTTP, driven by the `atelier studio` CLI against a real `atelier serve`:
#   1. synthetic clips (examples/studio_synth) imported with their CVAT annotations, a detector
#      trained (budget TRAIN_SECS), then POST /api/v1/detect?detector={id} under wrk at
#      concurrency 1, 4 and 8 (images/s, p50, p99);
#      and the downloaded model (detector.onnx) in onnxruntime from Python, no HTTP;
#   2. a 1-minute 720p H.264 clip (ffmpeg testsrc2, baseline profile) imported: seconds against
#      its 60 s.
# Prints the load (1-min average) beside every figure.
#   bench/studio/http.sh [CLIPS=6] [TRAIN_SECS=60] [WRK_SECS=20]
set -euo pipefail
cd "$(dirname "$0")/../.."
CLIPS=${1:-6}
TRAIN_SECS=${2:-60}
WRK_SECS=${3:-20}
T=${CARGO_TARGET_DIR:-target}
BIN=$T/release/atelier
CACHE=${ATELIER_BENCH_CACHE:-/var/tmp/atelier-bench-studio}
WORK=$(mktemp -d /var/tmp/studio-http-XXXXXX)
PORT=${PORT:-18431}
load() { cut -d' ' -f1 /proc/loadavg; }
if [ -z "${ORT_DYLIB_PATH:-}" ]; then
  ORT_DYLIB_PATH=$(python3 -c 'import onnxruntime, os, glob; print(glob.glob(os.path.dirname(onnxruntime.__file__) + "/capi/libonnxruntime.so.*")[0])' 2>/dev/null || true)
  [ -n "$ORT_DYLIB_PATH" ] && export ORT_DYLIB_PATH
fi
# Built with the workspace's features, so a target that built the tests reuses its crates.
cargo build --release -q --workspace --bin atelier --example studio_synth
"$T/release/examples/studio_synth" "$WORK/data" "$CLIPS" 100

. bench/studio/serve.sh --models-dir "$CACHE/models"

PID=$("$BIN" studio create bench --labels disc,triangle,cross,diamond | field id)
for i in $(seq 0 $((CLIPS - 1))); do
  MID=$("$BIN" studio import "$PID" "$WORK/data/clip-$i.mp4" | field id)
  "$BIN" studio import "$PID" --annotations "$WORK/data/clip-$i.xml" --media "$MID" --format cvat-video >/dev/null
done
echo "train: load $(load)"
DID=$("$BIN" studio train "$PID" --budget "$TRAIN_SECS" | tee /dev/stderr | field detector_id)

echo "== POST /api/v1/detect?detector=$DID, $(python3 -c "from PIL import Image; print('x'.join(map(str, Image.open('$WORK/data/probe.jpg').size)))" 2>/dev/null || echo 320x240) JPEG"
curl -sf -H "authorization: Bearer $ATELIER_TOKEN" -F "file=@$WORK/data/probe.jpg" \
  "$ATELIER_SERVER/api/v1/detect?detector=$DID" | head -c 300; echo
for C in 1 4 8; do
  echo "-- concurrency $C (load before $(load))"
  IMAGE=$WORK/data/probe.jpg wrk -t1 -c"$C" -d"${WRK_SECS}s" --latency -s bench/studio/detect.lua \
    "$ATELIER_SERVER/api/v1/detect?detector=$DID" | grep -E 'Requests/sec|50%|99%|Non-2xx|requests in'
  echo "   load after $(load)"
done

echo "== the downloaded model in onnxruntime (Python, in-process, no HTTP); load $(load)"
"$BIN" studio download "$DID" -o "$WORK/detector.zip" >/dev/null
python3 -c "import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])" "$WORK/detector.zip" "$WORK/detector"
python3 bench/studio/ort_bench.py "$WORK/detector" "$WORK/data/probe.jpg" "$WRK_SECS"

echo "== 1-minute 720p H.264 clip"
ffmpeg -loglevel error -f lavfi -i testsrc2=size=1280x720:rate=30 -t 60 -c:v libx264 \
  -profile:v baseline -pix_fmt yuv420p "$WORK/720p.mp4"
ls -l "$WORK/720p.mp4" | awk '{print "clip bytes:", $5}'
echo "load before $(load)"
START=$(date +%s.%N)
MEDIA=$("$BIN" studio import "$PID" "$WORK/720p.mp4" | tail -1)
END=$(date +%s.%N)
echo "$MEDIA" | python3 -c 'import json,sys; m=json.load(sys.stdin); print("frames", m["frame_count"], "size", m["width"], "x", m["height"], "duration_ms", m["duration_ms"])'
JOB=$(echo "$MEDIA" | field job_id)
curl -sf -H "authorization: Bearer $ATELIER_TOKEN" "$ATELIER_SERVER/api/v1/jobs/$JOB" |
  python3 -c 'import json,sys; j=json.load(sys.stdin); print("import job: %.1f s (started -> finished)" % ((j["finished_at"]-j["started_at"])/1000))'
echo "upload + import (CLI wall): $(python3 -c "print('%.1f' % ($END - $START))") s for 60 s of video; load after $(load)"
