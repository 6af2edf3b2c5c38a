# A tiny CNN whose weights are stored as ONNX external data (onnx.save_model(save_as_external_data=True)),
# with PyTorch references: logits, d logits[target] / d input, and Grad-CAM at the last ReLU.
# Regenerate: /usr/bin/python3 test/models/external-data/make_external.py (Debian python3-torch, python3-onnx).
import io
import json
import os

import numpy as np
import onnx
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
torch.manual_seed(12)


class Tiny(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(3, 8, 3, padding=1)
        self.conv2 = torch.nn.Conv2d(8, 8, 3, padding=1)
        self.fc = torch.nn.Linear(8, 5)

    def forward(self, x):
        self.features = torch.relu(self.conv2(torch.relu(self.conv1(x))))
        return self.fc(self.features.mean(dim=(2, 3)))


model = Tiny().eval()
with torch.no_grad():
    model.fc.weight.mul_(8.0)  # spread the logits over a few units
x = torch.randn(1, 3, 16, 16)

buffer = io.BytesIO()
torch.onnx.export(model, x, buffer, input_names=['input'], output_names=['logits'], opset_version=13)
proto = onnx.load_from_string(buffer.getvalue())
relus = [n for n in proto.graph.node if n.op_type == 'Relu']
layer = relus[-1].output[0]
onnx.save_model(proto, os.path.join(HERE, 'tiny.onnx'), save_as_external_data=True,
                all_tensors_to_one_file=True, location='tiny.onnx.data', size_threshold=0)

x.requires_grad_(True)
logits = model(x)
target = int(logits.argmax())
features = model.features
features.retain_grad()
logits[0, target].backward()
grad_input = x.grad.detach().numpy()
# Grad-CAM before ReLU (pytorch-grad-cam's get_cam_image): sum_k mean_hw(dy/dA_k) A_k.
weights = features.grad.mean(dim=(2, 3), keepdim=True)
cam = (weights * features).sum(dim=1).detach().numpy()

np.save(os.path.join(HERE, 'tiny.input.npy'), x.detach().numpy().astype(np.float32))
np.save(os.path.join(HERE, 'tiny.logits.npy'), logits.detach().numpy().astype(np.float32))
np.save(os.path.join(HERE, 'tiny.grad_input.npy'), grad_input.astype(np.float32))
np.save(os.path.join(HERE, 'tiny.gradcam.npy'), cam.astype(np.float32))
with open(os.path.join(HERE, 'tiny.json'), 'w') as f:
    json.dump({'model': 'tiny.onnx', 'externalData': 'tiny.onnx.data', 'target': target, 'layer': layer,
               'torch': torch.__version__, 'onnx': onnx.__version__}, f, indent=1)
