#!/usr/bin/env python3
"""Export a tiny 1-D CNN (audio / time series, [N,C,L]), a tiny 3-D CNN (video, [N,C,T,H,W]) and a
tiny torchvision Swin Transformer (channels-last [N,H,W,C] blocks with shifted windows).

They exercise Conv1d/BatchNorm1d/MaxPool1d/AdaptiveAvgPool1d and Conv3d/MaxPool3d/AdaptiveAvgPool3d
for the gradient engine and for the explanation methods beyond 2-D. Seeded, eval mode, BatchNorm kept
as its own op (TrainingMode.PRESERVE, as export_models.py) with random running statistics.

For each model <name> this writes, next to this file:
    <name>.onnx             input "input", output "logits"
    <name>.input.npy        the fixed seeded input (float32)
    <name>.logits.npy       PyTorch logits for that input (float32)
    <name>.grad_input.npy   d logits[0, target] / d input, PyTorch autograd in float64 (stored float32)
    <name>.json             {target, opset, ops (histogram), inputShape}
and signal1d.wav: the 1-D model's input as 16-bit stereo PCM written by Python's own `wave` module,
with signal1d.wav.npy the values a reader must give: int16 / 32768, [1, 2, 64] (as torchaudio.load).

swin_small_test.onnx: torchvision SwinTransformer(patch 4, embed_dim 16, depths [2], heads [2],
window 4, 5 classes) on [1, 3, 64, 64]: one stage of 16x16 tokens, its second block shifting the
windows. Its files: input, logits, grad_input (float64 autograd) as above, and at the last block's
norm1 (pytorch-grad-cam's Swin target layer, output [1, 16, 16, 16] channels-last)
target_activation and grad_target_activation (float64 autograd, stored float32), and
camraw_GradCAM: pytorch-grad-cam's get_cam_image after its swin reshape_transform (permute to
[N, C, H, W]; weights = mean of the gradients over H, W; weighted sum of channels), in float64.

swin_small_test.inner.json and swin_small_test.<layer>.camraw_GradCAM.npy: pytorch-grad-cam's
GradCAM at the first block's attention and MLP outputs and the second block's attention output
(see swin_inner_layers; `export_nd.py swin-inner` writes only these, from the committed model).

Usage:  /usr/bin/python3 test/models/export_nd.py [swin-inner]
"""

import collections
import json
import os
import wave

import numpy as np
import onnx
import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))


class Signal1d(nn.Module):
    """[1, 2, 64] -> 4 classes."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv1d(2, 8, 5, padding=2, bias=False), nn.BatchNorm1d(8), nn.ReLU(),
            nn.MaxPool1d(2),                                   # 32
            nn.Conv1d(8, 8, 3, padding=1), nn.ReLU(),          # 32
        )
        self.pool = nn.AdaptiveAvgPool1d(1)
        self.fc = nn.Linear(8, 4)

    def forward(self, x):
        return self.fc(torch.flatten(self.pool(self.features(x)), 1))


class Video3d(nn.Module):
    """[1, 1, 4, 8, 8] -> 3 classes."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv3d(1, 4, 3, padding=1), nn.ReLU(),
            nn.MaxPool3d(2),                                   # 2 x 4 x 4
            nn.Conv3d(4, 6, 3, padding=1), nn.ReLU(),
        )
        self.pool = nn.AdaptiveAvgPool3d(1)
        self.fc = nn.Linear(6, 3)

    def forward(self, x):
        return self.fc(torch.flatten(self.pool(self.features(x)), 1))


def randomize_batchnorm(model, gen):
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.running_mean.copy_(torch.randn(m.num_features, generator=gen) * 0.1)
            m.running_var.copy_(torch.rand(m.num_features, generator=gen) + 0.5)
            m.weight.data.copy_(torch.rand(m.num_features, generator=gen) + 0.5)
            m.bias.data.copy_(torch.randn(m.num_features, generator=gen) * 0.1)


