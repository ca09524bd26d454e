#!/usr/bin/env bash
# Shape report: torso area, limb lengths, folds and drawn area of every test drawing over every
# motion, the parts rig beside the one-piece rig, and contact sheets (every 8th frame).
# Usage: bench/animate/shape.sh [OUT_DIR=target/animate-shape]
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
cargo run --release -q -p atelier-animate --example shape_report -- "${1:-target/animate-shape}"
