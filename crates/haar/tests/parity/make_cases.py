#!/usr/bin/env python3
"""Builds the OpenCV parity cases for atelier-haar.

Usage: make_cases.py OUTDIR

Needs `opencv-python-headless<5`, `numpy` and `scikit-image` (for its sample photos). Writes to
OUTDIR:
  images/*.pgm|*.ppm    test images (binary PNM, 8-bit; RGB images are converted to gray by
                        cv2.cvtColor(COLOR_RGB2GRAY) on this side and by atelier's rgb_to_gray on
                        the Rust side)
  cascades/*.xml        the exact cascade files used (Debian opencv-data if installed, else the
                        cv2 wheel's data folder plus scikit-image's LBP face cascade)
  cases.txt             one line per image ("image NAME FILE W H gray|rgb") and one per
                        detection ("case IMAGE CASCADE SF MINNB MINW MINH MAXW MAXH N x y w h ...")

Images are real photos shipped with scikit-image (astronaut, chelsea the cat, coffee, camera,
rocket, the LFW face subset) augmented as the toy application's README describes: rotations,
scales, blur, flips, brightness and contrast changes, noise, JPEG artefacts and composites of
faces at several sizes on other photos.
"""
import os
import shutil
import sys

try:
    import cv2
    import numpy as np
    import skimage.data
except ImportError as e:  # pragma: no cover - reported to the Rust test
    print(f"MISSING-DEPENDENCY: {e}", file=sys.stderr)
    sys.exit(3)

if int(cv2.__version__.split(".")[0]) >= 5:
    print(f"MISSING-DEPENDENCY: OpenCV {cv2.__version__} has no CascadeClassifier; "
          "install opencv-python-headless<5", file=sys.stderr)
    sys.exit(3)

cv2.setNumThreads(1)
RNG = np.random.default_rng(20261123)


def gray(rgb):
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)


def rotate(img, deg):
    h, w = img.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), deg, 1.0)
    return cv2.warpAffine(img, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def scale(img, f):
    h, w = img.shape[:2]
    return cv2.resize(img, (max(1, int(round(w * f))), max(1, int(round(h * f)))),
                      interpolation=cv2.INTER_AREA if f < 1 else cv2.INTER_CUBIC)


def bright(img, delta, contrast=1.0):
    out = img.astype(np.float32) * contrast + delta
    return np.clip(out, 0, 255).astype(np.uint8)


def noise(img, sigma):
    out = img.astype(np.float32) + RNG.normal(0, sigma, img.shape)
    return np.clip(out, 0, 255).astype(np.uint8)


def jpeg(img, q):
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, q])
    assert ok
    return cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)


def paste(bg, fg, x, y):
    out = bg.copy()
    h, w = fg.shape[:2]
    out[y:y + h, x:x + w] = fg
    return out


def fit(img, w, h):
    """Resize-and-crop to exactly w x h."""
    ih, iw = img.shape[:2]
    f = max(w / iw, h / ih)
    r = cv2.resize(img, (int(np.ceil(iw * f)), int(np.ceil(ih * f))), interpolation=cv2.INTER_AREA)
    y0 = (r.shape[0] - h) // 2
    x0 = (r.shape[1] - w) // 2
    return r[y0:y0 + h, x0:x0 + w].copy()


