"""Check ConvLens on segmentation models and transformers other than the reference cases (issue #13).

For each model: build it with seeded random weights (torchvision, no downloads; BatchNorm statistics
estimated on smooth random images so units are neither dead nor saturated; LayerNorm models need
none), export it to ONNX (opset 13 unless said), compute references with PyTorch, pytorch-grad-cam
and Captum (from ../shared/peers) into a temporary folder, run the `convlens` CLI on the same input
(.npy, so no preprocessing differs) with the same target, and compare. The CLI is given only the
ONNX tensor of pytorch-grad-cam's target layer: it must find a token or channels-last layout itself
(pytorch-grad-cam is given the reshape_transform a user would write).

Comparisons (the reference README's tolerances, ../shared/reference/README.md):
  grad_layer   `convlens gradient --wrt LAYER` vs PyTorch autograd at the layer's output   1e-3 x max|ref|
  grad_input   `convlens explain --method saliency --raw` vs PyTorch autograd (= Captum Saliency, abs=False):
               1e-3 x max|ref|, or the README's float32 rule for kinked networks: distance from the
               float64 gradient at most twice PyTorch float32's own, by max and by l2
  IG           integrated-gradients, 8 steps, riemann_trapezoid, baseline 0, vs Captum; same two rules
               (the float64 reference is Captum on the float64 model)
  camraw_X     our raw CAM (--raw) vs pytorch-grad-cam's get_cam_image                        1e-3 x max|ref|
  cam_X        our final map vs pytorch-grad-cam's (ReLU, min-max, cv2 bilinear)            0.02 absolute
  mask         (segmentation) the predicted mask of region:predicted,K vs PyTorch's argmax: equal
               weight (pixel count), and the saliency of region:predicted,K equals that of
               region:MASK.png,K with PyTorch's mask written as a PNG.
Targets: segmentation: pytorch-grad-cam's SemanticSegmentationTarget(K, mask), K the most frequent
non-background class of the argmax, mask its pixels, given to the CLI as region:MASK.png,K;
classifiers: ClassifierOutputTarget(top-1), given as class:K.

Usage:  PYTHONPATH=../shared/peers /usr/bin/python3 test/models/check_other_models.py [NAME ...] [--keep DIR]
        (run in the repository root after `node esbuild.mjs`; NAME picks models, default all but the
        big ResNet-50 ones, which `--big` adds). Exit status 1 if any row fails.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import cv2
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
PEERS = os.path.join(os.path.dirname(ROOT), "shared", "peers")
if os.path.isdir(PEERS) and PEERS not in sys.path:
    sys.path.insert(0, PEERS)
for candidate in ["/work/shared/peers"]:
    if os.path.isdir(candidate) and candidate not in sys.path:
        sys.path.append(candidate)

from captum.attr import IntegratedGradients  # noqa: E402
from pytorch_grad_cam import GradCAM, LayerCAM  # noqa: E402
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget, SemanticSegmentationTarget  # noqa: E402

torch.set_num_threads(2)
MEAN = np.array([0.485, 0.456, 0.406], np.float32)
STD = np.array([0.229, 0.224, 0.225], np.float32)
IG_STEPS = 8
CAMS = [("GradCAM", GradCAM, "gradcam"), ("LayerCAM", LayerCAM, "layercam")]


# ---------------------------------------------------------------------------------------------
# Inputs and calibration


def smooth_image(gen, h, w):
    """A smooth random RGB picture in [0, 1] with a few solid shapes: something for every unit to see."""
    low = torch.rand(1, 3, 6, 6, generator=gen)
    img = F.interpolate(low, size=(h, w), mode="bicubic", align_corners=False)[0].permute(1, 2, 0).numpy()
    img = img.copy()
    for _ in range(3):
        cy, cx = [int(v) for v in torch.randint(0, min(h, w), (2,), generator=gen)]
        r = int(torch.randint(max(4, min(h, w) // 10), max(5, min(h, w) // 4), (1,), generator=gen))
        color = torch.rand(3, generator=gen).numpy()
        yy, xx = np.mgrid[0:h, 0:w]
        img[(yy - cy) ** 2 + (xx - cx) ** 2 <= r * r] = color
    return np.clip(img, 0, 1).astype(np.float32)


def normalised(img):
    return torch.from_numpy(((img - MEAN) / STD).transpose(2, 0, 1)[None].copy())


def calibrate(model, gen, h, w, batches=4, batch=6):
    """BatchNorm running statistics estimated on smooth random images (as the reference README's real ones)."""
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not bns:
        return model.eval()
    for m in bns:
        m.reset_running_stats()
        m.momentum = None
    model.eval()
    for m in bns:
        m.train()
    with torch.no_grad():
        for _ in range(batches):
            model(torch.cat([normalised(smooth_image(gen, h, w)) for _ in range(batch)]))
    return model.eval()


# ---------------------------------------------------------------------------------------------
# Models


class OutOnly(nn.Module):
    """A torchvision segmentation model with its dict output as tensors: 'out' (and 'aux' where it has one)."""

    def __init__(self, net, aux=False):
        super().__init__()
        self.net = net
        self.aux = aux

    def forward(self, x):
        r = self.net(x)
        return (r["out"], r["aux"]) if self.aux else r["out"]


class UNet(nn.Module):
    """A small U-Net: two down steps, ConvTranspose up-sampling, skip Concat, 5 classes."""

    def __init__(self, classes=5):
        super().__init__()

        def block(i, o):
            return nn.Sequential(nn.Conv2d(i, o, 3, padding=1, bias=False), nn.BatchNorm2d(o), nn.ReLU(inplace=True),
                                 nn.Conv2d(o, o, 3, padding=1, bias=False), nn.BatchNorm2d(o), nn.ReLU(inplace=True))

        self.enc1, self.enc2, self.mid = block(3, 8), block(8, 16), block(16, 32)
        self.pool = nn.MaxPool2d(2)
        self.up2, self.dec2 = nn.ConvTranspose2d(32, 16, 2, stride=2), block(32, 16)
        self.up1, self.dec1 = nn.ConvTranspose2d(16, 8, 2, stride=2), block(16, 8)
        self.head = nn.Conv2d(8, classes, 1)

    def forward(self, x):
        e1 = self.enc1(x)
        e2 = self.enc2(self.pool(e1))
        m = self.mid(self.pool(e2))
        d2 = self.dec2(torch.cat([self.up2(m), e2], 1))
        d1 = self.dec1(torch.cat([self.up1(d2), e1], 1))
        return self.head(d1)


class MeanPoolViT(nn.Module):
    """A ViT without class token: patch tokens [N, h*w, D] through torchvision's Encoder, mean-pooled."""

    def __init__(self, image=(96, 128), patch=16, dim=64, layers=2, heads=2, classes=10, prefix=0):
        super().__init__()
        # prefix > 0: that many learned tokens before the patches (DeiT: class and distillation),
        # and the head reads token 0 instead of the mean.
        self.prefix = nn.Parameter(torch.randn(1, prefix, dim) * 0.5) if prefix else None
        from torchvision.models.vision_transformer import Encoder

        self.patch = patch
        self.conv_proj = nn.Conv2d(3, dim, patch, stride=patch)
        tokens = (image[0] // patch) * (image[1] // patch)
        self.encoder = Encoder(tokens + prefix, layers, heads, dim, 2 * dim, 0.0, 0.0)
        self.head = nn.Linear(dim, classes)

    def forward(self, x):
        t = self.conv_proj(x).flatten(2).transpose(1, 2)
        if self.prefix is None:
            return self.head(self.encoder(t).mean(1))
        t = torch.cat([self.prefix.expand(t.size(0), -1, -1), t], 1)
        return self.head(self.encoder(t)[:, 0])


def redraw_linear(m):
    """torchvision starts some heads at zero or near it: redraw with nn.Linear's default init."""
    m.reset_parameters()


def tv():
    import torchvision.models as M
    import torchvision.models.segmentation as S
    return M, S


def build(name):
    """(model, (H, W), task, target module, reshape kind) for each case; NAME_opsetN: the same, exported at opset N."""
    M, S = tv()
    if "_opset" in name:
        return build(name[: name.index("_opset")])
    if name == "deeplabv3_mobilenet_v3_large":
        net = S.deeplabv3_mobilenet_v3_large(weights=None, weights_backbone=None, num_classes=21, aux_loss=False)
        return OutOnly(net), (128, 128), "segmentation", "net.backbone.16", None
    if name == "deeplabv3_resnet50":
        net = S.deeplabv3_resnet50(weights=None, weights_backbone=None, num_classes=21, aux_loss=True)
        return OutOnly(net, aux=True), (96, 96), "segmentation", "net.backbone.layer4", None
    if name == "fcn_resnet50":
        net = S.fcn_resnet50(weights=None, weights_backbone=None, num_classes=21, aux_loss=False)
        return OutOnly(net), (96, 96), "segmentation", "net.backbone.layer4", None
    if name == "lraspp_mobilenet_v3_large_nonsquare":
        net = S.lraspp_mobilenet_v3_large(weights=None, weights_backbone=None, num_classes=21)
        return OutOnly(net), (96, 160), "segmentation", "net.backbone.16", None
    if name == "unet":
        return UNet(), (96, 96), "segmentation", "dec2", None
    if name == "swin_t":
        net = M.swin_t(weights=None)
        redraw_linear(net.head)
        return net, (128, 128), "classification", "features.7.1.norm1", "nhwc"
    if name == "vit_p8_96":
        from torchvision.models.vision_transformer import VisionTransformer
        net = VisionTransformer(image_size=96, patch_size=8, num_layers=2, num_heads=2, hidden_dim=64, mlp_dim=128,
                                num_classes=10)
        redraw_linear(net.heads.head)
        return net, (96, 96), "classification", "encoder.layers.encoder_layer_1.ln_1", "cls"
    if name == "vit_meanpool_96x128":
        return MeanPoolViT(), (96, 128), "classification", "encoder.layers.encoder_layer_1.ln_1", "tokens"
    if name == "deit_like_2tokens_64x128":
        return (MeanPoolViT(image=(64, 128), patch=8, prefix=2), (64, 128), "classification",
                "encoder.layers.encoder_layer_1.ln_1", "prefix2")
    if name == "swin_small_64x96":
        from torchvision.models.swin_transformer import SwinTransformer
        net = SwinTransformer(patch_size=[4, 4], embed_dim=24, depths=[2, 2], num_heads=[2, 4], window_size=[4, 4],
                              num_classes=10)
        redraw_linear(net.head)
        return net, (64, 96), "classification", "features.3.1.norm1", "nhwc"
    if name in ("swin_small_64x96_attn", "swin_small_64x96_mlp"):
        # [1, 16, 24, 24]: read channels-first, [24, 24] fits the 64×96 input too; only the graph tells.
        net, size, task, _, _ = build("swin_small_64x96")
        return net, size, task, f"features.1.0.{name.rsplit('_', 1)[1]}", "nhwc"
    if name == "convnext_tiny":
        net = M.convnext_tiny(weights=None)
        for m in net.modules():
            if hasattr(m, "layer_scale"):
                m.layer_scale.data.fill_(0.3)  # 1e-6 at init: the residual branches would carry nothing
        redraw_linear(net.classifier[2])
        return net, (128, 128), "classification", "features.7", None
    if name == "convnext_tiny_nhwc":
        net, size, task, _, _ = build("convnext_tiny")
        # Inside the last block, after its Permute: LayerNorm over the last axis, output [N, h, w, C].
        return net, size, task, "features.7.2.block.2", "nhwc"
    if name == "efficientnet_b0":
        return M.efficientnet_b0(weights=None), (128, 128), "classification", "features.8", None
    if name == "regnet_y_400mf":
        return M.regnet_y_400mf(weights=None), (128, 128), "classification", "trunk_output", None
    if name == "mobilenet_v3_small":
        return M.mobilenet_v3_small(weights=None), (128, 128), "classification", "features.12", None
    raise KeyError(name)


DEFAULT = ["deeplabv3_mobilenet_v3_large", "lraspp_mobilenet_v3_large_nonsquare", "unet", "unet_opset17", "swin_t",
           "swin_small_64x96", "swin_small_64x96_opset17",
           "swin_small_64x96_attn", "swin_small_64x96_mlp", "vit_p8_96", "vit_p8_96_opset17", "vit_meanpool_96x128",
           "deit_like_2tokens_64x128", "convnext_tiny", "convnext_tiny_nhwc", "convnext_tiny_nhwc_opset17",
           "efficientnet_b0", "regnet_y_400mf", "mobilenet_v3_small"]
BIG = ["deeplabv3_resnet50", "fcn_resnet50"]


def module_at(model, path):
    m = model
    for part in path.split("."):
        m = m[int(part)] if part.isdigit() and not hasattr(m, part) else getattr(m, part)
    return m


def scope_of(path):
    """The ONNX node-name prefix torch.onnx (1.13) gives a module: 'a.b.0.c' -> '/a/b/b.0/c/'."""
    parts, names, run = path.split("."), [], None
    for p in parts:
        run = f"{run}.{p}" if p.isdigit() and run is not None else p
        names.append(run)
    return "/" + "/".join(names) + "/"


def layer_tensor(proto, path):
    import onnx  # noqa: F401

    scope = scope_of(path)
    nodes = [n for n in proto.graph.node if n.name.startswith(scope)]
    if not nodes:
        raise RuntimeError(f"no ONNX node under {scope}")
    return nodes[-1].output[0]


PREFIX = {"tokens": 0, "cls": 1, "prefix2": 2}


def reshape_transform(kind, hw):
    if kind == "nhwc":
        return lambda t: t.permute(0, 3, 1, 2)
    if kind in PREFIX:
        h, w = hw
        skip = PREFIX[kind]

        def rt(t):
            r = t[:, skip:, :].reshape(t.size(0), h, w, t.size(2))
            return r.permute(0, 3, 1, 2)

        return rt
    return None


# ---------------------------------------------------------------------------------------------
# References and comparisons


def rel(a, b):
    a, b = np.asarray(a, np.float64).ravel(), np.asarray(b, np.float64).ravel()
    d = a - b
    return float(np.abs(d).max() / max(np.abs(b).max(), 1e-30)), float(np.linalg.norm(d) / max(np.linalg.norm(b), 1e-30))


def cli(args, cache):
    env = dict(os.environ, CONVLENS_CACHE_DIR=cache)
    r = subprocess.run(["node", os.path.join(ROOT, "bin", "convlens.js"), *args, "--provider", "cpu"],
                       capture_output=True, text=True, env=env)
    if r.returncode != 0:
        raise RuntimeError((r.stderr or r.stdout).strip().splitlines()[-1] if (r.stderr or r.stdout).strip() else f"exit {r.returncode}")
    return r.stdout


class Table:
    def __init__(self):
        self.rows = []

    def add(self, model, what, value, limit, passed, note=""):
        self.rows.append((model, what, value, limit, passed, note))
        v = "-" if value is None else f"{value:.2e}"
        verdict = "n/a" if passed is None else "pass" if passed else "FAIL"
        print(f"  {model:38s} {what:28s} {v:>9s}  {limit:>22s}  {verdict:4s}  {note}", flush=True)


def check(name, table, tmp, keep):
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(1234)
    model, (h, w), task, layer_path, layout = build(name)
    calibrate(model, gen, h, w)
    img = smooth_image(torch.Generator().manual_seed(99), h, w)
    x = normalised(img)
    d = os.path.join(tmp, name)
    os.makedirs(d, exist_ok=True)
    onnx_path = os.path.join(d, "model.onnx")
    started = time.time()
    aux = isinstance(model, OutOnly) and model.aux
    torch.onnx.export(model, x, onnx_path, input_names=["input"], output_names=["out", "aux"] if aux else ["out"],
                      opset_version=int(name.split("_opset")[1]) if "_opset" in name else 13, do_constant_folding=True)
    import onnx

    layer = layer_tensor(onnx.load(onnx_path, load_external_data=False), layer_path)
    np.save(os.path.join(d, "input.npy"), x.numpy())
    # The input scaled by (1 + 1e-5 sin i), as segmentation-reference.test.ts: a nudge that moves
    # units within rounding of a kink to its other side (the rounding floor of the third rule).
    i = np.arange(x.numel()).reshape(x.shape)
    np.save(os.path.join(d, "nudged.npy"), (x.numpy() * (1 + 1e-5 * np.sin(i))).astype(np.float32))
    cache = os.path.join(d, "cache")
    print(f"{name}: input {h}x{w}, layer {layer_path} = {layer}, export {time.time() - started:.1f} s", flush=True)

    head = (lambda t: t[0]) if aux else (lambda t: t)
    with torch.no_grad():
        out = head(model(x))
    if task == "segmentation":
        pred = out[0].argmax(0).numpy()
        counts = np.bincount(pred.ravel(), minlength=out.shape[1])
        nonbg = counts.copy()
        nonbg[0] = 0
        cls = int(nonbg.argmax()) if nonbg.max() > 0 else 0
        mask = (pred == cls).astype(np.float32)
        mask_png = os.path.join(d, "mask.png")
        cv2.imwrite(mask_png, (mask * 255).astype(np.uint8))
        target_flag = f"region:{mask_png},{cls}"
        cam_target = SemanticSegmentationTarget(cls, mask)

        def scalar(o):
            return (head(o)[:, cls] * torch.from_numpy(mask).to(head(o).dtype)).sum((1, 2))
        print(f"  class {cls}: {int(mask.sum())} of {mask.size} pixels; classes present {np.flatnonzero(counts).tolist()}")
    else:
        cls = int(out[0].argmax())
        target_flag = f"class:{cls}"
        cam_target = ClassifierOutputTarget(cls)
        top2 = torch.topk(out[0], 2).values
        print(f"  top-1 {cls}, margin {float(top2[0] - top2[1]):.3g}")

        def scalar(o):
            return head(o)[:, cls]

    # PyTorch autograd: the input and the layer's output, float32 and float64.
    captured = {}
    module = module_at(model, layer_path)

    def keep_output(_m, _i, o):
        o.retain_grad()
        captured["a"] = o

    def grads(m, dtype):
        hook = module_at(m, layer_path).register_forward_hook(keep_output)
        xi = x.to(dtype).clone().requires_grad_(True)
        scalar(m(xi)).sum().backward()
        hook.remove()
        return xi.grad.detach().numpy(), captured["a"].grad.detach().numpy()

    gin32, glayer32 = grads(model, torch.float32)
    model64 = __import__("copy").deepcopy(model).double()
    gin64, glayer64 = grads(model64, torch.float64)

    def ig(m, dtype):
        return IntegratedGradients(lambda t: scalar(m(t))[:, None]).attribute(
            x.to(dtype), baselines=0.0, target=0, n_steps=IG_STEPS, method="riemann_trapezoid").detach().numpy()

    ig32, ig64 = ig(model, torch.float32), ig(model64, torch.float64)

    def input_rule(what, ours, ref32, ref64, note="", nudged_args=None):
        """1e-3 x max; else the README's float32 rule; else (given how to rerun ours on the nudged
        input) max(1e-3, floor) x max with the median within 1e-3 x max, floor = how far our own
        result moves under the nudge, as segmentation-reference.test.ts holds kinked gradients."""
        m, l2 = rel(ours, ref32)
        if m <= 1e-3:
            table.add(name, what, m, "1e-3 x max", True, note)
            return
        own = rel(ref32, ref64)
        mine = rel(ours, ref64)
        text = f"vs f64 {mine[0]:.1e}/{mine[1]:.1e}, torch f32 {own[0]:.1e}/{own[1]:.1e}"
        if mine[0] <= 2 * own[0] and mine[1] <= 2 * own[1]:
            table.add(name, what, m, "f32 rule", True, f"{text} {note}".strip())
            return
        if nudged_args is None:
            table.add(name, what, m, "f32 rule", False, f"{text} {note}".strip())
            return
        f = os.path.join(d, "nudged_result.npy")
        _, err = run_ours([*nudged_args, "--out", f])
        if err:
            table.add(name, what, m, "f32 rule", False, f"{text}; nudged run: {err[:80]}")
            return
        moved = np.load(f).reshape(ours.shape)
        scale = np.abs(ref32).max()
        floor = float(np.abs(ours - moved).max() / scale)
        median = float(np.median(np.abs(ours - ref32)) / scale)
        ok = m <= max(1e-3, floor) and median <= 1e-3
        table.add(name, what, m, "nudge floor", ok,
                  f"floor {floor:.1e}, median {median:.1e}; {text} (f32 rule fails) {note}".strip())

    def run_ours(args):
        try:
            return cli(args, cache), None
        except RuntimeError as e:
            return None, str(e)

    # Layer gradient.
    g_out = os.path.join(d, "grad_layer.npy")
    _, err = run_ours(["gradient", onnx_path, os.path.join(d, "input.npy"), "--wrt", layer, "--target", target_flag,
                       "--out", g_out])
    if err:
        table.add(name, "grad_layer", None, "1e-3 x max", False, err[:160])
    else:
        ours = np.load(g_out)
        if ours.shape != glayer32.shape:
            table.add(name, "grad_layer", None, "1e-3 x max", False, f"shape {ours.shape} vs {glayer32.shape}")
        else:
            input_rule("grad_layer", ours, glayer32, glayer64,
                       nudged_args=["gradient", onnx_path, os.path.join(d, "nudged.npy"), "--wrt", layer, "--target",
                                    target_flag])

    # Saliency (input gradient) and integrated gradients.
    for method, what, ref32, ref64, extra in [
        ("saliency", "grad_input (Saliency)", gin32, gin64, []),
        ("integrated-gradients", f"IG ({IG_STEPS} steps)", ig32, ig64,
         ["--steps", str(IG_STEPS), "--ig-method", "riemann_trapezoid", "--baseline", "0"]),
    ]:
        f = os.path.join(d, f"{method}.npy")
        _, err = run_ours(["explain", onnx_path, os.path.join(d, "input.npy"), "--method", method, "--target",
                           target_flag, "--raw", "--out", f, *extra])
        if err:
            table.add(name, what, None, "1e-3 x max", False, err[:160])
            continue
        input_rule(what, np.load(f).reshape(ref32.shape), ref32, ref64,
                   nudged_args=["explain", onnx_path, os.path.join(d, "nudged.npy"), "--method", method, "--target",
                                target_flag, "--raw", *extra])

    # CAMs at the layer, pytorch-grad-cam with the reshape_transform a user would write.
    a_shape = captured["a"].shape
    grid = (a_shape[1], a_shape[2]) if layout == "nhwc" else None
    if layout in PREFIX:
        tokens = a_shape[1] - PREFIX[layout]
        gh = int(round((tokens * h / w) ** 0.5))
        grid = (gh, tokens // gh)
    for ref_name, cls_, ours_name in CAMS:
        cam = cls_(model=Head(model) if aux else model, target_layers=[module],
                   reshape_transform=reshape_transform(layout, grid))
        final = cam(input_tensor=x, targets=[cam_target])[0]
        acts = cam.activations_and_grads.activations[0].cpu().numpy()
        grads_ = cam.activations_and_grads.gradients[0].cpu().numpy()
        raw = cam.get_cam_image(x, module, [cam_target], acts, grads_, False)[0]
        # The same CAM of the float64 model: the exact one, for the float32 rule where kinks flip.
        module64 = module_at(model64, layer_path)
        cam64 = cls_(model=Head(model64) if aux else model64, target_layers=[module64],
                     reshape_transform=reshape_transform(layout, grid))
        cam64(input_tensor=x.double(), targets=[cam_target])
        raw64 = cam64.get_cam_image(x.double(), module64, [cam_target],
                                    cam64.activations_and_grads.activations[0].numpy(),
                                    cam64.activations_and_grads.gradients[0].numpy(), False)[0]
        raw_out, map_out = os.path.join(d, f"{ours_name}.raw.npy"), os.path.join(d, f"{ours_name}.map.npy")
        base = ["explain", onnx_path, os.path.join(d, "input.npy"), "--method", ours_name, "--target", target_flag,
                "--layer", layer]
        stdout, err = run_ours([*base, "--raw", "--out", raw_out, "--json"])
        if err:
            table.add(name, f"camraw_{ref_name}", None, "1e-3 x max", False, err[:160])
            continue
        notes = json.loads(stdout).get("notes", [])
        layout_note = next((n for n in notes if "read as" in n), "")
        ours_raw = np.load(raw_out).reshape(raw.shape)
        input_rule(f"camraw_{ref_name}", ours_raw, raw, raw64, layout_note[layout_note.find("read as"):][:60],
                   nudged_args=[*base[:2], os.path.join(d, "nudged.npy"), *base[3:], "--raw"])
        run_ours([*base, "--out", map_out])
        ours_map = np.load(map_out).reshape(final.shape)
        diff = float(np.abs(ours_map - final).max())
        table.add(name, f"cam_{ref_name}", diff, "0.02 abs", diff <= 0.02)

    # Layer 'auto': where a module of the model outputs the tensor chosen, pytorch-grad-cam's GradCAM
    # there, with the reshape_transform the layout the CLI reports calls for.
    auto_raw = os.path.join(d, "auto.raw.npy")
    stdout, err = run_ours(["explain", onnx_path, os.path.join(d, "input.npy"), "--method", "gradcam", "--target",
                            target_flag, "--layer", "auto", "--raw", "--out", auto_raw, "--json"])
    if err:
        table.add(name, "camraw_GradCAM (auto)", None, "1e-3 x max", False, err[:160])
    else:
        info = json.loads(stdout)
        chosen, note = info["layer"], " ".join(info.get("notes", []))
        proto = onnx.load(onnx_path, load_external_data=False)
        owner = None
        for path, _ in model.named_modules():
            try:
                if path and layer_tensor(proto, path) == chosen:
                    owner = path
            except RuntimeError:
                pass
        kind = ("prefix2" if "distillation" in note else "cls" if "class token" in note else
                "tokens" if "patch tokens" in note else "nhwc" if "channels-last" in note else None)
        if owner is None:
            table.add(name, "camraw_GradCAM (auto)", None, "1e-3 x max", None, f"{chosen}: no module outputs it (not compared)")
        else:
            seen = {}
            def remember(_m, _i, o):
                seen["shape"] = o.shape  # returns None: a hook's value would replace the output

            hook = module_at(model, owner).register_forward_hook(remember)
            with torch.no_grad():
                model(x)
            hook.remove()
            shape = seen["shape"]
            g = (shape[1], shape[2]) if kind == "nhwc" else None
            if kind in PREFIX:
                tokens = shape[1] - PREFIX[kind]
                gh = int(round((tokens * h / w) ** 0.5))
                g = (gh, tokens // gh)
            rows = []
            for mm, xx in [(model, x), (model64, x.double())]:
                mod = module_at(mm, owner)
                cam = GradCAM(model=Head(mm) if aux else mm, target_layers=[mod], reshape_transform=reshape_transform(kind, g))
                cam(input_tensor=xx, targets=[cam_target])
                rows.append(cam.get_cam_image(xx, mod, [cam_target], cam.activations_and_grads.activations[0].numpy(),
                                              cam.activations_and_grads.gradients[0].numpy(), False)[0])
            input_rule("camraw_GradCAM (auto)", np.load(auto_raw).reshape(rows[0].shape), rows[0], rows[1], f"at {owner}")

    if task == "segmentation":
        stdout, err = run_ours(["explain", onnx_path, os.path.join(d, "input.npy"), "--method", "saliency", "--target",
                                f"region:predicted,{cls}", "--raw", "--out", os.path.join(d, "pred.npy"), "--json"])
        if err:
            table.add(name, "mask (region:predicted)", None, "equal", False, err[:160])
        else:
            weight = json.loads(stdout)["target"]["mask"]["weight"]
            same = np.array_equal(np.load(os.path.join(d, "pred.npy")), np.load(os.path.join(d, "saliency.npy")))
            # Pixels whose two best classes are within 1e-4 x max|logits| (the reference README's
            # near-ties): another float32 implementation may choose differently there.
            top2 = torch.topk(out[0], 2, dim=0).values
            near = int(((top2[0] - top2[1]) <= 1e-4 * float(out.abs().max())).sum())
            off = abs(weight - mask.sum())
            ok = same if off == 0 else off <= near
            table.add(name, "mask (region:predicted)", off, "equal but near-ties", ok,
                      f"weight {weight:g} vs torch {int(mask.sum())}, {near} near-tie pixels; saliency "
                      f"{'equal' if same else 'differs'} to MASK.png's")
    if not keep:
        for f in os.listdir(d):
            p = os.path.join(d, f)
            if os.path.isfile(p) and f.endswith(".onnx"):
                os.remove(p)


class Head(nn.Module):
    """The first output of a model with several (pytorch-grad-cam reads one tensor)."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x):
        return self.model(x)[0]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("names", nargs="*")
    p.add_argument("--big", action="store_true", help="also the ResNet-50 segmentation models (about 160 MB each)")
    p.add_argument("--keep", help="keep the exported models and references in this folder")
    args = p.parse_args()
    names = args.names or DEFAULT + (BIG if args.big else [])
    table = Table()
    tmp = args.keep or tempfile.mkdtemp(prefix="convlens-other-models-")
    os.makedirs(tmp, exist_ok=True)
    for name in names:
        started = time.time()
        try:
            check(name, table, tmp, bool(args.keep))
        except Exception as e:  # a model that cannot even be exported or referenced is a row too
            table.add(name, "run", None, "-", False, f"{type(e).__name__}: {str(e)[:200]}")
        print(f"  ({time.time() - started:.0f} s)", flush=True)
    failed = [r for r in table.rows if r[4] is False]
    compared = [r for r in table.rows if r[4] is not None]
    print(f"\n{len(compared) - len(failed)} of {len(compared)} compared rows pass ({len(table.rows) - len(compared)} not compared)")
    for r in failed:
        print(f"FAIL {r[0]} {r[1]}: {r[5]}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
