"""Times the peers (Captum under Debian's PyTorch) on the reference architectures, for npm run bench.

Usage: PYTHONPATH=../shared/peers python3 bench/peers.py MODEL... > times.json
Weights are torchvision's architecture with its default (random) initialisation: for timing, the
architecture is what matters. 2 threads, as the reference manifest's recorded times. The first
call of each computation is timed apart (first_s), then the median of REPEATS calls (seconds).
Prints one JSON object: {model: {computation: {first_s, seconds}}}.
"""
import json
import sys

import torch
import torchvision
from captum.attr import IntegratedGradients, NoiseTunnel, Saliency

from peer_timing import timed

REPEATS = 5
TARGET = 282  # the reference manifest's class for the chelsea image


def forward_backward(model, x):
    inp = x.clone().requires_grad_(True)
    model(inp)[0, TARGET].backward()
    return inp.grad


def main(models):
    torch.set_num_threads(2)
    torch.manual_seed(0)
    x = torch.randn(1, 3, 224, 224)
    result = {"torch": torch.__version__, "threads": torch.get_num_threads()}
    for name in models:
        model = getattr(torchvision.models, name)().eval()
        with torch.no_grad():
            forward = timed(lambda: model(x), REPEATS)
        result[name] = {
            "forward": forward,
            "forward_backward": timed(lambda: forward_backward(model, x), REPEATS),
            "IntegratedGradients": timed(lambda: IntegratedGradients(model).attribute(x, target=TARGET, n_steps=32, method="riemann_trapezoid"), 2),
            "SmoothGrad": timed(lambda: NoiseTunnel(Saliency(model)).attribute(x, target=TARGET, nt_type="smoothgrad", nt_samples=25, stdevs=1.0, abs=False), 2),
        }
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1:])
