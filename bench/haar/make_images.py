#!/usr/bin/env python3
"""Writes the benchmark's 640x480 gray images (binary PGM) into OUTDIR.

Usage: make_images.py OUTDIR

From the photos shipped with scikit-image: the astronaut (one face, upper body), a group of
faces from its LFW subset pasted on the coffee photo, and the cameraman.
"""
import os
import sys

import cv2
import numpy as np
import skimage.data


def fit(img, w, h):
    ih, iw = img.shape[:2]
    f = max(w / iw, h / ih)
    r = cv2.resize(img, (int(np.ceil(iw * f)), int(np.ceil(ih * f))), interpolation=cv2.INTER_AREA)
    y0, x0 = (r.shape[0] - h) // 2, (r.shape[1] - w) // 2
    return r[y0:y0 + h, x0:x0 + w].copy()


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    gray = lambda rgb: cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    images = {
        "astronaut": fit(gray(skimage.data.astronaut()), 640, 480),
        "cameraman": fit(skimage.data.camera(), 640, 480),
    }
    group = fit(gray(skimage.data.coffee()), 640, 480)
    lfw = np.load(os.path.join(os.path.dirname(skimage.data.__file__), "lfw_subset.npy"))
    lfw = (lfw[:100] * 255).round().astype(np.uint8)
    for i, (x, y, s) in enumerate([(20, 30, 110), (170, 40, 90), (300, 20, 130), (460, 60, 100),
                                   (60, 250, 120), (240, 260, 80), (400, 230, 150)]):
        group[y:y + s, x:x + s] = cv2.resize(lfw[i * 11], (s, s), interpolation=cv2.INTER_CUBIC)
    images["group"] = group
    for name, img in images.items():
        with open(os.path.join(out, f"{name}_640x480.pgm"), "wb") as f:
            f.write(f"P5\n{img.shape[1]} {img.shape[0]}\n255\n".encode())
            f.write(img.tobytes())
        print(os.path.join(out, f"{name}_640x480.pgm"))


if __name__ == "__main__":
    main()