def export(name, model_class, input_shape, seed):
    torch.manual_seed(seed)
    model = model_class().eval()
    gen = torch.Generator().manual_seed(seed + 100)
    with torch.no_grad():
        randomize_batchnorm(model, gen)
        # Spread the logits over a few units so gradients are not vanishingly small.
        model.fc.weight.mul_(4.0)
    x = torch.randn(*input_shape, generator=gen)
    path = os.path.join(HERE, f"{name}.onnx")
    torch.onnx.export(model, x, path, input_names=["input"], output_names=["logits"], opset_version=13,
                      training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=True)
    logits = model(x).detach()
    target = int(logits[0].argmax())
    # The float64 gradient: the exact derivative up to float32 storage.
    x64 = x.double().requires_grad_(True)
    model.double()(x64)[0, target].backward()
    np.save(os.path.join(HERE, f"{name}.input.npy"), x.numpy().astype(np.float32))
    np.save(os.path.join(HERE, f"{name}.logits.npy"), logits.numpy().astype(np.float32))
    np.save(os.path.join(HERE, f"{name}.grad_input.npy"), x64.grad.numpy().astype(np.float32))
    proto = onnx.load(path)
    ops = collections.Counter(n.op_type for n in proto.graph.node)
    info = {"model": f"{name}.onnx", "input": "input", "inputShape": list(input_shape), "output": "logits",
            "target": target, "opset": 13, "torch": torch.__version__, "ops": dict(sorted(ops.items()))}
    with open(os.path.join(HERE, f"{name}.json"), "w") as f:
        json.dump(info, f, indent=1)
    print(name, info["ops"], "target", target, "logits", logits.numpy().round(3))


def write_wav(name):
    """The model's input scaled into 16-bit range, interleaved by the standard library's writer."""
    x = np.load(os.path.join(HERE, f"{name}.input.npy"))[0]
    samples = np.clip(np.round(x / np.abs(x).max() * 30000), -32768, 32767).astype("<i2")
    with wave.open(os.path.join(HERE, f"{name}.wav"), "wb") as w:
        w.setnchannels(samples.shape[0])
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(np.ascontiguousarray(samples.T).tobytes())
    np.save(os.path.join(HERE, f"{name}.wav.npy"), (samples.astype(np.float32) / 32768)[None])


def export_swin(name, seed):
    from torchvision.models.swin_transformer import SwinTransformer

    torch.manual_seed(seed)
    model = SwinTransformer(patch_size=[4, 4], embed_dim=16, depths=[2], num_heads=[2], window_size=[4, 4],
                            num_classes=5).eval()
    with torch.no_grad():
        # The head starts near zero (trunc_normal std 0.02): spread the logits over a few units.
        model.head.weight.mul_(50.0)
    x = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(seed + 100))
    path = os.path.join(HERE, f"{name}.onnx")
    torch.onnx.export(model, x, path, input_names=["input"], output_names=["logits"], opset_version=13,
                      do_constant_folding=True)
    logits = model(x).detach()
    target = int(logits[0].argmax())
    model.double()
    captured = {}

    def keep(module, inputs, output):
        output.retain_grad()
        captured["a"] = output

    model.features[-1][-1].norm1.register_forward_hook(keep)
    x64 = x.double().requires_grad_(True)
    model(x64)[0, target].backward()
    a = captured["a"].detach().numpy()
    g = captured["a"].grad.numpy()
    a_nchw, g_nchw = a.transpose(0, 3, 1, 2), g.transpose(0, 3, 1, 2)
    cam = (g_nchw.mean(axis=(2, 3))[:, :, None, None] * a_nchw).sum(axis=1)
    proto = onnx.load(path)
    scope = f"/features/features.{len(model.features) - 1}/features.{len(model.features) - 1}.1/norm1/"
    layer = [n.output[0] for n in proto.graph.node if n.name.startswith(scope)][-1]
    for what, value in [("input", x.numpy()), ("logits", logits.numpy()), ("grad_input", x64.grad.numpy()),
                        ("target_activation", a), ("grad_target_activation", g), ("camraw_GradCAM", cam)]:
        np.save(os.path.join(HERE, f"{name}.{what}.npy"), value.astype(np.float32))
    ops = collections.Counter(n.op_type for n in proto.graph.node)
    info = {"model": f"{name}.onnx", "input": "input", "inputShape": [1, 3, 64, 64], "output": "logits",
            "target": target, "targetLayer": layer, "targetLayerShape": list(a.shape), "opset": 13,
            "torch": torch.__version__, "ops": dict(sorted(ops.items()))}
    with open(os.path.join(HERE, f"{name}.json"), "w") as f:
        json.dump(info, f, indent=1)
    print(name, "target", target, "layer", layer, list(a.shape), "logits", logits.numpy().round(3))


