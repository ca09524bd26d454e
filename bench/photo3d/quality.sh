#!/usr/bin/env bash
# What a viewer sees: per sample photo and camera path (4 s, 30 fps, amplitude 0.03,
# classical depth, 512-px photo), the smallest border across/along gradient ratio over all
# frames (goal >= 0.5), the most stretched triangles in a frame (goal 0), the path's zoom,
# and a contact sheet of every 15th frame in bench/photo3d/sheets/<photo>-<path>.png.
# The photos are scikit-image's coffee, chelsea, astronaut and rocket (pip scikit-image).
#   bench/photo3d/quality.sh [OUT_DIR=bench/photo3d/sheets]
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${1:-bench/photo3d/sheets}
PHOTOS=$(mktemp -d)
trap 'rm -rf "$PHOTOS"' EXIT
python3 - "$PHOTOS" <<'PY'
import sys
import skimage.data as data
import skimage.io as io
for name in ["coffee", "chelsea", "astronaut", "rocket"]:
    io.imsave(f"{sys.argv[1]}/{name}.png", getattr(data, name)())
PY
cargo build --release -q -p atelier-photo3d --example quality
target=${CARGO_TARGET_DIR:-target}
"$target/release/examples/quality" "$OUT" "$PHOTOS"/{coffee,chelsea,astronaut,rocket}.png
