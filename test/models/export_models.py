#!/usr/bin/env python3
"""Export small random-weight ONNX models that exercise ops for the gradient engine.

The reference models (resnet18, mobilenet_v2, squeezenet; opset 13, constant
folded) do not contain these ops, so these models fill the gap.  Every model is
seeded, tiny (< 1.5 MB) and exported in eval mode (BatchNorm uses running
statistics, Dropout is identity).

For each model <name> this writes, next to this file:
    <name>.onnx             the model: input "input" [1,3,32,32], output "logits"
    <name>.input.npy        the fixed seeded input (float32)
    <name>.logits.npy       PyTorch logits for that input (float32)
    <name>.grad_input.npy   d logits[0, target] / d input from PyTorch autograd (float32)
    <name>.json             {target, opset, ops (histogram), ...}

Usage:  /usr/bin/python3 test/models/export_models.py
"""

import collections
import json
import os

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
INPUT_SHAPE = (1, 3, 32, 32)
NUM_CLASSES = 10


# --------------------------------------------------------------------------
# 1. bn_unfused: BatchNormalization kept, pooling variants, Pad, Flatten, Gemm
# --------------------------------------------------------------------------

class ConvBNReLU(nn.Module):
    def __init__(self, cin, cout, padding=1):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, padding=padding, bias=False)
        self.bn = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU()

    def forward(self, x):
        return self.relu(self.bn(self.conv(x)))


class BnUnfused(nn.Module):
    def __init__(self):
        super().__init__()
        self.block1 = ConvBNReLU(3, 8)                                              # 32x32
        self.pad1 = nn.ZeroPad2d((1, 2, 1, 2))                                      # 35x35 (asymmetric)
        self.block2 = ConvBNReLU(8, 8, padding=0)                                   # 33x33
        self.maxpool1 = nn.MaxPool2d(3, stride=2, padding=1)                        # 17x17, overlapping
        self.avgpool1 = nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=True)   # 9x9
        self.block3 = ConvBNReLU(8, 16)                                             # 9x9
        self.maxpool2 = nn.MaxPool2d(2, stride=2, ceil_mode=True)                   # 5x5
        self.avgpool2 = nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False)  # 4x4 after pad
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(16 * 4 * 4, NUM_CLASSES)

    def forward(self, x):
        x = self.block1(x)
        x = self.pad1(x)
        x = self.block2(x)
        x = self.maxpool1(x)
        x = self.avgpool1(x)
        x = self.block3(x)
        x = self.maxpool2(x)
        x = F.pad(x, (1, 1, 1, 1), mode="constant", value=0.25)                  # 7x7
        x = self.avgpool2(x)
        x = self.flatten(x)
        return self.fc(x)


# --------------------------------------------------------------------------
# 2. effnet_like: depthwise conv, SiLU, squeeze-excitation, hard activations
# --------------------------------------------------------------------------

class SqueezeExcite(nn.Module):
    def __init__(self, channels, reduced):
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)                 # GlobalAveragePool
        self.reduce = nn.Conv2d(channels, reduced, 1)
        self.expand = nn.Conv2d(reduced, channels, 1)

    def forward(self, x):
        s = self.pool(x)
        s = self.reduce(s)
        s = s * torch.sigmoid(s)                            # SiLU as Sigmoid, Mul
        s = self.expand(s)
        return x * torch.sigmoid(s)                         # broadcasting Mul


