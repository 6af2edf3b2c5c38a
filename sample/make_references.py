#!/usr/bin/env python3
"""Reference maps for the segmentation and detection samples, from pytorch-grad-cam and Captum.

    PYTHONPATH=../shared/peers /usr/bin/python3 sample/make_references.py

(Debian python3-torch, python3-torchvision, python3-onnx, python3-opencv, python3-scipy,
python3-tqdm, python3-matplotlib and python3-sklearn, which pytorch-grad-cam imports.)

The networks are rebuilt in PyTorch from the committed ONNX files: the exports fold each
BatchNorm into its convolution, so the PyTorch modules get the folded weights and biases (read
from the Conv node named after the module, e.g. /block5/conv/Conv -> block5.conv) and identity
in place of BatchNorm. The saved outputs let a test check that the rebuilt network computes what
the ONNX file does.

Writes test/models/tasks/<case>.<what>.npy and test/models/tasks/tasks.json, the manifest:
per case the model, image, target, layer (ONNX tensor name) and the files:
    input       float32 [1, 3, H, W], the preprocessed image (as the sidecar says)
    output      float32, the network's output on it
    target_mask (segmentation) float32 [H, W], the pixels whose class score is summed
    gradcam     float32 [H, W], pytorch-grad-cam GradCAM(...)(input, [target]): ReLU, min-max
                scaled, resized with cv2 to the input size
    cam         float32 [h, w], GradCAM's map at the layer's resolution before that ReLU, scaling
                and resize: sum_k w_k A_k, w_k = mean of dscore/dA_k over the map
    grad_input  float32 [1, 3, H, W], Captum Saliency(abs=False): d score / d input

Targets (as pytorch-grad-cam's model_targets, adapted to these heads):
  * box: the raw head's row b gives score = obj[b] * cls[b, c] (the detector's confidence for
    class c; FasterRCNNBoxScoreTarget adds the IoU with the chosen box, which is 1 for the box
    itself). b, c: the highest obj * cls over the image, and the ground-truth object it lies on.
  * segmentation: SemanticSegmentationTarget(c, mask) = sum over the mask of the logit of c, the
    mask being the pixels predicted as c in the connected region of the chosen object (its
    ground-truth instance mask AND the prediction == c).
"""

import json
import os
import sys

import numpy as np
import onnx
import torch
import torch.nn as nn
from onnx import numpy_helper
from PIL import Image

from make_dataset import CLASSES
from scene_training import HERE, to_input

ROOT = os.path.dirname(HERE)
OUT = os.path.join(ROOT, "test", "models", "tasks")
CASES_PER_MODEL = 2


def load_folded(model, onnx_path):
    """Copy the Conv weights of the ONNX file into `model` and make its BatchNorms identities."""
    graph = onnx.load(onnx_path).graph
    weights = {init.name: torch.from_numpy(numpy_helper.to_array(init).copy()) for init in graph.initializer}
    for node in graph.node:
        if node.op_type != "Conv":
            continue
        conv = model.get_submodule(".".join(node.name.strip("/").split("/")[:-1]))
        conv.weight = nn.Parameter(weights[node.input[1]])
        conv.bias = nn.Parameter(weights[node.input[2]]) if len(node.input) > 2 else None
    for name, module in list(model.named_modules()):
        for child_name, child in list(module.named_children()):
            if isinstance(child, nn.BatchNorm2d):
                setattr(module, child_name, nn.Identity())
    return model.eval()


def tensor_of(onnx_path, node_name):
    """The ONNX tensor a node writes (the layer name ConvLens uses)."""
    for node in onnx.load(onnx_path).graph.node:
        if node.name == node_name:
            return node.output[0]
    raise KeyError(node_name)


def read_case(kind, n):
    from make_scenes import TEST_JSON
    folder = os.path.join(HERE, f"scenes-{kind}", "test")
    with open(os.path.join(folder, TEST_JSON[kind])) as f:
        entry = json.load(f)["images"][f"images/{n}.png"]
    image = np.asarray(Image.open(os.path.join(folder, "images", f"{n}.png")).convert("RGB"))
    instances = np.asarray(Image.open(os.path.join(folder, entry["mask"])))
    return f"sample/scenes-{kind}/test/images/{n}.png", to_input(image[None]), instances, entry["objects"]


def explain(model, layer, x, target):
    """pytorch-grad-cam's GradCAM map and its pre-scaling cam, and Captum's Saliency (abs=False)."""
    from captum.attr import Saliency
    from pytorch_grad_cam import GradCAM
    with GradCAM(model=model, target_layers=[layer]) as cam:
        gradcam = cam(input_tensor=x, targets=[target])[0]
        acts = cam.activations_and_grads.activations[0].numpy()
        grads = cam.activations_and_grads.gradients[0].numpy()
        low = cam.get_cam_image(x, layer, [target], acts, grads, False)[0]
    saliency = Saliency(lambda inp: torch.stack([target(o) for o in model(inp)]))
    grad_input = saliency.attribute(x.clone(), abs=False)
    return gradcam.astype(np.float32), low.astype(np.float32), grad_input.detach().numpy().astype(np.float32)


