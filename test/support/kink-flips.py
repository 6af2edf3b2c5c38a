"""Measures which kink flips separate the exported LR-ASPP graph from PyTorch's float64 gradient.

Usage: /usr/bin/python3 test/support/kink-flips.py [case ...] [--eps 1e-6] [--ours FILE.f32]
(reference data from $CONVLENS_REFERENCE as for the tests; cases: the manifest-tasks.json segmentation images, default coffee and chelsea; --ours: our
engine's input gradient for the one case given, float32 raw, to compare with the same graph).

It evaluates the ONNX graph itself in float64 with torch (every op of lraspp_mobilenet_v3_large.onnx:
Conv, Relu, HardSigmoid, Sigmoid, Mul, Add, GlobalAveragePool, Resize linear half_pixel, and the
Shape/Slice/Concat that size the Resizes), so float32 rounding of the forward is out of the picture;
the weights are the file's (BatchNorm folded into the convolutions in float32 by the exporter).
Each ReLU/HardSigmoid derivative takes its side from a tensor of our choice, so one unit can be put
on the other side of its kink. It reports the distance of ∂target/∂input from grad_input_f64 (the
README's measures: max |a-b| / max |b| and ‖a-b‖ / ‖b‖), lists the units within --eps of a kink, and
flips them one at a time, keeping each flip that brings the gradient closer to grad_input_f64.
"""
import json
import os
import sys

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from onnx import numpy_helper

REF = os.environ.get('CONVLENS_REFERENCE', os.path.join(os.path.dirname(os.path.abspath(__file__)), '../../../shared/reference'))
torch.set_num_threads(2)
MODEL = onnx.load(f'{REF}/lraspp_mobilenet_v3_large.onnx')
INIT = {i.name: numpy_helper.to_array(i) for i in MODEL.graph.initializer}
CASES = {c['image']: c for c in json.load(open(f'{REF}/manifest-tasks.json'))['cases'] if c['model'] == 'lraspp_mobilenet_v3_large'}


def attrs(node):
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def load(case, name, shape=None):
    a = np.fromfile(f"{REF}/{CASES[case]['dir']}/{name}.f32", dtype=np.float32)
    return a.reshape(shape) if shape else a


class Activation(torch.autograd.Function):
    """f(x) in float64; the derivative's side of the kink is read from `side` (a pre-activation tensor)."""

    @staticmethod
    def forward(ctx, x, side, kind, alpha):
        ctx.save_for_backward(x, side)
        ctx.kind, ctx.alpha = kind, alpha
        if kind == 'Relu':
            return x.clamp(min=0)
        if kind == 'HardSigmoid':
            return (x * alpha + 0.5).clamp(0, 1)
        return torch.sigmoid(x)

    @staticmethod
    def backward(ctx, g):
        x, side = ctx.saved_tensors
        if ctx.kind == 'Relu':  # threshold_backward: x > 0
            return g * (side > 0), None, None, None
        if ctx.kind == 'HardSigmoid':  # hardsigmoid_backward: strictly inside (0, 1)
            y = side * ctx.alpha + 0.5
            return g * ctx.alpha * ((y > 0) & (y < 1)), None, None, None
        s = torch.sigmoid(x)
        return g * s * (1 - s), None, None, None


