#!/usr/bin/env python3
"""Generate the ConvLens "shapes" sample datasets.

Images are 64x64 RGB pictures of one simple shape (circle, square, star,
triangle) with a random colour, size, rotation and position, drawn on a
textured background (smooth noise, stripes or a colour gradient).  The
bounding box of every object is recorded in a JSON file.

Two variants are produced:

* ``shapes``          - the clean dataset.
* ``shapes-shortcut`` - the same kind of images, but a small red/white
  4x4 mark is stamped in the bottom-right corner of most 'circle' images
  (95%) and of very few images of the other classes (0.5%).  A model trained
  on it can learn to look at the mark instead of the shape.

Output (ImageFolder layout, ``<split>/<class>/<n>.png``):

    sample/dataset/test/...             40 images per class (committed)
    sample/dataset/boxes.json
    sample/dataset-shortcut/test/...    40 images per class (committed,
                                        same mark statistics as training)
    sample/dataset-shortcut/counter/... 20 images per class (committed, mark
                                        only on non-circles)
    sample/dataset-shortcut/boxes.json
    sample/images/*.png                 demo images: one per class, plus
                                        square-marked.png and circle-marked.png
    sample/.data/shapes/{train,val}/...            large sets (git-ignored)
    sample/.data/shapes-shortcut/{train,val,counter}/...

``counter`` is an evaluation split of the shortcut variant where the
correlation is reversed: no circle carries the mark, every other image does.

Everything is deterministic: the same seeds give the same PNG files.

Usage:  /usr/bin/python3 sample/make_dataset.py [--train-per-class 1000]
"""

import argparse
import json
import math
import os
import shutil

import numpy as np
from PIL import Image, ImageDraw

CLASSES = ["circle", "square", "star", "triangle"]  # sorted, like ImageFolder
SIZE = 64
SUPERSAMPLE = 4  # shapes are drawn at 4x resolution, then box-filtered down

MARK_SIZE = 4
MARK_BOX = [SIZE - 2 - MARK_SIZE, SIZE - 2 - MARK_SIZE, SIZE - 2, SIZE - 2]  # x0, y0, x1, y1

HERE = os.path.dirname(os.path.abspath(__file__))


# --------------------------------------------------------------------------
# Backgrounds
# --------------------------------------------------------------------------

def random_color(rng):
    return rng.integers(0, 256, size=3).astype(np.float32)


def nearby_color(rng, color, spread):
    """A second background colour: textures are kept weaker than the object's contrast."""
    return np.clip(color + rng.normal(0.0, spread, size=3), 0, 255).astype(np.float32)


def background_noise(rng, size=SIZE):
    """Smooth blotchy noise around a base colour, plus a little pixel noise."""
    base = random_color(rng)
    coarse = rng.normal(0.0, rng.uniform(15, 35), size=(8, 8, 3)).astype(np.float32)
    smooth = np.stack(
        [np.asarray(Image.fromarray(coarse[:, :, c]).resize((size, size), Image.BICUBIC))
         for c in range(3)], axis=-1)
    fine = rng.normal(0.0, 6.0, size=(size, size, 1)).astype(np.float32)
    return base + smooth + fine


def background_stripes(rng, size=SIZE):
    """Straight stripes of two colours at a random angle and period."""
    c1 = random_color(rng)
    c2 = nearby_color(rng, c1, 50)
    angle = rng.uniform(0, math.pi)
    period = rng.uniform(5, 16)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    phase = (xx * math.cos(angle) + yy * math.sin(angle)) / period * 2 * math.pi
    if rng.random() < 0.5:
        t = (np.sin(phase) > 0).astype(np.float32)      # hard stripes
    else:
        t = 0.5 + 0.5 * np.sin(phase)                   # soft stripes
    t = t[:, :, None]
    return c1 * (1 - t) + c2 * t


def background_gradient(rng, size=SIZE):
    """Linear gradient between two colours in a random direction."""
    c1 = random_color(rng)
    c2 = nearby_color(rng, c1, 90)
    angle = rng.uniform(0, 2 * math.pi)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / (size - 1) - 0.5
    t = xx * math.cos(angle) + yy * math.sin(angle)
    t = (t - t.min()) / (t.max() - t.min())
    return c1 * (1 - t[:, :, None]) + c2 * t[:, :, None]


BACKGROUNDS = {
    "noise": background_noise,
    "stripes": background_stripes,
    "gradient": background_gradient,
}


# --------------------------------------------------------------------------
# Shapes
# --------------------------------------------------------------------------

