#!/usr/bin/env python3
"""Train the tiny ViT sample on the 64x64 shapes images and export it to ONNX (opset 17).

    /usr/bin/python3 sample/train_vit.py [--epochs 12] [--threads 1]

Outputs (next to this file):
    shapes-vit.onnx          input "input" [N,3,64,64], output "logits" [N,4]
    shapes-vit.labels.txt    circle, square, star, triangle (as shapes.labels.txt)
    shapes-vit.convlens.json preprocessing sidecar (as shapes.convlens.json)

Model: a convolutional stem (three stages of 3x3 conv, BatchNorm, ReLU, 2x2 max pool) makes an
8x8 grid of 64 tokens of 64 dimensions (one per 8x8 patch), a class token,
learned position embeddings, 4 pre-norm blocks (4-head self-attention written out as MatMul,
Softmax, MatMul so every head's attention matrix is a tensor of the graph: /blocks.N/attn/Softmax
[N, 4, 65, 65]; MLP 64->128->64 with GELU), a final LayerNorm and a linear head on the class token.
Training data: make_dataset.make_image drawn in memory, 750 per class (seed 31), validation
250 per class (seed 32), with random flips and quarter turns; test: sample/dataset/test.
"""

import argparse
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image

from make_dataset import CLASSES, SIZE, make_image
from scene_training import HERE, export_onnx, fit, to_input, write_sidecar
from train import ConvBlock

PATCH = 8
DIM = 64
HEADS = 4
DEPTH = 4
TOKENS = (SIZE // PATCH) ** 2 + 1  # patches and the class token


class Attention(nn.Module):
    def __init__(self, dim=DIM, heads=HEADS):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.softmax = nn.Softmax(dim=-1)

    def forward(self, x):
        # Reshapes use the fixed token count and width (batch -1) so the graph needs no Shape ops.
        head_dim = DIM // self.heads
        qkv = self.qkv(x).reshape(-1, TOKENS, 3, self.heads, head_dim).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]                  # [N, heads, tokens, head_dim]
        attention = self.softmax(q @ k.transpose(-2, -1) * head_dim ** -0.5)
        return self.proj((attention @ v).transpose(1, 2).reshape(-1, TOKENS, DIM))


class Block(nn.Module):
    def __init__(self, dim=DIM):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = Attention(dim)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim))

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class ShapesViT(nn.Module):
    def __init__(self, num_classes=len(CLASSES)):
        super().__init__()
        # Convolutional stem (Xiao et al., 2021, arXiv:2106.14881: "early convolutions help
        # transformers see better"): ShapesNet's first three stages (3x3 conv, BatchNorm, ReLU,
        # 2x2 max pool) make the 8x8 grid of 64 tokens, one per 8x8 patch. With a plain 8x8
        # patchify convolution the model stayed at chance for the few hundred steps affordable here.
        self.patch_embed = nn.Sequential(
            ConvBlock(3, 16), nn.MaxPool2d(2),
            ConvBlock(16, 32), nn.MaxPool2d(2),
            ConvBlock(32, DIM), nn.MaxPool2d(2),
        )
        self.cls_token = nn.Parameter(torch.zeros(1, 1, DIM))
        self.pos_embed = nn.Parameter(torch.randn(1, TOKENS, DIM) * 0.02)
        self.blocks = nn.Sequential(*[Block() for _ in range(DEPTH)])
        self.norm = nn.LayerNorm(DIM)
        self.head = nn.Linear(DIM, num_classes)

    def forward(self, x):
        x = self.patch_embed(x).flatten(2).transpose(1, 2)            # [N, 64, DIM]
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1) + self.pos_embed
        x = self.norm(self.blocks(x))
        return self.head(x[:, 0])


def make_classification_split(per_class, seed):
    rng = np.random.default_rng(seed)
    images, labels = [], []
    for _ in range(per_class):
        for label, cls in enumerate(CLASSES):
            image, _meta = make_image(rng, cls, with_mark=False)
            images.append(image)
            labels.append(label)
    return to_input(np.stack(images)), torch.tensor(labels)


def read_test_set():
    root = os.path.join(HERE, "dataset", "test")
    images, labels = [], []
    for label, cls in enumerate(CLASSES):
        for name in sorted(os.listdir(os.path.join(root, cls)), key=lambda n: int(n.split(".")[0])):
            images.append(np.asarray(Image.open(os.path.join(root, cls, name)).convert("RGB")))
            labels.append(label)
    return to_input(np.stack(images)), torch.tensor(labels)


def augment(x, generator):
    """Random horizontal flip and quarter turn per batch: the classes do not change under either."""
    if torch.rand(1, generator=generator).item() < 0.5:
        x = x.flip(-1)
    return torch.rot90(x, int(torch.randint(4, (1,), generator=generator)), dims=(-2, -1))


@torch.no_grad()
def accuracy(model, x, y, batch_size=250):
    model.eval()
    pred = torch.cat([model(x[i:i + batch_size]).argmax(dim=1) for i in range(0, len(x), batch_size)])
    return (pred == y).float().mean().item()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--per-class", type=int, default=750)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    train_x, train_y = make_classification_split(args.per_class, seed=31)
    val_x, val_y = make_classification_split(250, seed=32)
    print(f"{len(train_x)} training images, {len(val_x)} validation images", flush=True)

    model = ShapesViT()
    generator = torch.Generator().manual_seed(1)
    fit(model, lambda idx: F.cross_entropy(model(augment(train_x[idx], generator)), train_y[idx]),
        len(train_x), args.epochs, batch_size=32, lr=1e-3, weight_decay=0.05)

    test_x, test_y = read_test_set()
    print(f"  accuracy val: {accuracy(model, val_x, val_y):.3f}, "
          f"test (sample/dataset/test): {accuracy(model, test_x, test_y):.3f}", flush=True)
    write_sidecar("shapes-vit", SIZE, CLASSES)
    export_onnx(model, os.path.join(HERE, "shapes-vit.onnx"), SIZE, ["logits"], opset=17)


if __name__ == "__main__":
    main()