def run(x, sides):
    env = {k: (torch.tensor(v).double() if v.dtype != np.int64 else v) for k, v in INIT.items()}
    env['input'] = x
    for n in MODEL.graph.node:
        a, i, t = attrs(n), [env.get(s) for s in n.input], n.op_type
        if t == 'Conv':
            p = a.get('pads', [0, 0, 0, 0])
            assert p[0] == p[2] and p[1] == p[3]
            y = F.conv2d(i[0], i[1], i[2] if len(i) > 2 else None, stride=a.get('strides', 1), padding=(p[0], p[1]), dilation=a.get('dilations', 1), groups=a.get('group', 1))
        elif t in ('Relu', 'HardSigmoid', 'Sigmoid'):
            assert abs(a.get('beta', 0.5) - 0.5) < 1e-12
            y = Activation.apply(i[0], sides.get(n.input[0], i[0].detach()), t, a.get('alpha', 0.2))
        elif t == 'Mul':
            y = i[0] * i[1]
        elif t == 'Add':
            y = i[0] + i[1]
        elif t == 'GlobalAveragePool':
            y = i[0].mean(dim=(2, 3), keepdim=True)
        elif t == 'Constant':
            y = numpy_helper.to_array(a['value'])
        elif t == 'Identity':
            y = i[0]
        elif t == 'Shape':
            y = np.array(i[0].shape, dtype=np.int64)
        elif t == 'Slice':
            assert len(i) < 4 or list(i[3]) == [0]
            y = i[0][int(i[1][0]) : int(min(i[2][0], 1 << 40))]
        elif t == 'Concat':
            y = np.concatenate([np.asarray(v) for v in i], axis=a['axis'])
        elif t == 'Resize':
            assert a['mode'] == b'linear' and a['coordinate_transformation_mode'] == b'half_pixel'
            y = F.interpolate(i[0], size=[int(s) for s in i[3][2:]], mode='bilinear', align_corners=False)
        else:
            raise NotImplementedError(t)
        env[n.output[0]] = y
    return env


def input_gradient(case, sides=None):
    x = torch.tensor(load(case, 'input', (1, 3, 224, 224))).double().requires_grad_()
    env = run(x, sides or {})
    mask = torch.tensor(load(case, 'mask', (224, 224))).double()
    (env['logits'][0, CASES[case]['target_class']] * mask).sum().backward()
    return x.grad.numpy().ravel(), env


def distance(a, b):
    return np.abs(a - b).max() / np.abs(b).max(), np.linalg.norm(a - b) / np.linalg.norm(b)


def kinks(node):
    if node.op_type == 'Relu':
        return [0.0]
    alpha = attrs(node).get('alpha', 0.2)
    return [-0.5 / alpha, 0.5 / alpha]


def main():
    args = sys.argv[1:]
    eps = float(args[args.index('--eps') + 1]) if '--eps' in args else 1e-6
    ours = args[args.index('--ours') + 1] if '--ours' in args else None
    cases = [a for a in args if a in CASES] or ['coffee', 'chelsea']
    for case in cases:
        f64 = load(case, 'grad_input_f64')
        noise = CASES[case]['grad_input_f32_noise']
        print(f"{case}: twice PyTorch float32's own distance: max_rel {2 * noise['max_rel']:.2e}, l2_rel {2 * noise['l2_rel']:.2e}")
        g, env = input_gradient(case)
        print('  float64 ONNX graph vs grad_input_f64: max_rel %.2e, l2_rel %.2e' % distance(g, f64))
        if ours:
            print('  ours vs float64 ONNX graph: max_rel %.2e, l2_rel %.2e' % distance(np.fromfile(ours, dtype=np.float32), g))
        near, units = [], 0
        for n in MODEL.graph.node:
            if n.op_type not in ('Relu', 'HardSigmoid'):
                continue
            x = env[n.input[0]].detach().numpy()
            units += x.size
            for k in kinks(n):
                for f in np.flatnonzero(np.abs(x - k) < eps):
                    near.append((abs(x.flat[f] - k), n.input[0], np.unravel_index(f, x.shape), k))
        near.sort(key=lambda u: u[0])
        print(f'  {len(near)} of {units} ReLU/HardSigmoid units within {eps:g} of a kink')
        sides, best = {}, distance(g, f64)
        for dist, name, pos, k in near:
            trial = {n: t.clone() for n, t in sides.items()}
            side = trial.setdefault(name, env[name].detach().clone())
            side[pos] = 2 * k - side[pos]  # mirrored across the kink
            gt, _ = input_gradient(case, trial)
            d = distance(gt, f64)
            kept = d[0] < best[0]
            print(f"  flip {name} {tuple(int(p) for p in pos)} (value {env[name][pos].item():.9g}, {dist:.2e} from kink {k:g}): max_rel {d[0]:.2e}, l2_rel {d[1]:.2e}{' kept' if kept else ''}")
            if kept:
                sides, best, g = trial, d, gt
        print('  after the kept flips: max_rel %.2e, l2_rel %.2e' % best)


if __name__ == '__main__':
    main()
