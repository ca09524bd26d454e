#!/usr/bin/env bash
# Animate: one 512x512 synthetic drawing (stick figure and filled figure on shaded, noisy paper)
# from PNG bytes to an animated GIF of 5 s at 30 fps (150 frames of 512x512), per stage
# (decode, segment, skeleton, rig, retarget, render, encode), median of RUNS runs.
# Usage: bench/animate/run.sh [RUNS=7] [MOTION=dance]
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
RUNS=${1:-7}; MOTION=${2:-dance}
cd "$ROOT"
cargo run --release -q -p atelier-animate --example bench_animate -- "$RUNS" "$MOTION"