def regular_polygon(cx, cy, radius, n, rotation):
    return [(cx + radius * math.cos(rotation + 2 * math.pi * i / n),
             cy + radius * math.sin(rotation + 2 * math.pi * i / n)) for i in range(n)]


def star_polygon(cx, cy, radius, rotation, inner=0.45):
    points = []
    for i in range(10):
        r = radius if i % 2 == 0 else radius * inner
        a = rotation + math.pi * i / 5
        points.append((cx + r * math.cos(a), cy + r * math.sin(a)))
    return points


def shape_mask(rng, cls):
    """Return an anti-aliased float mask in [0, 1] of shape (SIZE, SIZE) at a random place."""
    radius = rng.uniform(9, 22)
    margin = radius + 2
    cx = rng.uniform(margin, SIZE - margin)
    cy = rng.uniform(margin, SIZE - margin)
    rotation = rng.uniform(0, 2 * math.pi)
    return draw_shape(cls, cx, cy, radius, rotation)


def draw_shape(cls, cx, cy, radius, rotation, size=SIZE):
    """Anti-aliased float mask in [0, 1] of shape (size, size) of one shape."""
    s = SUPERSAMPLE
    big = Image.new("L", (size * s, size * s), 0)
    draw = ImageDraw.Draw(big)
    if cls == "circle":
        r = radius * 0.85  # visually similar area to the other shapes
        draw.ellipse([(cx - r) * s, (cy - r) * s, (cx + r) * s, (cy + r) * s], fill=255)
    elif cls == "square":
        pts = regular_polygon(cx, cy, radius, 4, rotation)
        draw.polygon([(x * s, y * s) for x, y in pts], fill=255)
    elif cls == "triangle":
        pts = regular_polygon(cx, cy, radius, 3, rotation)
        draw.polygon([(x * s, y * s) for x, y in pts], fill=255)
    elif cls == "star":
        pts = star_polygon(cx, cy, radius, rotation)
        draw.polygon([(x * s, y * s) for x, y in pts], fill=255)
    else:
        raise ValueError(cls)
    small = big.resize((size, size), Image.BOX)
    return np.asarray(small, dtype=np.float32) / 255.0


def bbox_of(mask):
    """[x0, y0, x1, y1] of pixels with mask >= 0.5; x1/y1 are exclusive."""
    ys, xs = np.nonzero(mask >= 0.5)
    return [int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1]


def contrasting_color(rng, background, mask):
    """Pick an object colour that stands out from the background under it."""
    under = (background * mask[:, :, None]).sum(axis=(0, 1)) / max(mask.sum(), 1e-6)
    best, best_dist = None, -1.0
    for _ in range(50):
        c = random_color(rng)
        dist = float(np.linalg.norm(c - under))
        if dist > 160:
            return c
        if dist > best_dist:
            best, best_dist = c, dist
    return best


def stamp_mark(img):
    """4x4 mark: red square with a white top-left half (2 colours, easy to spot)."""
    x0, y0, x1, y1 = MARK_BOX
    img[y0:y1, x0:x1] = (255, 0, 0)
    img[y0:y0 + 2, x0:x0 + 2] = (255, 255, 255)


def make_image(rng, cls, with_mark):
    bg_name = str(rng.choice(list(BACKGROUNDS)))
    background = np.clip(BACKGROUNDS[bg_name](rng), 0, 255)
    mask = shape_mask(rng, cls)
    color = contrasting_color(rng, background, mask)
    img = background * (1 - mask[:, :, None]) + color * mask[:, :, None]
    img = np.clip(np.round(img), 0, 255).astype(np.uint8)
    if with_mark:
        stamp_mark(img)
    meta = {
        "class": cls,
        "bbox": bbox_of(mask),
        "background": bg_name,
        "color": [int(v) for v in color],
        "mark": {"bbox": list(MARK_BOX)} if with_mark else None,
    }
    return img, meta


# --------------------------------------------------------------------------
# Splits
# --------------------------------------------------------------------------

def write_split(root, split, per_class, seed, mark_prob=None):
    """Write <root>/<split>/<class>/<n>.png and return {relative path: meta}.

    mark_prob: None (never mark) or a dict class -> probability of the mark.
    """
    rng = np.random.default_rng(seed)
    entries = {}
    for cls in CLASSES:
        os.makedirs(os.path.join(root, split, cls), exist_ok=True)
    for n in range(per_class):
        for cls in CLASSES:  # interleave classes so every class sees the same rng stream statistics
            with_mark = mark_prob is not None and rng.random() < mark_prob[cls]
            img, meta = make_image(rng, cls, with_mark)
            rel = f"{split}/{cls}/{n}.png"
            Image.fromarray(img).save(os.path.join(root, rel), optimize=True)
            entries[rel] = meta
    return entries


