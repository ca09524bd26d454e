#!/usr/bin/env python3
"""Runs an atelier studio detector (this folder's detector.onnx) with onnxruntime.

    python3 decode.py IMAGE [IMAGE ...] [--min-score 0.3]

prints one JSON line per image, the shape of atelier's POST /api/v1/detect?detector=:
{"image", "width", "height", "boxes": [{"label_id", "label", "score", "x", "y", "width",
"height", "box": [x_min, y_min, x_max, y_max]}]} (x/y/width/height rounded like the API,
"box" unrounded). Needs numpy, Pillow and onnxruntime. See README.md for the model's inputs
and outputs; this file is the reference decoding.
"""

import argparse
import json
import math
import os

import numpy as np
import onnxruntime as ort
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
# ImageNet mean of RGB in [0, 1]: the colour of the padding (0 after the model's normalisation).
MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)


NMS_IOU = 0.5


def iou(a, b):
    """Intersection over union of two (x0, y0, x1, y1) boxes, computed as atelier does."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    inter = w * h
    return inter / (area(a) + area(b) - inter)


def area(r):
    """Area of an (x0, y0, x1, y1) box."""
    return (r[2] - r[0]) * (r[3] - r[1])


def round_half_away(v):
    """Rust's f64::round (Python's round() rounds half to even)."""
    return math.floor(v + 0.5) if v >= 0 else -math.floor(-v + 0.5)


class Detector:
    """detector.onnx and labels.json of an unpacked download."""

    def __init__(self, folder=HERE):
        with open(os.path.join(folder, "labels.json"), encoding="utf-8") as f:
            self.meta = json.load(f)
        self.width = self.meta["input"]["width"]
        self.height = self.meta["input"]["height"]
        self.stride = self.meta["stride"]
        self.max_detections = self.meta["max_detections"]
        self.session = ort.InferenceSession(
            os.path.join(folder, "detector.onnx"), providers=["CPUExecutionProvider"]
        )

    def preprocess(self, image):
        """The model input and the image → network scale: the image scaled to fit (aspect
        kept, bilinear), RGB / 255 at the top-left, the mean colour elsewhere."""
        image = image.convert("RGB")
        w, h = image.size
        scale = min(self.width / w, self.height / h)
        nw = min(max(round_half_away(w * scale), 1), self.width)
        nh = min(max(round_half_away(h * scale), 1), self.height)
        if (nw, nh) != (w, h):
            image = image.resize((nw, nh), Image.BILINEAR)
        x = np.empty((1, 3, self.height, self.width), dtype=np.float32)
        x[0] = MEAN[:, None, None]
        pixels = np.asarray(image, dtype=np.float32).transpose(2, 0, 1)
        x[0, :, :nh, :nw] = pixels / np.float32(255.0)
        return x, scale

    def decode(self, peaks, size, offset, scale, w, h, min_score):
        """Boxes in image pixels, best first: every (y, x, class) whose peak score is at least
        min_score, row by row, centred at ((x + offset_x) * stride, (y + offset_y) * stride),
        sorted by score (stable), per-class non-maximum suppression (a box is dropped when a
        kept one of its class overlaps it by IoU > NMS_IOU), the first max_detections, divided
        by scale, clipped to the image, empty boxes dropped."""
        found = []
        p = peaks[0].transpose(1, 2, 0)  # (rows, columns, classes): row-major (y, x, k) order
        for y, x, k in zip(*np.nonzero((p > 0) & (p >= np.float32(min_score)))):
            score = float(p[y, x, k])
            bw, bh = float(size[0, 0, y, x]), float(size[0, 1, y, x])
            cx = (x + float(offset[0, 0, y, x])) * self.stride
            cy = (y + float(offset[0, 1, y, x])) * self.stride
            found.append((int(k), (cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2), score))
        found.sort(key=lambda d: -d[2])
        kept = []
        for k, b, score in found:
            if len(kept) == self.max_detections:
                break
            if not any(kk == k and iou(kb, b) > NMS_IOU for kk, kb, _ in kept):
                kept.append((k, b, score))
        boxes = []
        for k, (x0, y0, x1, y1), score in kept:
            x0, x1 = (min(max(v / scale, 0.0), w) for v in (x0, x1))
            y0, y1 = (min(max(v / scale, 0.0), h) for v in (y0, y1))
            if not (x1 > x0 and y1 > y0):
                continue
            label = self.meta["labels"][k]
            boxes.append(
                {
                    "label_id": label["label_id"],
                    "label": label["name"],
                    "score": score,
                    "x": round_half_away(x0),
                    "y": round_half_away(y0),
                    "width": round_half_away(x1 - x0),
                    "height": round_half_away(y1 - y0),
                    "box": [x0, y0, x1, y1],
                }
            )
        return boxes

    def detect(self, image, min_score=0.3):
        """Runs the model on a PIL image."""
        x, scale = self.preprocess(image)
        peaks, size, offset = self.session.run(["peaks", "size", "offset"], {"image": x})
        w, h = image.size
        return self.decode(peaks, size, offset, scale, w, h, min_score)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("images", nargs="+")
    parser.add_argument("--min-score", type=float, default=0.3)
    parser.add_argument("--model", default=HERE, help="folder with detector.onnx and labels.json")
    args = parser.parse_args()
    detector = Detector(args.model)
    for path in args.images:
        image = Image.open(path)
        boxes = detector.detect(image, args.min_score)
        print(json.dumps({"image": path, "width": image.size[0], "height": image.size[1], "boxes": boxes}))


if __name__ == "__main__":
    main()
