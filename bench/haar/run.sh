#!/usr/bin/env bash
# Bare-engine benchmark, side by side on this machine: atelier-haar against
# cv2.CascadeClassifier.detectMultiScale (opencv-python-headless<5), single-threaded
# (cv2.setNumThreads(1) / a 1-thread rayon pool) and with 2 threads, on the same 640x480 images,
# frontalface_default, scale factor 1.1, min_neighbors 3. Prints medians and the speed ratio.
#
# Environment: RUNS (timed runs per engine and setting, default 30), ROUNDS (alternations of the
# two engines, default 3), THREADS (default "1 2"), CASCADE (default: Debian opencv-data's
# frontalface_default, else the cv2 wheel's).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
RUNS="${RUNS:-30}"
ROUNDS="${ROUNDS:-3}"
THREADS="${THREADS:-1 2}"
if [[ -z "${CASCADE:-}" ]]; then
    CASCADE=/usr/share/opencv4/haarcascades/haarcascade_frontalface_default.xml
    if [[ ! -f "$CASCADE" ]]; then
        CASCADE="$(python3 -c 'import cv2; print(cv2.data.haarcascades)')haarcascade_frontalface_default.xml"
    fi
fi
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

mapfile -t IMAGES < <(python3 "$HERE/make_images.py" "$WORK")
cargo build --release --quiet --manifest-path "$HERE/Cargo.toml"
atelier() { cargo run --release --quiet --manifest-path "$HERE/Cargo.toml" -- "$@"; }

echo "cascade: $CASCADE"
echo "images:  ${#IMAGES[@]} x 640x480, one run = one detection per image; $RUNS runs x $ROUNDS rounds"
: > "$WORK/results.jsonl"
for t in $THREADS; do
    for ((r = 0; r < ROUNDS; r++)); do
        # Alternate the engines so background load hits both alike.
        python3 "$HERE/bench.py" --cascade "$CASCADE" --threads "$t" --runs "$RUNS" "${IMAGES[@]}" >> "$WORK/results.jsonl"
        atelier --cascade "$CASCADE" --threads "$t" --runs "$RUNS" "${IMAGES[@]}" >> "$WORK/results.jsonl"
    done
done

python3 - "$WORK/results.jsonl" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
print(f"\n{'threads':>7} {'opencv median ms':>17} {'atelier median ms':>18} {'speed-up':>9}  same boxes")
for t in sorted({r["threads"] for r in rows}):
    cv = [r for r in rows if r["engine"] == "opencv" and r["threads"] == t]
    at = [r for r in rows if r["engine"] == "atelier" and r["threads"] == t]
    cvm = statistics.median(r["median_ms"] for r in cv)
    atm = statistics.median(r["median_ms"] for r in at)
    same = all(sorted(map(tuple, a["boxes"])) == sorted(map(tuple, c["boxes"])) for a in at for c in cv)
    print(f"{t:>7} {cvm:>17.2f} {atm:>18.2f} {cvm / atm:>8.2f}x  {same}")
print(f"(opencv {cv[0]['version']}; medians over {len(cv)} rounds of per-round medians; "
      "speed-up = opencv / atelier)")
PY
