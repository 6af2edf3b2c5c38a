#!/usr/bin/env python3
"""Train and export the tiny CNN-Transformer hybrid that ConvLens's attention tests use.

    /usr/bin/python3 test/models/hybrid/train_hybrid.py

Model: a conv stem turns a 64x64 RGB image into an 8x8 grid of 32-d tokens, a learned CLS token
and position embeddings are added, two pre-norm transformer encoder layers follow (4 heads of 8
dims), and a linear head reads the CLS token (4 shape classes). Attention is written out
(q, k, v Linear; softmax(q k^T / sqrt(d)) v) so the ONNX exporter emits MatMul -> Div -> Softmax
-> MatMul rather than a fused attention op; that is the pattern ConvLens must find.

Data: sample/.data/shapes/train when present (made by sample/make_dataset.py), else
sample/dataset/test, else seeded random images; the model need not be good, only real.

Outputs (next to this file):
    hybrid.onnx                      opset 14, input 'input' [N,3,64,64], output 'logits' [N,4]
    input.npy                        the fixed input [1,3,64,64] (first star of sample/dataset/test
                                     preprocessed like shapes.convlens.json, else seeded noise)
    logits.npy                       PyTorch logits for it
    attention_<l>.npy                softmax probabilities of layer l, [1, heads, 65, 65]
    rollout_mean.npy, rollout_max.npy attention rollout (Abnar & Zuidema 2020) with heads fused by
                                     mean / max: A_l = rownorm(fuse(attn_l) + I), R = A_L ... A_1
"""

import math
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
SAMPLE = os.path.normpath(os.path.join(HERE, "..", "..", "..", "sample"))
CLASSES = ["circle", "square", "star", "triangle"]
SIZE = 64
DIM = 32
HEADS = 4
LAYERS = 2


class Attention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.head_dim = dim // heads
        self.q = nn.Linear(dim, dim)
        self.k = nn.Linear(dim, dim)
        self.v = nn.Linear(dim, dim)
        self.proj = nn.Linear(dim, dim)
        self.probabilities = None  # kept for the ground truth

    def split(self, x):
        b, t, _ = x.shape
        return x.reshape(b, t, self.heads, self.head_dim).permute(0, 2, 1, 3)

    def forward(self, x):
        b, t, d = x.shape
        q, k, v = self.split(self.q(x)), self.split(self.k(x)), self.split(self.v(x))
        scores = torch.matmul(q, k.transpose(-2, -1)) / math.sqrt(self.head_dim)
        attn = torch.softmax(scores, dim=-1)
        self.probabilities = attn
        out = torch.matmul(attn, v).permute(0, 2, 1, 3).reshape(b, t, d)
        return self.proj(out)


class EncoderLayer(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim))

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class HybridNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(3, 16, 3, stride=2, padding=1), nn.BatchNorm2d(16), nn.ReLU(),   # 64 -> 32
            nn.Conv2d(16, 32, 3, stride=2, padding=1), nn.BatchNorm2d(32), nn.ReLU(),  # 32 -> 16
            nn.Conv2d(32, DIM, 2, stride=2),                       # 16 -> 8: 64 tokens
        )
        self.cls = nn.Parameter(torch.zeros(1, 1, DIM))
        self.pos = nn.Parameter(torch.randn(1, 1 + 64, DIM) * 0.02)
        self.layers = nn.ModuleList([EncoderLayer(DIM, HEADS) for _ in range(LAYERS)])
        self.norm = nn.LayerNorm(DIM)
        self.head = nn.Linear(DIM, len(CLASSES))

    def forward(self, x):
        tokens = self.stem(x).flatten(2).transpose(1, 2)          # [B, 64, DIM]
        cls = self.cls.expand(tokens.shape[0], -1, -1)
        x = torch.cat([cls, tokens], dim=1) + self.pos
        for layer in self.layers:
            x = layer(x)
        return self.head(self.norm(x)[:, 0])


def preprocess(path):
    image = Image.open(path).convert("RGB").resize((SIZE, SIZE), Image.BILINEAR)
    x = np.asarray(image, dtype=np.float32) / 255.0
    return torch.from_numpy(((x - 0.5) / 0.5).transpose(2, 0, 1).copy())


def load_split(folder):
    images, labels = [], []
    for label, cls in enumerate(CLASSES):
        d = os.path.join(folder, cls)
        for name in sorted(os.listdir(d), key=lambda n: int(os.path.splitext(n)[0])):
            images.append(preprocess(os.path.join(d, name)))
            labels.append(label)
    return torch.stack(images), torch.tensor(labels)


def training_data():
    for folder in (os.path.join(SAMPLE, ".data", "shapes", "train"), os.path.join(SAMPLE, "dataset", "test")):
        if os.path.isdir(folder):
            print(f"training on {folder}")
            return load_split(folder)
    print("no sample data: training on seeded random images")
    g = torch.Generator().manual_seed(1)
    return torch.randn(256, 3, SIZE, SIZE, generator=g), torch.randint(0, 4, (256,), generator=g)


def fixed_input():
    star = os.path.join(SAMPLE, "dataset", "test", "star", "0.png")
    if os.path.exists(star):
        return preprocess(star)[None]
    return torch.randn(1, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(2))


def rollout(attentions, fuse):
    """Abnar & Zuidema 2020: per layer fuse heads, add identity, row-normalise; multiply through."""
    result = None
    for attn in attentions:
        fused = attn.mean(dim=1) if fuse == "mean" else attn.max(dim=1).values
        a = fused + torch.eye(fused.shape[-1], dtype=fused.dtype)
        a = a / a.sum(dim=-1, keepdim=True)
        result = a if result is None else torch.matmul(a, result)
    return result


def main():
    torch.manual_seed(0)
    model = HybridNet()
    images, labels = training_data()
    optimizer = torch.optim.Adam(model.parameters(), lr=5e-4)
    for epoch in range(20):
        model.train()
        order = torch.randperm(len(images))
        for i in range(0, len(images), 64):
            batch = order[i:i + 64]
            loss = F.cross_entropy(model(images[batch]), labels[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        with torch.no_grad():
            accuracy = (model(images).argmax(1) == labels).float().mean().item()
        print(f"epoch {epoch}: loss {loss.item():.3f}, training accuracy {accuracy:.3f}")

    model.eval()
    x = fixed_input()
    with torch.no_grad():
        logits = model(x)
    attentions = [layer.attn.probabilities.double() for layer in model.layers]

    onnx_path = os.path.join(HERE, "hybrid.onnx")
    torch.onnx.export(
        model, x, onnx_path, opset_version=14, input_names=["input"], output_names=["logits"],
        dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}}, do_constant_folding=True,
    )
    np.save(os.path.join(HERE, "input.npy"), x.numpy().astype(np.float32))
    np.save(os.path.join(HERE, "logits.npy"), logits.numpy().astype(np.float32))
    for i, attn in enumerate(attentions):
        np.save(os.path.join(HERE, f"attention_{i}.npy"), attn.numpy().astype(np.float32))
    for fuse in ("mean", "max"):
        np.save(os.path.join(HERE, f"rollout_{fuse}.npy"), rollout(attentions, fuse).numpy().astype(np.float32))
    print(f"wrote {onnx_path} ({os.path.getsize(onnx_path)} bytes)")


if __name__ == "__main__":
    main()
