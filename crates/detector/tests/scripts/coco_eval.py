"""Evaluates detections with pycocotools and prints the numbers atelier must reproduce.

usage: coco_eval.py GT.json DT.json  ->  JSON on stdout
"""
import contextlib
import io
import json
import sys

import numpy as np
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

with contextlib.redirect_stdout(io.StringIO()):
    gt = COCO(sys.argv[1])
    dt = gt.loadRes(sys.argv[2])
    e = COCOeval(gt, dt, "bbox")
    e.evaluate()
    e.accumulate()
    e.summarize()

precision = e.eval["precision"]  # [T, R, K, A, M]
recall = e.eval["recall"]  # [T, K, A, M]


def mean(a):
    a = a[a > -1]
    return float(np.mean(a)) if a.size else None


labels = []
for k, cat in enumerate(e.params.catIds):
    labels.append(
        {
            "category": int(cat),
            "ap": mean(precision[:, :, k, 0, 2]),
            "ap50": mean(precision[0, :, k, 0, 2]),
            "ap75": mean(precision[5, :, k, 0, 2]),
            "recall50": float(recall[0, k, 0, 2]) if recall[0, k, 0, 2] > -1 else None,
            "precision50": [float(v) for v in precision[0, :, k, 0, 2]] if precision[0, 0, k, 0, 2] > -1 else [],
        }
    )
print(json.dumps({"map": float(e.stats[0]), "map50": float(e.stats[1]), "map75": float(e.stats[2]), "labels": labels}))
