#!/usr/bin/env bash
# Seconds per 3D photo, per stage (depth, layers+inpaint, render, encode), median of RUNS:
# a 512-px photo -> a 4 s, 30 fps circle path -> H.264 MP4, on every core (rayon).
#   bench/photo3d/run.sh [RUNS] [SIDE] [PHOTO.png]
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS=${1:-5}
SIDE=${2:-512}
PHOTO=${3:-}
cargo build --release -p atelier-photo3d --example bench
target=${CARGO_TARGET_DIR:-target}
"$target/release/examples/bench" "$RUNS" "$SIDE" $PHOTO
