"""Runs OpenCV's CascadeClassifier on gray PNGs; prints the boxes of every case as JSON.

Usage: cascade_detect.py CASCADE.xml < cases.json
cases.json: [{"image": path, "scale_factor": f, "min_neighbors": n, "min_size": [w, h]}, ...]
Output: [[[x, y, w, h], ...], ...], one list per case, in detectMultiScale's order.
"""
import json
import sys

import cv2

# One thread: OpenCV then finds candidates in scale, row, column order, as atelier_haar reports
# them, so grouped boxes come in the same order too.
cv2.setNumThreads(1)
cascade = cv2.CascadeClassifier(sys.argv[1])
if cascade.empty():
    sys.exit(f"OpenCV cannot load {sys.argv[1]}")
out = []
for case in json.load(sys.stdin):
    img = cv2.imread(case["image"], cv2.IMREAD_GRAYSCALE)
    if img is None:
        sys.exit(f"cannot read {case['image']}")
    found = cascade.detectMultiScale(
        img,
        scaleFactor=case["scale_factor"],
        minNeighbors=case["min_neighbors"],
        minSize=tuple(case["min_size"]),
    )
    out.append([[int(v) for v in r] for r in found])
print(json.dumps(out))
