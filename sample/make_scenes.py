#!/usr/bin/env python3
"""Generate multi-shape scenes with known masks and boxes for the segmentation and detection samples.

A scene is a square RGB image with 1 to N shapes (circle, square, star, triangle; drawn as in
make_dataset.py) on one of its textured backgrounds. Shapes never overlap: their circumscribed
circles are kept 2 px apart, so every pixel belongs to at most one object.

Per scene the generator knows:
  * the instance map: uint8 [H, W], 0 = background, k = object k (1-based, drawing order);
    a pixel belongs to an object when its anti-aliased coverage is >= 0.5;
  * per object: class, bbox [x0, y0, x1, y1] (pixels, x1/y1 exclusive, the box of the
    instance mask), colour.

Committed test folders (deterministic, fixed seeds):

    sample/scenes-seg/test/images/<n>.png   64x64, 1-3 shapes (segmentation sample)
    sample/scenes-seg/test/masks/<n>.png    instance map as an 8-bit grey PNG (values 0..3)
    sample/scenes-seg/test/masks.json       objects per image (class, bbox, instance value)
    sample/scenes-det/test/images/<n>.png   96x96, 1-4 shapes (detection sample)
    sample/scenes-det/test/masks/<n>.png
    sample/scenes-det/test/boxes.json       same schema as masks.json
    sample/scenes-demo/<kind>-<n>.png       two demo scenes of each kind, with a binary mask of
    sample/scenes-demo/<kind>-<n>.mask.png  their first object

The training scripts draw their (larger) training and validation sets in memory with
make_split() and other seeds.

Usage:  /usr/bin/python3 sample/make_scenes.py
"""

import json
import math
import os
import shutil

import numpy as np
from PIL import Image

from make_dataset import BACKGROUNDS, CLASSES, bbox_of, contrasting_color, draw_shape

HERE = os.path.dirname(os.path.abspath(__file__))

# name -> image size, (min, max) shapes per scene, (min, max) shape radius in pixels
SCENE_KINDS = {
    "seg": {"size": 64, "count": (1, 3), "radius": (8, 16)},
    "det": {"size": 96, "count": (1, 4), "radius": (8, 18)},
}
TEST_SEEDS = {"seg": 4001, "det": 5001}
TEST_COUNT = 60
TEST_JSON = {"seg": "masks.json", "det": "boxes.json"}
DEMO_SEEDS = {"seg": 4901, "det": 5901}


def make_scene(rng, size, count, radius_range):
    """One scene: (uint8 image [H, W, 3], uint8 instance map [H, W], list of object dicts)."""
    bg_name = str(rng.choice(list(BACKGROUNDS)))
    background = np.clip(BACKGROUNDS[bg_name](rng, size), 0, 255)
    image = background.copy()
    instances = np.zeros((size, size), np.uint8)
    objects, circles = [], []
    for _ in range(int(rng.integers(count[0], count[1] + 1))):
        cls = CLASSES[int(rng.integers(len(CLASSES)))]
        for _attempt in range(50):
            radius = rng.uniform(*radius_range)
            margin = radius + 2
            cx, cy = rng.uniform(margin, size - margin, size=2)
            if all(math.hypot(cx - x, cy - y) > radius + r + 2 for x, y, r in circles):
                break
        else:
            continue  # no room left for another shape
        rotation = rng.uniform(0, 2 * math.pi)
        circles.append((cx, cy, radius))
        mask = draw_shape(cls, cx, cy, radius, rotation, size)
        color = contrasting_color(rng, background, mask)
        image = image * (1 - mask[:, :, None]) + color * mask[:, :, None]
        instances[mask >= 0.5] = len(objects) + 1
        objects.append({"class": cls, "bbox": bbox_of(mask), "instance": len(objects) + 1,
                        "color": [int(v) for v in color]})
    image = np.clip(np.round(image), 0, 255).astype(np.uint8)
    return image, instances, objects, bg_name


