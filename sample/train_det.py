#!/usr/bin/env python3
"""Train the detection sample (a tiny single-stage, YOLO-style detector) on 96x96 scenes with
1-4 shapes and export it to ONNX twice: the raw head, and the raw head followed by NMS.

    /usr/bin/python3 sample/train_det.py [--epochs 10] [--threads 1]

Outputs (next to this file):
    shapes-det.onnx      input "input" [N,3,96,96], output "detections" [N,144,9]: one box per
                         cell of the 12x12 grid (stride 8), each [cx, cy, w, h, obj, circle,
                         square, star, triangle]; cx, cy, w, h in input pixels, obj and the class
                         scores are sigmoid probabilities (YOLOv5's layout). The score of box b
                         for class c is obj[b] * cls[b, c].
    shapes-det-nms.onnx  the same network with ONNX NonMaxSuppression after it: outputs
                         "selected" [K,3] (batch, class, box index) and "kept" [K,9] (those
                         rows of the raw head, whose tensor is still named "detections").
                         Explain the raw head: a gradient cannot pass through the selection.
    shapes-det.classes.txt, shapes-det.convlens.json (and -nms): class names and sidecars.

Decoding, per cell (gx, gy) with raw outputs t: cx = (gx + 2 sigmoid(tx) - 0.5) * 8,
cy likewise, w = (2 sigmoid(tw))^2 * 24, h likewise (0 to 96 px), obj = sigmoid(to),
cls = sigmoid(tc). Each ground-truth box is assigned to the cell holding its centre (shapes
never overlap and their centres are at least 18 px apart, so no cell gets two).
Loss: BCE on obj over all cells, BCE on classes and (1 - IoU) + L1 on (cx, cy, w, h) / 8 at
assigned cells. Training data: 1200 scenes (seed 51), validation 300 (seed 52); test folder
scenes-det/test (seed 5001).
"""

import argparse
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from make_dataset import CLASSES
from make_scenes import SCENE_KINDS, make_split, read_test_folder
from train import ConvBlock  # 3x3 convolution, batch norm, ReLU, as in ShapesNet
from scene_training import HERE, describe_onnx, export_onnx, fit, to_input, write_sidecar

SIZE = SCENE_KINDS["det"]["size"]
STRIDE = 8
GRID = SIZE // STRIDE
ANCHOR = 24.0


class ShapesDetNet(nn.Module):
    """Backbone 96->48->24->12, a 12x12 head with 4 + 1 + C outputs per cell, decoded in the graph."""

    def __init__(self, num_classes=len(CLASSES)):
        super().__init__()
        self.block1 = ConvBlock(3, 8)
        self.pool1 = nn.MaxPool2d(2)
        self.block2 = ConvBlock(8, 16)
        self.pool2 = nn.MaxPool2d(2)
        self.block3 = ConvBlock(16, 32)
        self.pool3 = nn.MaxPool2d(2)
        self.block4 = ConvBlock(32, 64)
        self.block5 = ConvBlock(64, 64)  # last conv layer: 12x12 maps for CAM methods
        self.head = nn.Conv2d(64, 5 + num_classes, kernel_size=1)
        gy, gx = torch.meshgrid(torch.arange(GRID), torch.arange(GRID), indexing="ij")
        self.register_buffer("grid", torch.stack([gx, gy], dim=-1).reshape(1, GRID * GRID, 2).float())

    def raw(self, x):
        x = self.pool1(self.block1(x))
        x = self.pool2(self.block2(x))
        x = self.pool3(self.block3(x))
        x = self.block5(self.block4(x))
        t = self.head(x)                                 # [N, 5 + C, 12, 12]
        return t.flatten(2).transpose(1, 2)              # [N, 144, 5 + C], cells in row-major order

    def decode(self, t):
        s = torch.sigmoid(t)
        centre = (self.grid + 2 * s[..., 0:2] - 0.5) * STRIDE
        size = (2 * s[..., 2:4]) ** 2 * ANCHOR
        return torch.cat([centre, size, s[..., 4:]], dim=-1)

    def forward(self, x):
        return self.decode(self.raw(x))


