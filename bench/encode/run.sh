#!/usr/bin/env bash
# Animation encoding, side by side: atelier's GIF and MP4 encoders (crates/imaging/src/animation)
# against ffmpeg's own (libx264 -preset veryfast; GIF with palettegen/paletteuse) on the same
# synthetic frames (moving shaded discs over a panning gradient). RUNS runs each, median wall and
# CPU time, output size and PSNR against the source frames (ffmpeg's psnr filter, RGB).
# ffmpeg reads raw RGBA, so neither side pays for decoding the input.
# Usage: bench/encode/run.sh [RUNS=5] [FRAMES=150] [SIZE=512]
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
RUNS=${1:-5}; FRAMES=${2:-150}; SIZE=${3:-512}; FPS=30
command -v ffmpeg >/dev/null || { apt-get update -qq && apt-get install -y -qq ffmpeg >/dev/null; }
(cd "$ROOT" && cargo build --release -q -p atelier-imaging --example encode_bench)
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/examples/encode_bench"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

echo "== atelier, all cores"
"$BIN" --runs "$RUNS" --frames "$FRAMES" --size "$SIZE" --fps "$FPS" --out "$WORK"
echo "== atelier, one thread (RAYON_NUM_THREADS=1)"
RAYON_NUM_THREADS=1 "$BIN" --runs "$RUNS" --frames "$FRAMES" --size "$SIZE" --fps "$FPS"

INPUT=(-f rawvideo -pix_fmt rgba -s "${SIZE}x${SIZE}" -framerate "$FPS" -i "$WORK/frames.rgba")
# Runs a command RUNS times; prints median wall and CPU (children's user + system) in ms.
timed() {
  python3 - "$RUNS" "$@" <<'PY'
import resource, statistics, subprocess, sys, time
runs, cmd = int(sys.argv[1]), sys.argv[2:]
walls, cpus = [], []
for _ in range(runs):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(cmd, check=True)
    walls.append((time.perf_counter() - start) * 1000)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpus.append((after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) * 1000)
print(f"wall {statistics.median(walls):8.1f} ms  cpu {statistics.median(cpus):8.1f} ms")
PY
}
ffreport() { # name command...
  local name=$1; shift
  printf 'ffmpeg  %-30s %s  %9s bytes\n' "$name" "$(timed "$@")" "$(stat -c %s "${@: -1}")"
}
echo "== ffmpeg $(ffmpeg -version | head -n1 | cut -d' ' -f3)"
ffreport "libx264 veryfast" ffmpeg -v error -y "${INPUT[@]}" -c:v libx264 -preset veryfast -pix_fmt yuv420p "$WORK/x264.mp4"
ffreport "libx264 veryfast -threads 1" ffmpeg -v error -y "${INPUT[@]}" -threads 1 -c:v libx264 -preset veryfast -pix_fmt yuv420p "$WORK/x264-1t.mp4"
ffreport "gif palettegen+paletteuse" ffmpeg -v error -y "${INPUT[@]}" -vf "split[a][b];[a]palettegen[p];[b][p]paletteuse" "$WORK/ffmpeg.gif"

echo "== PSNR against the source frames (dB, RGB, average over frames)"
for f in atelier-dither.gif atelier-no-dither.gif ffmpeg.gif atelier-qp26.mp4 x264.mp4; do
  psnr=$(ffmpeg -v info -i "$WORK/$f" "${INPUT[@]}" \
    -lavfi "[0:v]format=rgb24[a];[1:v]format=rgb24[b];[a][b]psnr" -f null - 2>&1 \
    | grep -o 'average:[0-9.inf]*' | cut -d: -f2)
  printf '%-24s %8s dB  %9s bytes\n' "$f" "$psnr" "$(stat -c %s "$WORK/$f")"
done