def semantic_labels(instances, objects):
    """Per-pixel class index: 0 background, 1 + CLASSES.index(class) for object pixels."""
    lookup = np.zeros(256, np.int64)
    for obj in objects:
        lookup[obj["instance"]] = 1 + CLASSES.index(obj["class"])
    return lookup[instances]


def make_split(kind, count, seed):
    """In-memory split: images uint8 [N, H, W, 3], instance maps uint8 [N, H, W], objects per image."""
    spec = SCENE_KINDS[kind]
    rng = np.random.default_rng(seed)
    images, instance_maps, objects = [], [], []
    for _ in range(count):
        image, instances, objs, _bg = make_scene(rng, spec["size"], spec["count"], spec["radius"])
        images.append(image)
        instance_maps.append(instances)
        objects.append(objs)
    return np.stack(images), np.stack(instance_maps), objects


def write_test_folder(kind):
    json_name = TEST_JSON[kind]
    spec = SCENE_KINDS[kind]
    root = os.path.join(HERE, f"scenes-{kind}", "test")
    if os.path.isdir(root):
        shutil.rmtree(root)
    os.makedirs(os.path.join(root, "images"))
    os.makedirs(os.path.join(root, "masks"))
    rng = np.random.default_rng(TEST_SEEDS[kind])
    entries = {}
    for n in range(TEST_COUNT):
        image, instances, objects, bg_name = make_scene(rng, spec["size"], spec["count"], spec["radius"])
        Image.fromarray(image).save(os.path.join(root, "images", f"{n}.png"), optimize=True)
        Image.fromarray(instances, mode="L").save(os.path.join(root, "masks", f"{n}.png"), optimize=True)
        entries[f"images/{n}.png"] = {"mask": f"masks/{n}.png", "background": bg_name, "objects": objects}
    doc = {
        "kind": kind,
        "classes": CLASSES,
        "imageSize": [spec["size"], spec["size"]],
        "bboxFormat": "[x0, y0, x1, y1] in pixels, x1/y1 exclusive (width = x1 - x0)",
        "maskFormat": "8-bit grey PNG, 0 = background, k = the object whose 'instance' is k "
                      "(pixels with anti-aliased coverage >= 0.5)",
        "images": entries,
    }
    with open(os.path.join(root, json_name), "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    print(f"wrote {root}")


def read_test_folder(kind):
    """The committed test folder back: images [N, H, W, 3], instance maps [N, H, W], objects."""
    root = os.path.join(HERE, f"scenes-{kind}", "test")
    with open(os.path.join(root, TEST_JSON[kind])) as f:
        doc = json.load(f)
    images, maps, objects = [], [], []
    for rel, entry in doc["images"].items():
        images.append(np.asarray(Image.open(os.path.join(root, rel)).convert("RGB")))
        maps.append(np.asarray(Image.open(os.path.join(root, entry["mask"]))))
        objects.append(entry["objects"])
    return np.stack(images), np.stack(maps), objects


def write_demo_images(count=2):
    """scenes-demo/<kind>-<n>.png and <kind>-<n>.mask.png: a binary mask (255 inside) of the
    scene's first object, ready for `convlens faithfulness --mask`; its box is in README.md."""
    folder = os.path.join(HERE, "scenes-demo")
    if os.path.isdir(folder):
        shutil.rmtree(folder)
    os.makedirs(folder)
    for kind, seed in DEMO_SEEDS.items():
        spec = SCENE_KINDS[kind]
        rng = np.random.default_rng(seed)
        for n in range(count):
            image, instances, objects, _bg = make_scene(rng, spec["size"], spec["count"], spec["radius"])
            Image.fromarray(image).save(os.path.join(folder, f"{kind}-{n}.png"), optimize=True)
            mask = np.where(instances == objects[0]["instance"], 255, 0).astype(np.uint8)
            Image.fromarray(mask, mode="L").save(os.path.join(folder, f"{kind}-{n}.mask.png"), optimize=True)
            print(f"  {kind}-{n}.png: first object {objects[0]['class']} at {objects[0]['bbox']}")


def main():
    write_test_folder("seg")
    write_test_folder("det")
    write_demo_images()


if __name__ == "__main__":
    main()