def targets_of(objects):
    """Per image: cell indices, classes and boxes (cx, cy, w, h) of the ground truth."""
    out = []
    for objs in objects:
        cells, classes, boxes = [], [], []
        for o in objs:
            x0, y0, x1, y1 = o["bbox"]
            cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
            cells.append(int(cy // STRIDE) * GRID + int(cx // STRIDE))
            classes.append(CLASSES.index(o["class"]))
            boxes.append([cx, cy, x1 - x0, y1 - y0])
        out.append((torch.tensor(cells), torch.tensor(classes), torch.tensor(boxes, dtype=torch.float32)))
    return out


def xyxy(b):
    return torch.cat([b[..., 0:2] - b[..., 2:4] / 2, b[..., 0:2] + b[..., 2:4] / 2], dim=-1)


def box_iou_pairs(a, b):
    """IoU of matching rows of two [K, 4] (cx, cy, w, h) tensors."""
    a, b = xyxy(a), xyxy(b)
    wh = (torch.min(a[:, 2:], b[:, 2:]) - torch.max(a[:, :2], b[:, :2])).clamp(min=0)
    inter = wh[:, 0] * wh[:, 1]
    area = lambda r: (r[:, 2] - r[:, 0]) * (r[:, 3] - r[:, 1])
    return inter / (area(a) + area(b) - inter + 1e-9)


def detection_loss(model, x, targets):
    pred = model(x)                                      # [B, 144, 9]
    obj_target = torch.zeros(pred.shape[:2])
    cls_loss, box_loss, positives = 0.0, 0.0, 0
    for i, (cells, classes, boxes) in enumerate(targets):
        obj_target[i, cells] = 1.0
        p = pred[i, cells]
        cls_loss = cls_loss + F.binary_cross_entropy(p[:, 5:].clamp(1e-6, 1 - 1e-6),
                                                     F.one_hot(classes, len(CLASSES)).float(), reduction="sum")
        box_loss = box_loss + (1 - box_iou_pairs(p[:, :4], boxes)).sum() + (
            (p[:, :4] - boxes).abs().sum(dim=1) / STRIDE).sum()
        positives += len(cells)
    obj_loss = F.binary_cross_entropy(pred[..., 4].clamp(1e-6, 1 - 1e-6), obj_target, reduction="sum")
    return (obj_loss + cls_loss + box_loss) / max(positives, 1)


def nms_detections(pred, score_threshold=0.05, iou_threshold=0.5):
    """Per image: [K, 6] rows (x0, y0, x1, y1, score, class) after per-class NMS."""
    import torchvision
    out = []
    for p in pred:
        scores = p[:, 4:5] * p[:, 5:]                   # [144, C]
        box_idx, cls = (scores > score_threshold).nonzero(as_tuple=True)
        boxes, s = xyxy(p[box_idx, :4]), scores[box_idx, cls]
        keep = torchvision.ops.batched_nms(boxes, s, cls, iou_threshold)
        out.append(torch.cat([boxes[keep], s[keep, None], cls[keep, None].float()], dim=1))
    return out


def average_precision_50(detections, objects):
    """VOC-style AP at IoU 0.5 per class (all-point interpolation), and their mean."""
    import torchvision
    aps = []
    for c, name in enumerate(CLASSES):
        records, total = [], 0
        for dets, objs in zip(detections, objects):
            gt = torch.tensor([o["bbox"] for o in objs if o["class"] == name], dtype=torch.float32).reshape(-1, 4)
            total += len(gt)
            d = dets[dets[:, 5] == c]
            d = d[d[:, 4].argsort(descending=True)]
            used = torch.zeros(len(gt), dtype=torch.bool)
            ious = torchvision.ops.box_iou(d[:, :4], gt) if len(gt) else torch.zeros(len(d), 0)
            for k in range(len(d)):
                best = int(ious[k].argmax()) if len(gt) else -1
                hit = best >= 0 and ious[k, best] >= 0.5 and not used[best]
                if hit:
                    used[best] = True
                records.append((float(d[k, 4]), hit))
        records.sort(key=lambda r: -r[0])
        hits = np.cumsum([r[1] for r in records])
        recall = hits / max(total, 1)
        precision = hits / np.arange(1, len(records) + 1)
        # Area under the precision envelope (precision made non-increasing from the right).
        envelope = np.maximum.accumulate(precision[::-1])[::-1] if len(records) else np.zeros(0)
        recall_steps = np.diff(np.concatenate([[0.0], recall]))
        aps.append(float((envelope * recall_steps).sum()))
    return aps, float(np.mean(aps))


def add_nms(raw_path, nms_path, max_boxes=20, iou_threshold=0.5, score_threshold=0.25):
    """shapes-det.onnx + NonMaxSuppression (centre_point_box = 1: boxes as cx, cy, w, h)."""
    import onnx
    from onnx import TensorProto, helper
    m = onnx.load(raw_path)
    g = m.graph
    const = lambda name, values, dtype=TensorProto.INT64: g.initializer.append(
        helper.make_tensor(name, dtype, [len(values)], values))
    const("nms/starts_box", [0]); const("nms/ends_box", [4]); const("nms/starts_obj", [4])
    const("nms/ends_obj", [5]); const("nms/ends_cls", [5 + len(CLASSES)]); const("nms/axis", [2])
    const("nms/max_boxes", [max_boxes]); const("nms/iou", [iou_threshold], TensorProto.FLOAT)
    const("nms/score", [score_threshold], TensorProto.FLOAT); const("nms/batch_and_box", [0, 2])
    g.node.extend([
        helper.make_node("Slice", ["detections", "nms/starts_box", "nms/ends_box", "nms/axis"], ["nms/boxes"], name="/nms/boxes"),
        helper.make_node("Slice", ["detections", "nms/starts_obj", "nms/ends_obj", "nms/axis"], ["nms/obj"], name="/nms/obj"),
        helper.make_node("Slice", ["detections", "nms/ends_obj", "nms/ends_cls", "nms/axis"], ["nms/cls"], name="/nms/cls"),
        helper.make_node("Mul", ["nms/obj", "nms/cls"], ["nms/scores_bnc"], name="/nms/scores"),
        helper.make_node("Transpose", ["nms/scores_bnc"], ["nms/scores_bcn"], perm=[0, 2, 1], name="/nms/transpose"),
        helper.make_node("NonMaxSuppression", ["nms/boxes", "nms/scores_bcn", "nms/max_boxes", "nms/iou", "nms/score"],
                         ["selected"], center_point_box=1, name="/nms/NonMaxSuppression"),
        helper.make_node("Gather", ["selected", "nms/batch_and_box"], ["nms/batch_and_box_idx"], axis=1, name="/nms/indices"),
        helper.make_node("GatherND", ["detections", "nms/batch_and_box_idx"], ["kept"], name="/nms/kept"),
    ])
    del g.output[:]
    g.output.extend([
        helper.make_tensor_value_info("selected", TensorProto.INT64, ["selected_count", 3]),
        helper.make_tensor_value_info("kept", TensorProto.FLOAT, ["selected_count", 5 + len(CLASSES)]),
    ])
    onnx.save(m, nms_path)
    describe_onnx(nms_path)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--train", type=int, default=1200)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    images, _maps, train_objects = make_split("det", args.train, seed=51)
    train_x, train_t = to_input(images), targets_of(train_objects)
    images, _maps, val_objects = make_split("det", 300, seed=52)
    val_x = to_input(images)
    print(f"{len(train_x)} training scenes, {len(val_x)} validation scenes", flush=True)

    model = ShapesDetNet()
    fit(model, lambda idx: detection_loss(model, train_x[idx], [train_t[i] for i in idx]), len(train_x), args.epochs)

    model.eval()
    images, _maps, test_objects = read_test_folder("det")
    for name, x, objects in (("val", val_x, val_objects), ("test (scenes-det/test)", to_input(images), test_objects)):
        with torch.no_grad():
            detections = nms_detections(model(x))
        aps, mean_ap = average_precision_50(detections, objects)
        print(f"  {name}: mAP50 {mean_ap:.3f} (" + ", ".join(f"{c} {a:.3f}" for c, a in zip(CLASSES, aps)) + ")", flush=True)

    for stem in ("shapes-det", "shapes-det-nms"):
        write_sidecar(stem, SIZE, CLASSES, classifier=False)
    raw_path = os.path.join(HERE, "shapes-det.onnx")
    export_onnx(model, raw_path, SIZE, ["detections"], opset=13)
    add_nms(raw_path, os.path.join(HERE, "shapes-det-nms.onnx"))


if __name__ == "__main__":
    main()
