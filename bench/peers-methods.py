"""Times the peers of the perturbation and CAM methods, for npm run bench: pytorch-grad-cam's
GradCAM, ScoreCAM and AblationCAM and Captum's Occlusion, under Debian's PyTorch, 2 threads.

Usage: PYTHONPATH=../shared/peers python3 bench/peers-methods.py MODEL [COMPUTATION...] > times.json
(computations: GradCAM, ScoreCAM, AblationCAM, Occlusion; all by default)
Weights are torchvision's architecture with its default (random) initialisation: for timing, the
architecture is what matters. Each peer is timed on its first call in this process, right after
the model is built (first_s: what a user waits for on a freshly opened model), then, for the fast
ones, the median of REPEATS later calls (seconds); the slow ones (tens of seconds) are timed once
more. Output, as bench/peers.py: {model: {computation: {first_s, seconds}}}.
"""
import json
import sys

import torch
import torchvision
from captum.attr import Occlusion
from pytorch_grad_cam import AblationCAM, GradCAM, ScoreCAM
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

from peer_timing import timed

REPEATS = 5
TARGET = 282  # the reference manifest's class for the chelsea image
# The layer each reference case explains (target_layer_tensor in the manifest), as a module.
LAYERS = {
    "resnet18": lambda m: m.layer4[-1],
    "mobilenet_v2": lambda m: m.features[-1],
    "squeezenet1_1": lambda m: m.features[-1],
}


def main(name, wanted):
    torch.set_num_threads(2)
    torch.manual_seed(0)
    x = torch.randn(1, 3, 224, 224)
    model = getattr(torchvision.models, name)().eval()
    layers = [LAYERS[name](model)]
    targets = [ClassifierOutputTarget(TARGET)]

    def cam(kind):
        return lambda: kind(model=model, target_layers=layers)(input_tensor=x, targets=targets)

    def occlusion():
        return Occlusion(model).attribute(x, target=TARGET, sliding_window_shapes=(3, 32, 32), strides=(3, 16, 16), baselines=0)

    computations = {
        "GradCAM": (cam(GradCAM), REPEATS),
        "ScoreCAM": (cam(ScoreCAM), 1),
        "AblationCAM": (cam(AblationCAM), 1),
        "Occlusion": (occlusion, 1),
    }
    times = {key: timed(fn, repeats) for key, (fn, repeats) in computations.items() if not wanted or key in wanted}
    json.dump({"torch": torch.__version__, "threads": torch.get_num_threads(), name: times}, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
