"""Exports a torchvision classifier other than the reference models and times its peers, for
npm run bench -- --only architectures: the issue's goals checked on other architectures.

Usage: PYTHONPATH=../shared/peers python3 bench/architectures.py NAME OUTDIR > times.json
The model is torchvision's architecture with its default (random) initialisation, seeded; it is
exported to OUTDIR/NAME.onnx (opset 13) with a seeded random input (OUTDIR/NAME.input.f32), and the
same model object is timed under Debian's PyTorch, 2 threads: pytorch-grad-cam's GradCAM and
AblationCAM at the module a user would name (LAYERS), Captum's IntegratedGradients (32
riemann_trapezoid steps) and Occlusion (3×32×32 windows, stride 16, as the reference models' bench),
each on its first call and later ones (one for the slow ones), and a forward pass. Output: {torch, threads, target, layer_tensor, times: {computation: {first_s, seconds}}}.
"""
import json
import os
import sys

import onnx
import torch
import torchvision
from captum.attr import IntegratedGradients, Occlusion
from pytorch_grad_cam import AblationCAM, GradCAM
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

from peer_timing import timed

# The module whose output a user would explain: the last feature block before pooling.
LAYERS = {
    "efficientnet_b0": "features.8",
    "mobilenet_v3_small": "features.12",
    "shufflenet_v2_x1_0": "conv5",
    "regnet_y_400mf": "trunk_output.block4",
    "densenet121": "features.norm5",
    "convnext_tiny": "features.7",
    "vgg11": "features.20",
}


def layer_tensor(model_path, module):
    """The ONNX tensor the module outputs: its last node's. torch.onnx names a module's nodes under
    its path, a numbered child joined to its parent's name (features.8 → /features/features.8/)."""
    scopes = []
    for part in module.split("."):
        scopes.append(f"{scopes[-1]}.{part}" if part.isdigit() and scopes else part)
    scope = "/" + "/".join(scopes) + "/"
    nodes = [n for n in onnx.load(model_path, load_external_data=False).graph.node if n.name.startswith(scope)]
    if not nodes:
        raise SystemExit(f"no ONNX node under {scope}")
    return nodes[-1].output[0]


def main(name, out_dir):
    torch.set_num_threads(2)
    torch.manual_seed(0)
    model = getattr(torchvision.models, name)().eval()
    x = torch.randn(1, 3, 224, 224)
    model_path = os.path.join(out_dir, f"{name}.onnx")
    torch.onnx.export(model, x, model_path, opset_version=13, input_names=["input"], output_names=["logits"])
    x.numpy().tofile(os.path.join(out_dir, f"{name}.input.f32"))
    with torch.no_grad():
        target = int(model(x).argmax())
    layers = [model.get_submodule(LAYERS[name])]
    targets = [ClassifierOutputTarget(target)]
    ig = IntegratedGradients(model)

    def forward():
        with torch.no_grad():
            model(x)

    times = {
        "GradCAM": timed(lambda: GradCAM(model=model, target_layers=layers)(input_tensor=x, targets=targets), 5),
        "AblationCAM": timed(lambda: AblationCAM(model=model, target_layers=layers)(input_tensor=x, targets=targets), 0),
        "IntegratedGradients": timed(lambda: ig.attribute(x, target=target, n_steps=32, method="riemann_trapezoid"), 1),
        "Occlusion": timed(lambda: Occlusion(model).attribute(x, target=target, sliding_window_shapes=(3, 32, 32), strides=(3, 16, 16), baselines=0), 1),
        "forward": timed(forward, 10),
    }
    result = {"torch": torch.__version__, "threads": torch.get_num_threads(), "target": target, "layer_tensor": layer_tensor(model_path, LAYERS[name]), "times": times}
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
