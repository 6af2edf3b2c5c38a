#!/usr/bin/env python3
"""Export a small CNN with data-dependent control flow (an ONNX If) and its PyTorch gradients.

forward(x): f = conv(x); h = 2·relu(f) if x.sum() > 0 else sigmoid(f); logits = fc(mean_hw(h)).
torch.jit.script keeps the `if` as prim::If, which the exporter writes as an ONNX If whose
branches read `f` from the outer scope.

Writes next to this file:
    gated_if.onnx                     input "input" [1,3,8,8], output "logits" [1,3]
    gated_if.input_{then,else}.npy    inputs whose sum is > 0 / < 0 (far from 0)
    gated_if.grad_{then,else}.npy     d logits[0, 1] / d input from PyTorch autograd

Usage:  /usr/bin/python3 test/models/controlflow/export_controlflow.py
"""

import os

import numpy as np
import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
TARGET = 1


class GatedIf(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        f = self.conv(x)
        if bool(x.sum() > 0):
            h = torch.relu(f) * 2.0
        else:
            h = torch.sigmoid(f)
        return self.fc(h.mean(dim=(2, 3)))


def main():
    torch.manual_seed(0)
    model = GatedIf().eval()
    scripted = torch.jit.script(model)
    base = torch.rand(1, 3, 8, 8, generator=torch.Generator().manual_seed(1)) - 0.5
    example = base + 0.2
    path = os.path.join(HERE, 'gated_if.onnx')
    torch.onnx.export(scripted, (example,), path, input_names=['input'], output_names=['logits'], opset_version=13)
    for name, shift in (('then', 0.2), ('else', -0.2)):
        x = (base + shift).clone().requires_grad_(True)
        assert (x.sum().item() > 0) == (name == 'then')
        model(x)[0, TARGET].backward()
        np.save(os.path.join(HERE, f'gated_if.input_{name}.npy'), x.detach().numpy().astype(np.float32))
        np.save(os.path.join(HERE, f'gated_if.grad_{name}.npy'), x.grad.numpy().astype(np.float32))


if __name__ == '__main__':
    main()
