#!/usr/bin/env python3
"""Times cv2.CascadeClassifier.detectMultiScale the way atelier-haar-bench times atelier.

Usage: bench.py --cascade FILE.xml --threads N [--runs R] [--warmup W]
                [--scale-factor F] [--min-neighbors K] IMAGE...

Prints one JSON line: median, minimum and mean wall time of a run (one detection per image) and
the boxes found in the first image.
"""
import argparse
import json
import statistics
import time

import cv2
import numpy as np


def read_gray(path):
    with open(path, "rb") as f:
        data = f.read()
    parts = data.split(maxsplit=4)
    magic, w, h = parts[0], int(parts[1]), int(parts[2])
    pixels = np.frombuffer(parts[4], np.uint8)
    if magic == b"P6":
        return cv2.cvtColor(pixels[: w * h * 3].reshape(h, w, 3), cv2.COLOR_RGB2GRAY)
    return pixels[: w * h].reshape(h, w)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--cascade", required=True)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--runs", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--scale-factor", type=float, default=1.1)
    p.add_argument("--min-neighbors", type=int, default=3)
    p.add_argument("images", nargs="+")
    a = p.parse_args()
    cv2.setNumThreads(a.threads)
    clf = cv2.CascadeClassifier(a.cascade)
    if clf.empty():
        raise SystemExit(f"cannot load {a.cascade}")
    images = [read_gray(i) for i in a.images]

    def detect_all():
        return [clf.detectMultiScale(g, scaleFactor=a.scale_factor, minNeighbors=a.min_neighbors)
                for g in images]

    for _ in range(a.warmup):
        boxes = detect_all()
    times = []
    for _ in range(a.runs):
        t = time.perf_counter()
        boxes = detect_all()
        times.append((time.perf_counter() - t) * 1e3)
    times.sort()
    first = [[int(v) for v in b] for b in boxes[0]]
    print(json.dumps({"engine": "opencv", "version": cv2.__version__, "threads": a.threads,
                      "runs": a.runs, "images": len(images),
                      "median_ms": round(times[len(times) // 2], 3), "min_ms": round(times[0], 3),
                      "mean_ms": round(statistics.fmean(times), 3), "boxes": first}))


if __name__ == "__main__":
    main()