def build_images():
    astro = skimage.data.astronaut()           # RGB 512x512: face, upper body
    cat = skimage.data.chelsea()               # RGB 451x300: a cat's face
    coffee = skimage.data.coffee()             # RGB 600x400: background
    camera = skimage.data.camera()             # gray 512x512: standing man
    rocket = skimage.data.rocket()             # RGB 640x427: background
    brick = skimage.data.brick()
    grass = skimage.data.grass()
    lfw_path = os.path.join(os.path.dirname(skimage.data.__file__), "lfw_subset.npy")
    lfw = (np.load(lfw_path)[:100] * 255).round().astype(np.uint8)  # 100 faces, 25x25

    a = gray(astro)
    c = gray(cat)
    imgs = {}
    # Originals, two in RGB to exercise the colour conversion.
    imgs["astronaut_rgb"] = astro
    imgs["chelsea_rgb"] = cat
    imgs["camera"] = camera
    imgs["coffee_rgb"] = coffee
    # Astronaut: scales, rotations, flips, blur, light, noise, JPEG.
    imgs["astronaut_640x480"] = fit(a, 640, 480)
    imgs["astronaut_s050"] = scale(a, 0.5)
    imgs["astronaut_s075"] = scale(a, 0.75)
    imgs["astronaut_s130"] = scale(a, 1.3)
    imgs["astronaut_rot_m12"] = rotate(a, -12)
    imgs["astronaut_rot_p7"] = rotate(a, 7)
    imgs["astronaut_flip"] = cv2.flip(a, 1)
    imgs["astronaut_blur5"] = cv2.GaussianBlur(a, (5, 5), 0)
    imgs["astronaut_dark"] = bright(a, -60)
    imgs["astronaut_lowcontrast"] = bright(a, 40, 0.55)
    imgs["astronaut_noise"] = noise(a, 12)
    imgs["astronaut_jpeg20"] = jpeg(a, 20)
    imgs["astronaut_face_crop"] = a[20:260, 120:360].copy()
    # Chelsea the cat: cat-face cascades.
    imgs["chelsea_s060"] = scale(c, 0.6)
    imgs["chelsea_s140"] = scale(c, 1.4)
    imgs["chelsea_rot_p10"] = rotate(c, 10)
    imgs["chelsea_flip_blur"] = cv2.GaussianBlur(cv2.flip(c, 1), (3, 3), 0)
    imgs["chelsea_bright"] = bright(c, 50)
    # Cameraman: a standing person (body cascades).
    imgs["camera_s070"] = scale(camera, 0.7)
    imgs["camera_rot_m5"] = rotate(camera, -5)
    imgs["camera_flip_noise"] = noise(cv2.flip(camera, 1), 8)
    imgs["camera_640x480"] = fit(camera, 640, 480)
    # Composites: faces of several sizes on other photos.
    bg = fit(gray(coffee), 640, 480)
    face = a[30:230, 140:330]  # the astronaut's head
    comp = bg.copy()
    for (fx, fy, fs) in [(20, 20, 0.5), (200, 60, 0.8), (420, 200, 1.1)]:
        f = scale(face, fs)
        comp = paste(comp, f, fx, fy)
    imgs["composite_faces_coffee"] = comp
    comp = fit(brick, 480, 360)
    for i, (fx, fy, s) in enumerate([(10, 10, 100), (130, 30, 80), (250, 60, 60),
                                     (340, 200, 120), (40, 200, 140)]):
        f = cv2.resize(lfw[i * 7], (s, s), interpolation=cv2.INTER_CUBIC)
        comp = paste(comp, f, fx, fy)
    imgs["composite_lfw_brick"] = comp
    grid = np.zeros((400, 500), np.uint8)
    for i in range(20):
        f = cv2.resize(lfw[i + 30], (100, 100), interpolation=cv2.INTER_CUBIC)
        grid = paste(grid, f, (i % 5) * 100, (i // 5) * 100)
    imgs["lfw_grid"] = grid
    grid2 = fit(grass, 600, 300)
    for i in range(6):
        s = 60 + 30 * i
        f = cv2.resize(lfw[i + 60], (s, s), interpolation=cv2.INTER_LINEAR)
        grid2 = paste(grid2, f, 10 + sum(60 + 30 * k for k in range(i)) // 4 * 1, 300 - s)
    imgs["lfw_growing_grass"] = grid2
    cat_on_rocket = fit(gray(rocket), 640, 427)
    cat_on_rocket = paste(cat_on_rocket, scale(c[20:260, 100:380], 0.7), 380, 150)
    imgs["composite_cat_rocket"] = cat_on_rocket
    people = fit(gray(rocket), 800, 600)
    people = paste(people, scale(camera, 0.8), 0, 190)
    people = paste(people, scale(a, 0.6), 480, 0)
    imgs["composite_people_800x600"] = people
    imgs["astronaut_cat_side_by_side"] = np.hstack([fit(a, 400, 300), fit(c, 400, 300)])
    small = fit(a, 160, 120)
    imgs["astronaut_160x120"] = small
    imgs["tiny_96x72"] = fit(a, 96, 72)
    # Synthetic plate-like text for the licence plate cascades.
    # Keep the run short: cap most images at ~320x320 pixels (two large ones stay as they are).
    for name, img in list(imgs.items()):
        area = img.shape[0] * img.shape[1]
        if area > 100_000 and name not in ("astronaut_640x480", "composite_people_800x600"):
            imgs[name] = scale(img, (100_000 / area) ** 0.5)
    plate = np.full((200, 500), 200, np.uint8)
    cv2.rectangle(plate, (60, 60), (440, 140), 255, -1)
    cv2.rectangle(plate, (60, 60), (440, 140), 0, 3)
    cv2.putText(plate, "A123BC 77", (80, 120), cv2.FONT_HERSHEY_SIMPLEX, 1.6, 0, 4)
    imgs["plate_synthetic"] = cv2.GaussianBlur(plate, (3, 3), 0)
    return imgs


def write_pnm(path, img):
    if img.ndim == 2:
        header = f"P5\n{img.shape[1]} {img.shape[0]}\n255\n".encode()
    else:
        header = f"P6\n{img.shape[1]} {img.shape[0]}\n255\n".encode()
    with open(path, "wb") as f:
        f.write(header)
        f.write(np.ascontiguousarray(img).tobytes())


def cascade_files():
    debian = "/usr/share/opencv4"
    found = []
    if os.path.isdir(os.path.join(debian, "haarcascades")):
        for sub in ("haarcascades", "lbpcascades"):
            d = os.path.join(debian, sub)
            if os.path.isdir(d):
                found += [os.path.join(d, f) for f in sorted(os.listdir(d)) if f.endswith(".xml")]
        source = "Debian opencv-data"
    else:
        d = cv2.data.haarcascades
        found += [os.path.join(d, f) for f in sorted(os.listdir(d)) if f.endswith(".xml")]
        lbp = os.path.join(os.path.dirname(skimage.data.__file__), "lbpcascade_frontalface_opencv.xml")
        if os.path.exists(lbp):
            found.append(lbp)
        source = "opencv-python wheel + scikit-image"
    return found, source


# (scale_factor, min_neighbors, min_size, max_size): OpenCV's default first.
PARAMS = [(1.1, 3, (0, 0), (0, 0))]
EXTRA_PARAMS = [
    (1.05, 5, (30, 30), (0, 0)),
    (1.2, 2, (0, 0), (300, 300)),
    (1.3, 1, (40, 20), (0, 0)),
    # min_size == max_size between two pyramid levels: OpenCV runs the nearest single level.
    (1.1, 0, (50, 50), (50, 50)),
]
# Raw candidates (min_neighbors = 0) are the strictest comparison: every window must agree.
RAW_PARAMS = [(1.15, 0, (0, 0), (0, 0))]
EXTRA_IMAGES = {"astronaut_640x480", "chelsea_s060", "composite_lfw_brick"}
RAW_IMAGES = {"astronaut_s050", "chelsea_s060", "astronaut_160x120", "composite_people_800x600"}


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    out = sys.argv[1]
    os.makedirs(os.path.join(out, "images"), exist_ok=True)
    os.makedirs(os.path.join(out, "cascades"), exist_ok=True)
    files, source = cascade_files()
    cascades = []
    for path in files:
        name = os.path.basename(path)
        shutil.copyfile(path, os.path.join(out, "cascades", name))
        clf = cv2.CascadeClassifier(path)
        if clf.empty():
            print(f"cannot load {path}", file=sys.stderr)
            return 1
        cascades.append((name, clf))
    lines = [f"# opencv {cv2.__version__}; cascades from {source}"]
    imgs = build_images()
    total = 0
    for iname, img in imgs.items():
        kind = "rgb" if img.ndim == 3 else "gray"
        fname = f"{iname}.{'ppm' if kind == 'rgb' else 'pgm'}"
        write_pnm(os.path.join(out, "images", fname), img)
        lines.append(f"image {iname} {fname} {img.shape[1]} {img.shape[0]} {kind}")
        g = gray(img) if kind == "rgb" else img
        params = list(PARAMS)
        if iname in EXTRA_IMAGES:
            params += EXTRA_PARAMS
        if iname in RAW_IMAGES:
            params += RAW_PARAMS
        for cname, clf in cascades:
            for (sf, mn, mins, maxs) in params:
                boxes = clf.detectMultiScale(g, scaleFactor=sf, minNeighbors=mn,
                                             minSize=mins, maxSize=maxs)
                boxes = [tuple(int(v) for v in b) for b in boxes]
                flat = " ".join(f"{x} {y} {w} {h}" for (x, y, w, h) in boxes)
                lines.append(f"case {iname} {cname} {sf} {mn} {mins[0]} {mins[1]} "
                             f"{maxs[0]} {maxs[1]} {len(boxes)} {flat}".rstrip())
                total += len(boxes)
    with open(os.path.join(out, "cases.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print(f"{len(imgs)} images, {len(cascades)} cascades ({source}), {total} OpenCV boxes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
