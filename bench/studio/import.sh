#!/usr/bin/env bash
# The 720p import alone (the last part of http.sh): a 60 s 1280x720 30 fps H.264 clip (ffmpeg
# testsrc2, baseline profile) uploaded with `atelier studio import` to a real `atelier serve`,
# RUNS times; prints the import job's seconds (started -> finished) and the CLI's wall time.
#   bench/studio/import.sh [RUNS=3]
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS=${1:-3}
T=${CARGO_TARGET_DIR:-target}
BIN=$T/release/atelier
WORK=$(mktemp -d /var/tmp/studio-import-XXXXXX)
PORT=${PORT:-18432}
load() { cut -d' ' -f1 /proc/loadavg; }
cargo build --release -q --workspace --bin atelier
ffmpeg -loglevel error -f lavfi -i testsrc2=size=1280x720:rate=30 -t 60 -c:v libx264 \
  -profile:v baseline -pix_fmt yuv420p "$WORK/720p.mp4"
. bench/studio/serve.sh
PID=$("$BIN" studio create bench --labels thing | field id)
for run in $(seq "$RUNS"); do
  BEFORE=$(load)
  START=$(date +%s.%N)
  MEDIA=$("$BIN" studio import "$PID" "$WORK/720p.mp4" 2>/dev/null | tail -1)
  END=$(date +%s.%N)
  JOB=$(echo "$MEDIA" | python3 -c 'import json,sys; print(json.load(sys.stdin)["job_id"])')
  curl -sf -H "authorization: Bearer $ATELIER_TOKEN" "$ATELIER_SERVER/api/v1/jobs/$JOB" |
    python3 -c 'import json,sys; j=json.load(sys.stdin); r=j.get("output") or {}; print("run '"$run"': import job %.1f s, %s frames, decoder %s" % ((j["finished_at"]-j["started_at"])/1000, r.get("frame_count"), r.get("decoder")), end="")'
  echo "; CLI wall $(python3 -c "print('%.1f' % ($END - $START))") s; load $BEFORE -> $(load)"
done
