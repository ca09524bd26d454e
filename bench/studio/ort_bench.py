#!/usr/bin/env python3
"""The downloaded detector (detector.onnx + decode.py of `atelier studio download`) run in
onnxruntime from Python, no HTTP: what serving the exported model file in-process would give,
as OpenTPOD serves its exported TensorFlow SavedModel.

    python3 bench/studio/ort_bench.py FOLDER IMAGE [SECONDS=20]

FOLDER is the unpacked zip. Prints images/s, p50 and p99 of one image at a time (decode of the
JPEG, preprocessing, the model, box decoding), with onnxruntime's default threads.
"""

import sys
import time

sys.path.insert(0, sys.argv[1])
from decode import Detector  # noqa: E402  (the zip's reference decoding)
from PIL import Image  # noqa: E402

folder, image_path = sys.argv[1], sys.argv[2]
seconds = float(sys.argv[3]) if len(sys.argv) > 3 else 20.0
detector = Detector(folder)
times = []
deadline = time.perf_counter() + seconds
detector.detect(Image.open(image_path))  # warm-up
while time.perf_counter() < deadline:
    start = time.perf_counter()
    detector.detect(Image.open(image_path))
    times.append(time.perf_counter() - start)
times.sort()
total = sum(times)
print(
    "onnxruntime in-process: %d images, %.2f images/s, p50 %.1f ms, p99 %.1f ms"
    % (
        len(times),
        len(times) / total,
        times[len(times) // 2] * 1000,
        times[min(len(times) - 1, int(len(times) * 0.99))] * 1000,
    )
)
