"""What train_seg.py, train_det.py and train_vit.py share: preprocessing, the learning-rate
schedule, ONNX export checks and the ConvLens sidecar. Same preprocessing as train.py."""

import json
import os
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
MEAN = [0.5, 0.5, 0.5]
STD = [0.5, 0.5, 0.5]


def to_input(images):
    """uint8 [N, H, W, 3] -> float32 [N, 3, H, W]: x / 255, then (x - 0.5) / 0.5 per channel."""
    x = torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2))).float() / 255.0
    mean = torch.tensor(MEAN).view(1, 3, 1, 1)
    std = torch.tensor(STD).view(1, 3, 1, 1)
    return (x - mean) / std


def constant_then_decay(optimizer, total_steps):
    """Constant learning rate for 60% of the steps, then linear decay to 0 (as train.py)."""
    decay_start = int(0.6 * total_steps)
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        lambda step: 1.0 if step < decay_start else max(0.0, (total_steps - step) / (total_steps - decay_start)),
    )


def fit(model, batch_loss, count, epochs, batch_size=32, lr=2e-3, weight_decay=0.0, seed=0):
    """AdamW over shuffled batches of indices in [0, count); batch_loss(indices) -> scalar loss."""
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    scheduler = constant_then_decay(optimizer, epochs * ((count + batch_size - 1) // batch_size))
    for epoch in range(epochs):
        model.train()
        order = torch.randperm(count, generator=generator)
        total, start = 0.0, time.time()
        for i in range(0, count, batch_size):
            idx = order[i:i + batch_size]
            loss = batch_loss(idx)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
            total += loss.item() * len(idx)
        print(f"  epoch {epoch + 1}/{epochs}: loss {total / count:.4f} ({time.time() - start:.1f}s)", flush=True)


def export_onnx(model, path, size, output_names, opset):
    """Export in eval mode with a dynamic batch axis; node names keep the module scopes."""
    model.eval()
    dummy = torch.zeros(1, 3, size, size)
    torch.onnx.export(
        model, dummy, path,
        input_names=["input"],
        output_names=output_names,
        dynamic_axes={"input": {0: "batch"}, **{name: {0: "batch"} for name in output_names}},
        opset_version=opset,
    )
    describe_onnx(path)


def describe_onnx(path):
    import onnx
    m = onnx.load(path)
    onnx.checker.check_model(m)
    ops = {}
    for node in m.graph.node:
        ops[node.op_type] = ops.get(node.op_type, 0) + 1
    print(f"  {os.path.basename(path)}: opset {m.opset_import[0].version}, {len(m.graph.node)} nodes, "
          f"{os.path.getsize(path)} bytes; ops {dict(sorted(ops.items()))}", flush=True)


def write_sidecar(stem, size, labels, classifier=True):
    """<stem>.convlens.json next to the model, and the class names: <stem>.labels.txt, named by the
    sidecar, for a classifier; <stem>.classes.txt, not named, for the segmentation and detection
    samples (ConvLens matches a labels file to the last axis of the first output, a classifier's
    logits; there the class axis is elsewhere: [N, 5, H, W] and [N, boxes, 5 + C])."""
    labels_file = f"{stem}.labels.txt" if classifier else f"{stem}.classes.txt"
    with open(os.path.join(HERE, labels_file), "w") as f:
        f.write("\n".join(labels) + "\n")
    sidecar = {
        "input": "input",
        "layout": "NCHW",
        "size": [size, size],
        "resize": "stretch",
        "scale": 1 / 255,
        "mean": MEAN,
        "std": STD,
        "colorOrder": "RGB",
    }
    if classifier:
        sidecar["labels"] = labels_file
    with open(os.path.join(HERE, f"{stem}.convlens.json"), "w") as f:
        json.dump(sidecar, f, indent=2)
        f.write("\n")
