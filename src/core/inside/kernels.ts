// The first convolution's kernels drawn as images (as in Krizhevsky et al. 2012, Fig. 3, and
// torchvision's make_grid(normalize=True, scale_each=True)): each kernel W[o] ([C_in, kh, kw]) is
// min-max scaled to [0, 1] on its own, (W − min W[o]) / (max W[o] − min W[o]), and shown as RGB
// when the layer reads 3 channels (channel order as the model reads them), as grey per input
// channel otherwise. A montage lays them out in a grid with a gap between kernels.
import { ConvModel } from '../model';
import { indexGraph, nodeLabel, topologicalOrder } from '../onnx/graph';
import { tensorFromProto } from '../onnx/initializers';
import { FloatTensor, float32 } from '../tensor';
import { minMaxNormalize } from './similarity';

export class KernelError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KernelError';
  }
}

export interface FirstLayerKernels {
  node: string;
  weight: string;
  /** One per output channel: [C_in, kh, kw] in [0, 1]. */
  kernels: FloatTensor[];
  /** The kernels read 3 input channels and are shown in colour. */
  rgb: boolean;
}

/** The kernels of the first Conv (in execution order) with a weight initializer. */
export function firstLayerKernels(model: ConvModel): FirstLayerKernels {
  const graph = model.graph;
  const { initializers } = indexGraph(graph);
  const conv = topologicalOrder(graph).find((n) => n.op_type === 'Conv' && initializers.has(n.input[1]));
  if (!conv) throw new KernelError('the model has no convolution with a weight initializer');
  const proto = graph.initializer!.find((t) => t.name === conv.input[1])!;
  const weight = tensorFromProto(proto, model.dir);
  if (weight.dtype !== 'float32' || weight.dims.length !== 4) {
    throw new KernelError(`the first convolution's weight '${conv.input[1]}' is ${weight.dtype} [${weight.dims.join(', ')}]; 2-D float32 kernels are drawn`);
  }
  const [outChannels, inChannels, kh, kw] = weight.dims;
  const size = inChannels * kh * kw;
  const kernels = Array.from({ length: outChannels }, (_, o) => float32([inChannels, kh, kw], minMaxNormalize((weight.data as Float32Array).subarray(o * size, (o + 1) * size))));
  return { node: nodeLabel(conv), weight: conv.input[1], kernels, rgb: inChannels === 3 };
}

/**
 * Kernels [C, kh, kw] (C = 3 or 1) in a grid of `columns` (default ⌈√n⌉), each enlarged `zoom`
 * times (nearest) with `gap` pixels of `background` between: one [C, H, W] image.
 */
export function kernelMontage(kernels: FloatTensor[], options: { columns?: number; zoom?: number; gap?: number; background?: number } = {}): FloatTensor {
  if (kernels.length === 0) throw new KernelError('no kernels to lay out');
  const [channels, kh, kw] = kernels[0].dims;
  if (channels !== 1 && channels !== 3) throw new KernelError(`a montage shows 1- or 3-channel kernels; these have ${channels}`);
  const columns = options.columns ?? Math.ceil(Math.sqrt(kernels.length));
  const rows = Math.ceil(kernels.length / columns);
  const zoom = options.zoom ?? 4;
  const gap = options.gap ?? 1;
  const cellH = kh * zoom + gap;
  const cellW = kw * zoom + gap;
  const height = rows * cellH - gap;
  const width = columns * cellW - gap;
  const out = float32([channels, height, width], new Float32Array(channels * height * width).fill(options.background ?? 1));
  kernels.forEach((k, i) => {
    const top = Math.floor(i / columns) * cellH;
    const left = (i % columns) * cellW;
    for (let c = 0; c < channels; c++) {
      for (let y = 0; y < kh * zoom; y++) {
        for (let x = 0; x < kw * zoom; x++) {
          out.data[(c * height + top + y) * width + left + x] = k.data[(c * kh + Math.floor(y / zoom)) * kw + Math.floor(x / zoom)];
        }
      }
    }
  });
  return out;
}
