#!/usr/bin/env python3
"""Train the segmentation sample (a tiny U-Net) on 64x64 shape scenes and export it to ONNX.

    /usr/bin/python3 sample/train_seg.py [--epochs 10] [--threads 1]

Outputs (next to this file):
    shapes-seg.onnx          input "input" [N,3,64,64], output "logits" [N,5,64,64]
                             (channel 0 background, then circle, square, star, triangle)
    shapes-seg.classes.txt   background, circle, square, star, triangle (see scene_training.write_sidecar)
    shapes-seg.convlens.json preprocessing sidecar (as shapes.convlens.json)

Training data: 1600 scenes from make_scenes.make_split("seg", ...) drawn in memory (seed 41),
validation 400 (seed 42); the committed test folder is scenes-seg/test (seed 4001).
"""

import argparse
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from make_dataset import CLASSES
from make_scenes import SCENE_KINDS, make_split, read_test_folder, semantic_labels
from train import ConvBlock  # 3x3 convolution, batch norm, ReLU, as in ShapesNet
from scene_training import HERE, export_onnx, fit, to_input, write_sidecar

LABELS = ["background"] + CLASSES
SIZE = SCENE_KINDS["seg"]["size"]


class ShapesSegNet(nn.Module):
    """Encoder 64->32->16->8, decoder back to 32x32 with skip concatenations, then the 5 logits
    are upsampled bilinearly to 64x64 (a half-resolution decoder costs a fifth of a full one)."""

    def __init__(self, num_labels=len(LABELS)):
        super().__init__()
        self.enc1 = ConvBlock(3, 8)          # 64x64
        self.pool1 = nn.MaxPool2d(2)
        self.enc2 = ConvBlock(8, 16)         # 32x32
        self.pool2 = nn.MaxPool2d(2)
        self.enc3 = ConvBlock(16, 32)        # 16x16
        self.pool3 = nn.MaxPool2d(2)
        self.bottleneck = ConvBlock(32, 48)  # 8x8: sees whole shapes (up to 32 px across)
        self.up3 = nn.Upsample(scale_factor=2, mode="nearest")
        self.dec3 = ConvBlock(48 + 32, 32)   # 16x16
        self.up2 = nn.Upsample(scale_factor=2, mode="nearest")
        self.dec2 = ConvBlock(32 + 16, 16)   # 32x32
        self.head = nn.Conv2d(16, num_labels, kernel_size=1)
        self.upsample = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False)

    def forward(self, x):
        e1 = self.enc1(x)
        e2 = self.enc2(self.pool1(e1))
        e3 = self.enc3(self.pool2(e2))
        b = self.bottleneck(self.pool3(e3))
        d3 = self.dec3(torch.cat([self.up3(b), e3], dim=1))
        d2 = self.dec2(torch.cat([self.up2(d3), e2], dim=1))
        return self.upsample(self.head(d2))


def labels_of(instance_maps, objects):
    return torch.from_numpy(np.stack([semantic_labels(m, o) for m, o in zip(instance_maps, objects)]))


@torch.no_grad()
def evaluate(model, x, y, batch_size=200):
    """Per-label IoU over all pixels of the split, and the mean over the 5 labels."""
    model.eval()
    pred = torch.cat([model(x[i:i + batch_size]).argmax(dim=1) for i in range(0, len(x), batch_size)])
    ious = []
    for label in range(len(LABELS)):
        inter = ((pred == label) & (y == label)).sum().item()
        union = ((pred == label) | (y == label)).sum().item()
        ious.append(inter / max(union, 1))
    return ious, (pred == y).float().mean().item()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--train", type=int, default=1600)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    images, maps, objects = make_split("seg", args.train, seed=41)
    train_x, train_y = to_input(images), labels_of(maps, objects)
    images, maps, objects = make_split("seg", 400, seed=42)
    val_x, val_y = to_input(images), labels_of(maps, objects)
    print(f"{len(train_x)} training scenes, {len(val_x)} validation scenes", flush=True)

    model = ShapesSegNet()
    fit(model, lambda idx: F.cross_entropy(model(train_x[idx]), train_y[idx]), len(train_x), args.epochs)

    images, maps, objects = read_test_folder("seg")
    test_x, test_y = to_input(images), labels_of(maps, objects)
    for name, (x, y) in {"val": (val_x, val_y), "test (scenes-seg/test)": (test_x, test_y)}.items():
        ious, pixel_acc = evaluate(model, x, y)
        print(f"  {name}: mIoU {np.mean(ious):.3f} (" + ", ".join(f"{l} {v:.3f}" for l, v in zip(LABELS, ious))
              + f"), pixel accuracy {pixel_acc:.3f}", flush=True)

    write_sidecar("shapes-seg", SIZE, LABELS, classifier=False)
    export_onnx(model, os.path.join(HERE, "shapes-seg.onnx"), SIZE, ["logits"], opset=13)


if __name__ == "__main__":
    main()