def swin_inner_layers(name, seed):
    """References at Swin layers whose layout only the residual sum tells (their own ops say nothing).

    The model of export_swin rebuilt (same seed; checked against the committed input and logits, the
    ONNX file is not rewritten), and pytorch-grad-cam's GradCAM (../shared/peers, float64, its swin
    reshape_transform) at the attention and MLP outputs of the first block and the attention output
    of the second (shifted windows), each [1, 16, 16, 16] channels-last, whose square shape fits the
    input read either way. Written: <name>.inner.json (layer -> ONNX tensor) and
    <name>.<layer>.camraw_GradCAM.npy, [1, 16, 16].
    """
    import sys

    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(HERE)), "..", "shared", "peers"))
    sys.path.append("/work/shared/peers")
    from pytorch_grad_cam import GradCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget
    from torchvision.models.swin_transformer import SwinTransformer

    torch.manual_seed(seed)
    model = SwinTransformer(patch_size=[4, 4], embed_dim=16, depths=[2], num_heads=[2], window_size=[4, 4],
                            num_classes=5).eval()
    with torch.no_grad():
        model.head.weight.mul_(50.0)
    x = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(seed + 100))
    assert np.array_equal(x.numpy(), np.load(os.path.join(HERE, f"{name}.input.npy")))
    assert np.allclose(model(x).detach().numpy(), np.load(os.path.join(HERE, f"{name}.logits.npy")), atol=1e-5)
    info = json.load(open(os.path.join(HERE, f"{name}.json")))
    proto = onnx.load(os.path.join(HERE, f"{name}.onnx"))
    model.double()
    layers = {}
    for key, block, part in [("block0_attn", 0, "attn"), ("block0_mlp", 0, "mlp"), ("block1_attn", 1, "attn")]:
        scope = f"/features/features.1/features.1.{block}/{part}/"
        layers[key] = [n.output[0] for n in proto.graph.node if n.name.startswith(scope)][-1]
        module = getattr(model.features[1][block], part)
        cam = GradCAM(model=model, target_layers=[module], reshape_transform=lambda t: t.permute(0, 3, 1, 2))
        target = [ClassifierOutputTarget(info["target"])]
        cam(input_tensor=x.double(), targets=target)
        acts = cam.activations_and_grads.activations[0].numpy()
        grads = cam.activations_and_grads.gradients[0].numpy()
        raw = cam.get_cam_image(x.double(), module, target, acts, grads, False)
        np.save(os.path.join(HERE, f"{name}.{key}.camraw_GradCAM.npy"), raw.astype(np.float32))
        print(name, key, layers[key], raw.shape)
    with open(os.path.join(HERE, f"{name}.inner.json"), "w") as f:
        json.dump({"target": info["target"], "layers": layers}, f, indent=1)


def main():
    import sys

    if sys.argv[1:] == ["swin-inner"]:
        swin_inner_layers("swin_small_test", seed=13)
        return
    export("signal1d", Signal1d, (1, 2, 64), seed=11)
    write_wav("signal1d")
    export("video3d", Video3d, (1, 1, 4, 8, 8), seed=12)
    export_swin("swin_small_test", seed=13)


if __name__ == "__main__":
    main()