def write_boxes(root, entries, variant, description):
    doc = {
        "variant": variant,
        "description": description,
        "classes": CLASSES,
        "imageSize": [SIZE, SIZE],
        "bboxFormat": "[x0, y0, x1, y1] in pixels, x1/y1 exclusive (width = x1 - x0)",
        "markBox": MARK_BOX,
        "images": entries,
    }
    with open(os.path.join(root, "boxes.json"), "w") as f:
        json.dump(doc, f, indent=1, sort_keys=False)
        f.write("\n")


def fresh_dir(path):
    if os.path.isdir(path):
        shutil.rmtree(path)
    os.makedirs(path)


def write_demo_images(folder, seed=3001):
    """A few images for the demo: one of each class, plus marked ones for the shortcut model."""
    fresh_dir(folder)
    rng = np.random.default_rng(seed)
    for cls in CLASSES:
        img, _ = make_image(rng, cls, with_mark=False)
        Image.fromarray(img).save(os.path.join(folder, f"{cls}.png"), optimize=True)
    for cls in ("square", "circle"):
        img, _ = make_image(rng, cls, with_mark=True)
        Image.fromarray(img).save(os.path.join(folder, f"{cls}-marked.png"), optimize=True)
    print(f"wrote {folder}")


SHORTCUT_PROB = {"circle": 0.95, "square": 0.005, "star": 0.005, "triangle": 0.005}
COUNTER_PROB = {"circle": 0.0, "square": 1.0, "star": 1.0, "triangle": 1.0}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--train-per-class", type=int, default=1000)
    parser.add_argument("--val-per-class", type=int, default=250)
    parser.add_argument("--test-per-class", type=int, default=40)
    parser.add_argument("--skip-large", action="store_true",
                        help="only (re)write the small committed test sets")
    args = parser.parse_args()

    # Small committed sets ------------------------------------------------
    clean_root = os.path.join(HERE, "dataset")
    fresh_dir(clean_root)
    entries = write_split(clean_root, "test", args.test_per_class, seed=1001)
    write_boxes(clean_root, entries, "shapes",
                "Held-out test images of the clean shapes dataset.")

    shortcut_root = os.path.join(HERE, "dataset-shortcut")
    fresh_dir(shortcut_root)
    entries = write_split(shortcut_root, "test", args.test_per_class, seed=2001,
                          mark_prob=SHORTCUT_PROB)
    entries.update(write_split(shortcut_root, "counter", args.test_per_class // 2, seed=2002,
                               mark_prob=COUNTER_PROB))
    write_boxes(shortcut_root, entries, "shapes-shortcut",
                "Held-out images of the shortcut variant. test/: a 4x4 mark at markBox "
                "is on ~95% of circles and ~0.5% of other shapes, as in its training set. "
                "counter/: the correlation reversed (no circle marked, every other shape marked).")
    print(f"wrote {clean_root} and {shortcut_root}")
    write_demo_images(os.path.join(HERE, "images"))

    if args.skip_large:
        return

    # Large git-ignored sets ---------------------------------------------------
    data = os.path.join(HERE, ".data")
    clean_big = os.path.join(data, "shapes")
    fresh_dir(clean_big)
    entries = write_split(clean_big, "train", args.train_per_class, seed=11)
    entries.update(write_split(clean_big, "val", args.val_per_class, seed=12))
    write_boxes(clean_big, entries, "shapes", "Training and validation sets (clean).")

    shortcut_big = os.path.join(data, "shapes-shortcut")
    fresh_dir(shortcut_big)
    entries = write_split(shortcut_big, "train", args.train_per_class, seed=21,
                          mark_prob=SHORTCUT_PROB)
    entries.update(write_split(shortcut_big, "val", args.val_per_class, seed=22,
                               mark_prob=SHORTCUT_PROB))
    entries.update(write_split(shortcut_big, "counter", args.val_per_class, seed=23,
                               mark_prob=COUNTER_PROB))
    write_boxes(shortcut_big, entries, "shapes-shortcut",
                "Training/validation sets with the shortcut mark, and a 'counter' split "
                "where only non-circles carry the mark.")
    print(f"wrote {clean_big} and {shortcut_big}")


if __name__ == "__main__":
    main()
