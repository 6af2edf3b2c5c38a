#!/usr/bin/env python3
"""Train the 1-D sample (a small audio-style CNN) on generated signals whose events are known, and
export it to ONNX with example inputs.

    /usr/bin/python3 sample/train_signal.py [--epochs 6] [--threads 2]

Data: mono signals of 256 samples in [-1, 1] (as a 16-bit WAV reads): Gaussian noise (std 0.15)
over a slow random hum, and for two of the three classes one event at a random place:
    noise  no event
    tone   a 24-sample Gaussian-windowed sine burst, period 6 samples
    chirp  a 48-sample Hann-windowed sweep from period 16 down to period 3
The event's interval [start, end) (samples, end exclusive) is the ground truth a map should point at.

Outputs (next to this file):
    signal1d.onnx            input "input" [1, 1, 256], output "logits" [1, 3]
    signal1d.labels.txt      noise, tone, chirp (the panel and the CLI find it beside the model)
    signals/<name>.npy       example inputs, float32 [1, 1, 256]
    signals/chirp-1.wav      one example as 16-bit mono PCM (8000 Hz); its .npy twin is not shipped
    signals/events.json      per example file: class and event interval (null for noise)

Deterministic (fixed seeds); about a minute of CPU time (3.5 min on two busy shared cores).
"""

import argparse
import json
import os
import wave

import numpy as np
import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
LENGTH = 256
CLASSES = ["noise", "tone", "chirp"]
EVENT_LENGTH = {"tone": 24, "chirp": 48}


def make_signal(kind, rng):
    t = np.arange(LENGTH)
    hum = 0.1 * np.sin(2 * np.pi * t / rng.uniform(80, 160) + rng.uniform(0, 2 * np.pi))
    x = hum + rng.normal(0, 0.15, LENGTH)
    interval = None
    if kind != "noise":
        n = EVENT_LENGTH[kind]
        start = int(rng.integers(0, LENGTH - n + 1))
        u = np.arange(n)
        if kind == "tone":
            burst = np.exp(-0.5 * ((u - (n - 1) / 2) / (n / 5)) ** 2) * np.sin(2 * np.pi * u / 6 + rng.uniform(0, 2 * np.pi))
        else:
            period = 16 * (3 / 16) ** (u / (n - 1))  # 16 → 3 samples, geometric sweep
            phase = 2 * np.pi * np.cumsum(1 / period)
            burst = np.hanning(n) * np.sin(phase)
        x[start:start + n] += rng.uniform(0.55, 0.75) * burst
        interval = [start, start + n]
    return np.clip(x, -1, 1).astype(np.float32), interval


def make_split(count_per_class, seed):
    rng = np.random.default_rng(seed)
    xs, ys = [], []
    for c, kind in enumerate(CLASSES):
        for _ in range(count_per_class):
            xs.append(make_signal(kind, rng)[0])
            ys.append(c)
    return torch.from_numpy(np.stack(xs)[:, None, :]), torch.tensor(ys)


class SignalNet(nn.Module):
    """[N, 1, 256] → 3 classes: three convolution blocks (the last at 1/4 resolution), global average pooling, a linear head."""

    def __init__(self):
        super().__init__()
        self.block1 = nn.Sequential(nn.Conv1d(1, 16, 7, padding=3), nn.BatchNorm1d(16), nn.ReLU())
        self.pool1 = nn.MaxPool1d(2)
        self.block2 = nn.Sequential(nn.Conv1d(16, 32, 5, padding=2), nn.BatchNorm1d(32), nn.ReLU())
        self.pool2 = nn.MaxPool1d(2)
        self.block3 = nn.Sequential(nn.Conv1d(32, 32, 3, padding=1), nn.BatchNorm1d(32), nn.ReLU())
        self.gap = nn.AdaptiveAvgPool1d(1)
        self.head = nn.Linear(32, len(CLASSES))

    def forward(self, x):
        x = self.block3(self.pool2(self.block2(self.pool1(self.block1(x)))))
        return self.head(torch.flatten(self.gap(x), 1))


def write_wav(path, x):
    samples = np.clip(np.round(x * 32768), -32768, 32767).astype("<i2")
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(samples.tobytes())


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    x_train, y_train = make_split(1500, seed=101)
    x_val, y_val = make_split(300, seed=102)
    model = SignalNet()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    for epoch in range(args.epochs):
        model.train()
        order = torch.randperm(len(x_train), generator=torch.Generator().manual_seed(epoch))
        for i in range(0, len(order), 64):
            idx = order[i:i + 64]
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model(x_train[idx]), y_train[idx])
            loss.backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            accuracy = (model(x_val).argmax(1) == y_val).float().mean().item()
        print(f"epoch {epoch + 1}: loss {loss.item():.4f}, validation accuracy {accuracy:.4f}")

    model.eval()
    path = os.path.join(HERE, "signal1d.onnx")
    torch.onnx.export(model, torch.zeros(1, 1, LENGTH), path, input_names=["input"], output_names=["logits"], opset_version=13,
                      do_constant_folding=True)
    with open(os.path.join(HERE, "signal1d.labels.txt"), "w") as f:
        f.write("\n".join(CLASSES) + "\n")

    # Example inputs (their own seed): one of each class, and a second chirp as WAV.
    out = os.path.join(HERE, "signals")
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(2024)
    events = {}
    for name, kind in [("noise-0", "noise"), ("tone-0", "tone"), ("chirp-0", "chirp"), ("chirp-1", "chirp")]:
        x, interval = make_signal(kind, rng)
        if name == "chirp-1":
            write_wav(os.path.join(out, f"{name}.wav"), x)
            file = f"{name}.wav"
            x = np.clip(np.round(x * 32768), -32768, 32767).astype(np.float32) / 32768  # what a reader gives
        else:
            np.save(os.path.join(out, f"{name}.npy"), x[None, None, :])
            file = f"{name}.npy"
        with torch.no_grad():
            logits = model(torch.from_numpy(x[None, None, :].copy()))[0]
        events[file] = {"class": kind, "interval": interval, "predicted": CLASSES[int(logits.argmax())]}
        print(file, events[file], logits.numpy().round(2))
    with open(os.path.join(out, "events.json"), "w") as f:
        json.dump({"length": LENGTH, "classes": CLASSES, "intervalEnd": "exclusive", "files": events}, f, indent=1)


if __name__ == "__main__":
    main()