def save(case, arrays):
    files = {}
    for what, array in arrays.items():
        name = f"{case}.{what}.npy"
        np.save(os.path.join(OUT, name), np.ascontiguousarray(array, dtype=np.float32))
        files[what] = name
    return files


class BoxScore:
    """obj[b] * cls[b, c] of one image's raw head output [boxes, 5 + C]."""

    def __init__(self, box, category):
        self.box, self.category = box, category

    def __call__(self, output):
        return output[self.box, 4] * output[self.box, 5 + self.category]


def detection_cases():
    from train_det import ShapesDetNet
    onnx_path = os.path.join(HERE, "shapes-det.onnx")
    model = load_folded(ShapesDetNet(), onnx_path)
    cases = []
    for n in range(CASES_PER_MODEL):
        image, x, _instances, objects = read_case("det", n)
        with torch.no_grad():
            output = model(x)
        scores = output[0, :, 4:5] * output[0, :, 5:]
        box, category = divmod(int(scores.argmax()), len(CLASSES))
        cx, cy = output[0, box, 0:2].tolist()
        # The ground-truth object under the detected box's centre.
        truth = next((o for o in objects if o["bbox"][0] <= cx < o["bbox"][2] and o["bbox"][1] <= cy < o["bbox"][3]), None)
        target = BoxScore(box, category)
        gradcam, cam, grad_input = explain(model, model.block5, x, target)
        case = f"shapes-det.{n}"
        cases.append({
            "case": case, "model": "sample/shapes-det.onnx", "image": image,
            "target": {"kind": "box", "output": "detections", "box": box, "class": category,
                       "className": CLASSES[category], "score": "detections[0, box, 4] * detections[0, box, 5 + class]",
                       "value": float(target(output[0])), "detectedBox": output[0, box, :4].tolist(),
                       "truth": truth},
            "layer": tensor_of(onnx_path, "/block5/relu/Relu"),
            "files": save(case, {"input": x, "output": output, "gradcam": gradcam, "cam": cam, "grad_input": grad_input}),
        })
    return cases


def segmentation_cases():
    from pytorch_grad_cam.utils.model_targets import SemanticSegmentationTarget
    from train_seg import LABELS, ShapesSegNet
    onnx_path = os.path.join(HERE, "shapes-seg.onnx")
    model = load_folded(ShapesSegNet(), onnx_path)
    cases = []
    for n in range(CASES_PER_MODEL):
        image, x, instances, objects = read_case("seg", n)
        with torch.no_grad():
            output = model(x)
        obj = objects[0]
        category = 1 + CLASSES.index(obj["class"])
        mask = ((output[0].argmax(dim=0).numpy() == category) & (instances == obj["instance"])).astype(np.float32)
        target = SemanticSegmentationTarget(category, mask)
        gradcam, cam, grad_input = explain(model, model.bottleneck, x, target)
        case = f"shapes-seg.{n}"
        cases.append({
            "case": case, "model": "sample/shapes-seg.onnx", "image": image,
            "target": {"kind": "segmentation", "output": "logits", "class": category, "className": LABELS[category],
                       "score": "sum over target_mask of logits[0, class]", "value": float(target(output[0])),
                       "maskPixels": int(mask.sum()), "truth": obj},
            "layer": tensor_of(onnx_path, "/bottleneck/relu/Relu"),
            "files": save(case, {"input": x, "output": output, "target_mask": mask, "gradcam": gradcam, "cam": cam,
                                 "grad_input": grad_input}),
        })
    return cases


def main():
    torch.set_num_threads(1)
    os.makedirs(OUT, exist_ok=True)
    import captum
    import pytorch_grad_cam  # noqa: F401 (fail early when PYTHONPATH lacks ../shared/peers)
    cases = detection_cases() + segmentation_cases()
    manifest = {
        "description": "Reference maps for the sample detector and segmentation network; written by "
                       "sample/make_references.py (see its docstring for each file and target).",
        "peers": {"pytorch-grad-cam": "084273b3f30b54ad0c64cf8020a4337d979a66e0",
                  "captum": "faac08773131888714b15709b28494ebeea7f6eb", "captumVersion": captum.__version__,
                  "torch": torch.__version__},
        "cases": cases,
    }
    with open(os.path.join(OUT, "tasks.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")
    print(f"wrote {len(cases)} cases to {OUT}")


if __name__ == "__main__":
    sys.exit(main())