class MBBlock(nn.Module):
    """Inverted residual: expand 1x1, depthwise 3x3, SE, project 1x1, residual Add."""

    def __init__(self, channels, expand, act):
        super().__init__()
        hidden = channels * expand
        self.expand = nn.Conv2d(channels, hidden, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(hidden)
        self.act1 = act()
        self.depthwise = nn.Conv2d(hidden, hidden, 3, padding=1, groups=hidden, bias=False)
        self.bn2 = nn.BatchNorm2d(hidden)
        self.act2 = act()
        self.se = SqueezeExcite(hidden, max(2, hidden // 4))
        self.project = nn.Conv2d(hidden, channels, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(channels)

    def forward(self, x):
        y = self.act1(self.bn1(self.expand(x)))
        y = self.act2(self.bn2(self.depthwise(y)))
        y = self.se(y)
        y = self.bn3(self.project(y))
        return x + y                                        # residual Add


class SiLUMul(nn.Module):
    def forward(self, x):
        return x * torch.sigmoid(x)


class EffnetLike(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, stride=2, padding=1, bias=False)          # 16x16
        self.stem_bn = nn.BatchNorm2d(8)
        self.stem_act = nn.ReLU6()                                                 # Clip(0, 6)
        self.block1 = MBBlock(8, 3, SiLUMul)
        self.down = nn.Conv2d(8, 16, 3, stride=2, padding=1, groups=8, bias=False)  # grouped, 8x8
        self.down_bn = nn.BatchNorm2d(16)
        self.down_act = nn.Hardswish()
        self.block2 = MBBlock(16, 2, nn.Hardswish)
        self.gate = nn.Hardsigmoid()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.dropout = nn.Dropout(0.2)
        self.fc = nn.Linear(16, NUM_CLASSES)

    def forward(self, x):
        x = self.stem_act(self.stem_bn(self.stem(x)))
        x = self.block1(x)
        x = self.down_act(self.down_bn(self.down(x)))
        x = self.block2(x)
        x = x * self.gate(x)
        x = self.flatten(self.pool(x))
        x = self.dropout(x)
        return self.fc(x)


# --------------------------------------------------------------------------
# 3. densenet_like: Concat-heavy dense blocks, transitions, misc activations
# --------------------------------------------------------------------------

class DenseLayer(nn.Module):
    def __init__(self, cin, growth):
        super().__init__()
        self.norm1 = nn.BatchNorm2d(cin)
        self.relu1 = nn.ReLU()
        self.conv1 = nn.Conv2d(cin, 2 * growth, 1, bias=False)
        self.norm2 = nn.BatchNorm2d(2 * growth)
        self.relu2 = nn.ReLU()
        self.conv2 = nn.Conv2d(2 * growth, growth, 3, padding=1, bias=False)

    def forward(self, features):
        x = torch.cat(features, 1)                          # Concat of all previous features
        x = self.conv1(self.relu1(self.norm1(x)))
        return self.conv2(self.relu2(self.norm2(x)))


class DenseBlock(nn.Module):
    def __init__(self, layers, cin, growth):
        super().__init__()
        self.layers = nn.ModuleList(DenseLayer(cin + i * growth, growth) for i in range(layers))

    def forward(self, x):
        features = [x]
        for layer in self.layers:
            features.append(layer(features))
        return torch.cat(features, 1)


class Transition(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.norm = nn.BatchNorm2d(cin)
        self.relu = nn.ReLU()
        self.conv = nn.Conv2d(cin, cout, 1, bias=False)
        self.pool = nn.AvgPool2d(2, stride=2)

    def forward(self, x):
        return self.pool(self.conv(self.relu(self.norm(x))))


class DensenetLike(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv0 = nn.Conv2d(3, 8, 3, padding=1, bias=False)                 # 32x32
        self.norm0 = nn.BatchNorm2d(8)
        self.act0 = nn.LeakyReLU(0.1)
        self.pool0 = nn.MaxPool2d(2)                                             # 16x16
        self.dense1 = DenseBlock(3, 8, 4)                                        # 8 + 3*4 = 20 ch
        self.trans1 = Transition(20, 10)                                         # 8x8
        self.act1 = nn.PReLU(10)
        self.dense2 = DenseBlock(2, 10, 4)                                       # 18 ch
        self.norm5 = nn.BatchNorm2d(18)
        self.act2 = nn.ELU()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(18, NUM_CLASSES)

    def forward(self, x):
        x = self.pool0(self.act0(self.norm0(self.conv0(x))))
        x = self.dense1(x)
        x = self.act1(self.trans1(x))
        x = self.dense2(x)
        x = self.act2(self.norm5(x))
        x = torch.flatten(self.pool(x), 1)
        return torch.tanh(self.fc(x)) * 4.0


# --------------------------------------------------------------------------
# 4. misc_ops: ConvTranspose, Resize, norms, GELU, softmax, elementwise, shapes, reductions
# --------------------------------------------------------------------------

class MiscOps(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv_in = nn.Conv2d(3, 8, 3, stride=2, padding=1)                    # 16x16
        self.inorm = nn.InstanceNorm2d(8, affine=True)
        self.up_nearest = nn.Upsample(scale_factor=2, mode="nearest")             # 32x32
        self.conv_mid = nn.Conv2d(8, 8, 3, stride=2, padding=1)                   # 16x16
        self.deconv = nn.ConvTranspose2d(8, 8, 4, stride=2, padding=1)            # 32x32
        self.conv_down = nn.Conv2d(4, 8, 4, stride=2, padding=1)                  # 30 -> 15
        self.up_bilinear = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False)  # 30x30
        self.query = nn.Parameter(torch.randn(4, 8) * 0.5)
        self.norm = nn.LayerNorm(8 + 8 + 8 + 4)
        self.fc = nn.Linear(28, NUM_CLASSES)

    def forward(self, x):
        h = torch.relu(self.inorm(self.conv_in(x)))                 # InstanceNormalization, Relu
        h = self.up_nearest(h)                                      # Resize (nearest)
        h = self.conv_mid(h)
        h = self.deconv(h)                                          # ConvTranspose
        h = h[:, :, 1:-1, 1:-1]                                     # Slice -> 30x30
        a, b = torch.split(h, [4, 4], dim=1)                        # Split (torch.chunk exports Shape/Slice)
        d = a + torch.neg(b)                                        # Neg, Add
        z = torch.sqrt(torch.pow(a, 2) + 1.0)                       # Pow, Add, Sqrt
        h = (d - 0.5 * b) / z                                       # Sub, Div
        h = self.conv_down(h)                                       # 15x15
        h = self.up_bilinear(h)                                     # Resize (linear) -> 30x30
        tokens = h.reshape(1, 8, 900)                               # Reshape
        attn = torch.softmax(self.query @ tokens, dim=-1)           # MatMul, Softmax over positions: [1,4,900]
        pooled = torch.matmul(attn, tokens.transpose(1, 2))         # Transpose, MatMul: [1,4,8]
        f1 = pooled.mean(dim=1)                                     # ReduceMean: [1,8]
        f2 = torch.amax(h, dim=(2, 3))                              # ReduceMax: [1,8]
        f3 = torch.sum(h, dim=(2, 3), keepdim=True).squeeze(3).squeeze(2) / 900.0  # ReduceSum, Squeeze
        f4 = torch.log_softmax(pooled.sum(dim=2), dim=1)            # ReduceSum, LogSoftmax: [1,4]
        f = torch.cat([f1, f2, f3, f4], dim=1).unsqueeze(1)         # Concat, Unsqueeze: [1,1,28]
        f = self.norm(f)                                            # LayerNorm (decomposed at opset 13)
        f = F.gelu(f)                                               # exact GELU (Erf)
        return self.fc(f.squeeze(1))


# --------------------------------------------------------------------------
# Export + ground truth
# --------------------------------------------------------------------------

def randomize_bn(model, generator):
    """Give BatchNorm layers non-trivial running stats and affine params."""
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            c = m.num_features
            m.running_mean.copy_(torch.randn(c, generator=generator) * 0.2)
            m.running_var.copy_(torch.rand(c, generator=generator) * 0.8 + 0.4)
            m.weight.data.copy_(torch.rand(c, generator=generator) * 0.8 + 0.6)
            m.bias.data.copy_(torch.randn(c, generator=generator) * 0.2)
        if isinstance(m, (nn.InstanceNorm2d, nn.LayerNorm)) and m.weight is not None:
            m.weight.data.copy_(torch.rand(m.weight.shape, generator=generator) * 0.8 + 0.6)
            m.bias.data.copy_(torch.randn(m.bias.shape, generator=generator) * 0.2)
        if isinstance(m, nn.PReLU):
            m.weight.data.copy_(torch.rand(m.weight.shape, generator=generator) * 0.4)


def op_histogram(model_proto):
    return dict(sorted(collections.Counter(n.op_type for n in model_proto.graph.node).items()))


def insert_dropout_before(model_proto, op_type):
    """Insert an inference-mode ONNX Dropout node feeding the first `op_type` node.

    torch.onnx drops nn.Dropout entirely in eval mode, so the node is added by hand
    (an exported model from other tools may contain it; it must act as identity).
    """
    graph = model_proto.graph
    for i, node in enumerate(graph.node):
        if node.op_type == op_type:
            src = node.input[0]
            dst = src + "_dropout"
            drop = onnx.helper.make_node("Dropout", [src], [dst], name="/dropout/Dropout")
            node.input[0] = dst
            graph.node.insert(i, drop)
            return
    raise RuntimeError(f"no {op_type} node")


def fold_constant_subgraphs(model_proto):
    """Replace constant-only subgraphs (e.g. the pads computation torch emits for
    nn.ZeroPad2d / F.pad: ConstantOfShape, Concat, Reshape, Slice, Transpose, Cast)
    by a single initializer, as onnx-simplifier / onnxruntime would.

    torch's own constant folding leaves these in place.  Constant nodes that feed
    a live op directly are kept as they are (that is what torch exports too).
    Returns the number of nodes removed.
    """
    from onnx import numpy_helper

    graph = model_proto.graph
    values = {init.name: numpy_helper.to_array(init) for init in graph.initializer}
    constant_nodes = {}
    for node in graph.node:
        if node.op_type == "Constant":
            values[node.output[0]] = numpy_helper.to_array(node.attribute[0].t)
            constant_nodes[node.output[0]] = node

    def attr(node, name, default=None):
        for a in node.attribute:
            if a.name == name:
                return onnx.helper.get_attribute_value(a)
        return default

    def evaluate(node, ins):
        op = node.op_type
        if op == "ConstantOfShape":
            t = attr(node, "value")
            fill = numpy_helper.to_array(t) if t is not None else np.zeros(1, np.float32)
            return np.full(tuple(ins[0].astype(np.int64)), fill.reshape(-1)[0], dtype=fill.dtype)
        if op == "Concat":
            return np.concatenate(ins, axis=attr(node, "axis"))
        if op == "Reshape":
            return ins[0].reshape(tuple(ins[1].astype(np.int64)))
        if op == "Transpose":
            return np.transpose(ins[0], attr(node, "perm"))
        if op == "Cast":
            return ins[0].astype(onnx.mapping.TENSOR_TYPE_TO_NP_TYPE[attr(node, "to")])
        if op == "Slice":
            data, starts, ends = ins[0], ins[1], ins[2]
            axes = ins[3] if len(ins) > 3 else np.arange(len(starts))
            steps = ins[4] if len(ins) > 4 else np.ones(len(starts), np.int64)
            index = [slice(None)] * data.ndim
            for s, e, a, st in zip(starts, ends, axes, steps):
                e = None if (st < 0 and e < -data.shape[a]) else int(max(min(e, 2**62), -2**62))
                index[int(a)] = slice(int(s), e, int(st))
            return data[tuple(index)]
        return None

    keep, before = [], len(graph.node)
    for node in graph.node:
        inputs = [i for i in node.input if i]
        if node.op_type != "Constant" and inputs and all(i in values for i in inputs):
            out = evaluate(node, [values[i] for i in node.input if i])
            if out is not None:
                values[node.output[0]] = out
                graph.initializer.append(numpy_helper.from_array(np.asarray(out), node.output[0]))
                continue
        keep.append(node)
    # Drop Constant nodes and initializers that nothing uses any more.
    used = {i for n in keep for i in n.input} | {o.name for o in graph.output}
    keep = [n for n in keep if n.op_type != "Constant" or n.output[0] in used]
    del graph.node[:]
    graph.node.extend(keep)
    live = [init for init in graph.initializer if init.name in used]
    del graph.initializer[:]
    graph.initializer.extend(live)
    return before - len(keep)


def export(name, model, opset, seed, extra_note=None, post=None):
    path = os.path.join(HERE, f"{name}.onnx")
    model.eval()
    g = torch.Generator().manual_seed(seed + 1000)
    x = torch.randn(INPUT_SHAPE, generator=g)

    # Random init gives tiny logits (|logit| ~ 0.1); rescale the final Linear so the
    # logits spread over a few units and gradients are not vanishingly small.
    with torch.no_grad():
        spread = float(model(x).std())
        model.fc.weight.mul_(2.0 / spread)
        model.fc.bias.mul_(2.0 / spread)

    # Ground truth from PyTorch autograd.
    xg = x.clone().requires_grad_(True)
    logits = model(xg)
    target = int(logits[0].argmax())
    logits[0, target].backward()
    grad = xg.grad.detach().numpy().astype(np.float32)

    # PRESERVE keeps the model's (eval) mode but skips the eval-only peephole pass
    # that folds BatchNormalization into the preceding Conv.
    torch.onnx.export(
        model, x, path,
        input_names=["input"],
        output_names=["logits"],
        opset_version=opset,
        training=torch.onnx.TrainingMode.PRESERVE,
        do_constant_folding=True,
    )
    proto = onnx.load(path)
    folded = fold_constant_subgraphs(proto)
    if post is not None:
        post(proto)
    onnx.save(proto, path)
    onnx.checker.check_model(proto)
    hist = op_histogram(proto)

    for node in proto.graph.node:
        if node.op_type == "BatchNormalization":
            for attr in node.attribute:
                assert not (attr.name == "training_mode" and attr.i != 0), "BN exported in training mode"
            assert len(node.output) == 1, "BN exported with training outputs"

    np.save(os.path.join(HERE, f"{name}.input.npy"), x.numpy().astype(np.float32))
    np.save(os.path.join(HERE, f"{name}.logits.npy"), logits.detach().numpy().astype(np.float32))
    np.save(os.path.join(HERE, f"{name}.grad_input.npy"), grad)
    meta = {
        "model": f"{name}.onnx",
        "input": "input",
        "inputShape": list(INPUT_SHAPE),
        "output": "logits",
        "target": target,
        "opset": proto.opset_import[0].version,
        "torch": torch.__version__,
        "ops": hist,
    }
    if folded:
        meta["foldedConstantNodes"] = folded
    if extra_note:
        meta["note"] = extra_note
    with open(os.path.join(HERE, f"{name}.json"), "w") as f:
        json.dump(meta, f, indent=1)
        f.write("\n")
    size = os.path.getsize(path)
    print(f"{name}.onnx  opset {meta['opset']}  {size} bytes  target {target}")
    print("   " + ", ".join(f"{k}:{v}" for k, v in hist.items()))
    return proto


def build(cls, seed):
    torch.manual_seed(seed)
    model = cls()
    randomize_bn(model, torch.Generator().manual_seed(seed + 1))
    return model.eval()


def main():
    torch.set_num_threads(1)
    export("bn_unfused", build(BnUnfused, 1), 13, seed=1)
    export("effnet_like", build(EffnetLike, 2), 13, seed=2,
           extra_note="Dropout node inserted by hand before the final Gemm (torch drops it in eval export)",
           post=lambda p: insert_dropout_before(p, "Gemm"))
    export("densenet_like", build(DensenetLike, 3), 13, seed=3)
    export("misc_ops", build(MiscOps, 4), 13, seed=4)
    # Highest opset this torch exports: LayerNormalization becomes a single op (opset 17).
    max_opset = max(v for v in range(13, 19) if v <= torch.onnx._constants.ONNX_MAX_OPSET)
    try:
        export(f"misc_ops_opset{max_opset}", build(MiscOps, 4), max_opset, seed=4)
    except Exception as e:  # pragma: no cover - depends on the torch version
        print(f"misc_ops at opset {max_opset} failed: {e}")
    # At opset >= 14 Hardswish is a single HardSwish op (at 13 it is HardSigmoid * x).
    try:
        export(f"effnet_like_opset{max_opset}", build(EffnetLike, 2), max_opset, seed=2,
               extra_note="Dropout node inserted by hand before the final Gemm (torch drops it in eval export)",
               post=lambda p: insert_dropout_before(p, "Gemm"))
    except Exception as e:  # pragma: no cover
        print(f"effnet_like at opset {max_opset} failed: {e}")


if __name__ == "__main__":
    main()
