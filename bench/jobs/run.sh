#!/usr/bin/env bash
# Job throughput per worker count, with the server's CPU profile (see README.md).
# Usage: bench/jobs/run.sh ["1 2 4"] [ROUNDS=3] [ANIMATE=32] [PHOTO3D=16] [ACCOUNTS=8]
#   ATELIER_BIN=path runs that binary instead of building one (to compare two builds).
set -euo pipefail
cd "$(dirname "$0")/../.."
[ -n "${ATELIER_BIN:-}" ] || cargo build --release -q -p atelier
BIN="${ATELIER_BIN:-${CARGO_TARGET_DIR:-target}/release/atelier}"
python3 -c 'import PIL, numpy, skimage' 2>/dev/null || pip install -q pillow numpy scikit-image
exec python3 bench/jobs/throughput.py "$BIN" "${1:-1 2 4}" "${2:-3}" "${3:-32}" "${4:-16}" "${5:-8}"
