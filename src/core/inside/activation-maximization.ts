// Feature visualisation by activation maximisation (Erhan, Bengio, Courville & Vincent 2009;
// Olah, Mordvintsev & Schubert, "Feature Visualization", Distill 2017; reference implementation:
// Lucent, lucent/optvis/render.py render_vis with param.image(fft=True, decorrelate=True) and
// transform.standard_transforms).
//
// Objective J(x) for an image x ∈ (0, 1)^{3×H×W} given to the model as (x − mean)/std:
//   channel c of a layer A [1, C, h, w]:  J = (1/hw) Σ_{y,x} A[c, y, x]     (Lucent's "channel")
//   neuron (c, y, x):                     J = A[c, y, x]                    (default: the centre)
//   class k:                              J = logit_k
// x is rendered from parameters θ (imageParameterization.ts: Fourier spectrum with 1/|f| scale,
// decorrelated colour, sigmoid), and every step ascends J(T(x(θ))) for a random affine T
// (jitter, scale, rotation; transforms.ts) with Adam (β1 0.9, β2 0.999, ε 1e-8, learning rate
// 0.05, Lucent's default). ∂J/∂input comes from the gradient engine (src/core/autodiff) with the
// seed selecting the objective; the chain back to θ is done here with each map's adjoint.
// ReLUs pass Lucid's redirected gradient (redirectedRelu.ts) so channels dead on the starting image
// can still be raised. The pixel parameterisation may be blurred every few steps (Yosinski, Clune,
// Nguyen, Fuchs & Lipson, "Understanding Neural Networks Through Deep Visualization", 2015;
// image/blur.ts).
// Objectives sharing a tensor are optimised together as one batch when the model takes a batch.
import * as buffer from 'buffer';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { computeGradients } from '../autodiff/gradients';
import { gaussianBlur } from '../image/blur';
import { concreteInputDims, ConvModel } from '../model';
import { readFileChecked, writeFileAtomic } from '../files';
import { formatNpy, parseNpy } from '../npy';
import { assertTensorExists } from '../onnx/surgery';
import { CancelledError } from '../cancel';
import { float32, FloatTensor, sizeOf, Tensor } from '../tensor';
import { seededRandom } from '../random';
import { backpropImage, createParameters, ImageParameters, Parameterization, renderImage } from './image-parameterization';
import { redirectedRelu } from './redirected-relu';
import { AffineResampler, IDENTITY, randomTransform, TransformOptions } from './transforms';

export class FeatureVisualizationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FeatureVisualizationError';
  }
}

export type Objective =
  | { kind: 'channel'; tensor: string; channel: number }
  | { kind: 'neuron'; tensor: string; channel: number; position?: [number, number] }
  | { kind: 'class'; index: number; output?: string };

export interface VisualizationOptions {
  /** Optimisation steps; default 256. */
  steps?: number;
  /** Adam's learning rate; default 0.05. */
  learningRate?: number;
  /** Default 'fourier'. */
  parameterization?: Parameterization;
  /** Decorrelated colour; default true. */
  decorrelate?: boolean;
  /** Random jitter/scale/rotation each step; false: none. Default: Lucid's standard transforms. */
  transforms?: TransformOptions | false;
  /** 'redirected' (default, as Lucid): ReLUs let through gradient that raises inactive units when none else gets through. */
  reluGradient?: 'redirected' | 'true';
  /** Pixel parameterisation only: Gaussian blur of σ every `every` steps. */
  blur?: { sigma: number; every: number };
  /** How an RGB image in [0, 1] becomes the model input: (x − mean)/std per channel; default identity. */
  normalize?: { mean: number[]; std: number[] };
  /** Input [H, W] for models whose spatial size is symbolic; default: the declared size (or 224). */
  size?: [number, number];
  seed?: number;
  /** Images optimised together when the model takes a batch; default 8. */
  batchSize?: number;
  progress?: (fraction: number, message: string) => void;
  signal?: AbortSignal;
}

export interface FeatureVisualization {
  objective: Objective;
  /** The optimised image [3, H, W], RGB in [0, 1], without the random transforms. */
  image: FloatTensor;
  /** J at that image (one forward pass, no transform). */
  activation: number;
  /** J under each step's random transform, when the gradient engine returns the forward value. */
  history: number[];
}

interface ResolvedObjective {
  objective: Objective;
  tensor: string;
  channel: number;
  position?: [number, number];
}

const ADAM = { beta1: 0.9, beta2: 0.999, epsilon: 1e-8 };

function resolve(model: ConvModel, objective: Objective): ResolvedObjective {
  if (objective.kind === 'class') {
    const tensor = objective.output ?? model.graph.output![0].name;
    return { objective, tensor, channel: objective.index };
  }
  return { objective, tensor: objective.tensor, channel: objective.channel, position: objective.kind === 'neuron' ? objective.position : undefined };
}

/** The seed row selecting the objective in a tensor of per-image dims `dims` ([C] or [C, h, w]). */
function seedRow(target: ResolvedObjective, dims: number[]): Float32Array {
  const row = new Float32Array(sizeOf(dims));
  const [channels, h, w] = dims;
  if (target.channel < 0 || target.channel >= channels || !Number.isInteger(target.channel)) {
    throw new FeatureVisualizationError(
      `${target.objective.kind === 'class' ? 'class' : 'channel'} ${target.channel} does not exist in '${target.tensor}' (${channels} ${target.objective.kind === 'class' ? 'classes' : 'channels'})`,
    );
  }
  if (dims.length === 1) {
    row[target.channel] = 1;
  } else if (dims.length === 3) {
    if (target.objective.kind === 'neuron') {
      const [y, x] = target.position ?? [Math.floor(h / 2), Math.floor(w / 2)];
      if (y < 0 || y >= h || x < 0 || x >= w) throw new FeatureVisualizationError(`position (${y}, ${x}) is outside '${target.tensor}' (${h}×${w})`);
      row[(target.channel * h + y) * w + x] = 1;
    } else {
      row.fill(1 / (h * w), target.channel * h * w, (target.channel + 1) * h * w);
    }
  } else {
    throw new FeatureVisualizationError(`'${target.tensor}' has per-image shape [${dims.join(', ')}]; objectives are defined on [C] and [C, H, W] tensors`);
  }
  return row;
}

function dot(a: ArrayLike<number>, b: ArrayLike<number>, offset: number): number {
  let s = 0;
  for (let i = 0; i < b.length; i++) s += a[offset + i] * b[i];
  return s;
}

interface Track {
  target: ResolvedObjective;
  seed: Float32Array;
  params: ImageParameters;
  m: [Float64Array, Float64Array];
  v: [Float64Array, Float64Array];
  history: number[];
}

function toModelInput(rgb: Float32Array, normalize: VisualizationOptions['normalize'], plane: number, out: Float32Array, offset: number): void {
  for (let c = 0; c < 3; c++) {
    const mean = normalize?.mean[c] ?? 0;
    const std = normalize?.std[c] ?? 1;
    for (let i = 0; i < plane; i++) out[offset + c * plane + i] = (rgb[c * plane + i] - mean) / std;
  }
}

function adamAscent(param: Float64Array, grad: Float64Array, m: Float64Array, v: Float64Array, step: number, lr: number): void {
  const c1 = 1 - ADAM.beta1 ** step;
  const c2 = 1 - ADAM.beta2 ** step;
  for (let i = 0; i < param.length; i++) {
    m[i] = ADAM.beta1 * m[i] + (1 - ADAM.beta1) * grad[i];
    v[i] = ADAM.beta2 * v[i] + (1 - ADAM.beta2) * grad[i] * grad[i];
    param[i] += (lr * (m[i] / c1)) / (Math.sqrt(v[i] / c2) + ADAM.epsilon);
  }
}

function inputSize(model: ConvModel, options: VisualizationOptions): [number, number] {
  const dims = concreteInputDims(model.input.shape);
  if (dims.length !== 4 || dims[1] !== 3)
    throw new FeatureVisualizationError(`feature visualisation optimises RGB images; the model's input is ${JSON.stringify(model.input.shape)}`);
  return options.size ?? [dims[2], dims[3]];
}

/** Optimises one image per objective; objectives on the same tensor share batches. */
export async function visualizeFeatures(model: ConvModel, objectives: Objective[], options: VisualizationOptions = {}): Promise<FeatureVisualization[]> {
  const targets = objectives.map((o) => resolve(model, o));
  for (const t of targets) assertTensorExists(model.graph, t.tensor);
  const [height, width] = inputSize(model, options);
  const shapes = await model.probeShapes();
  const batchSize = (await model.supportsBatch()) ? Math.max(1, options.batchSize ?? 8) : 1;
  const groups: ResolvedObjective[][] = [];
  for (const tensor of new Set(targets.map((t) => t.tensor))) {
    const same = targets.filter((t) => t.tensor === tensor);
    for (let i = 0; i < same.length; i += batchSize) groups.push(same.slice(i, i + batchSize));
  }
  const results = new Map<ResolvedObjective, FeatureVisualization>();
  const steps = options.steps ?? 256;
  let done = 0;
  for (const group of groups) {
    const perImage = (shapes.get(group[0].tensor) ?? []).slice(1);
    if (perImage.length === 0) throw new FeatureVisualizationError(`the shape of '${group[0].tensor}' is unknown`);
    const optimized = await optimizeGroup(model, group, perImage, [height, width], options, targets.indexOf(group[0]), (step) => {
      options.progress?.((done + step) / (groups.length * steps), `optimising ${group.length} image(s) for '${group[0].tensor}': step ${step}/${steps}`);
    });
    done += steps;
    group.forEach((t, i) => results.set(t, optimized[i]));
  }
  return targets.map((t) => results.get(t)!);
}

export async function visualizeFeature(model: ConvModel, objective: Objective, options: VisualizationOptions = {}): Promise<FeatureVisualization> {
  return (await visualizeFeatures(model, [objective], options))[0];
}

async function optimizeGroup(
  model: ConvModel,
  group: ResolvedObjective[],
  perImage: number[],
  [height, width]: [number, number],
  options: VisualizationOptions,
  firstIndex: number,
  onStep: (step: number) => void,
): Promise<FeatureVisualization[]> {
  const inputName = model.input.name;
  const plane = height * width;
  const imageSize = 3 * plane;
  const seedSize = sizeOf(perImage);
  const baseSeed = options.seed ?? 0;
  const random = seededRandom((baseSeed * 7919 + firstIndex) >>> 0);
  const tracks: Track[] = group.map((target, i) => {
    const params = createParameters(height, width, { kind: options.parameterization, decorrelate: options.decorrelate, seed: (baseSeed * 7919 + firstIndex + i + 1) >>> 0 });
    const zeros = () => new Float64Array(params.real.length);
    return { target, seed: seedRow(target, perImage), params, m: [zeros(), zeros()], v: [zeros(), zeros()], history: [] };
  });
  const seed = float32([tracks.length, ...perImage]);
  tracks.forEach((t, b) => seed.data.set(t.seed, b * seedSize));
  const steps = options.steps ?? 256;
  const lr = options.learningRate ?? 0.05;
  const reluRules = options.reluGradient === 'true' ? {} : { overrides: { Relu: redirectedRelu }, overridesKey: 'redirected-relu' };
  const gradReal = new Float64Array(imageSize);
  const gradImag = new Float64Array(imageSize);
  for (let step = 1; step <= steps; step++) {
    if (options.signal?.aborted) throw new CancelledError();
    const rendered = tracks.map((t) => renderImage(t.params));
    const resamplers = tracks.map(
      () =>
        new AffineResampler(
          options.transforms === false ? IDENTITY : randomTransform(random, [height, width], options.transforms),
          3,
          height,
          width,
          options.transforms ? options.transforms.fill : undefined,
        ),
    );
    const batch = float32([tracks.length, 3, height, width]);
    rendered.forEach((rgb, b) => toModelInput(resamplers[b].apply(rgb), options.normalize, plane, batch.data, b * imageSize));
    const { gradients, outputs } = await computeGradients(model, { [inputName]: batch }, { wrt: [inputName], output: group[0].tensor, seed, ...reluRules });
    const gradInput = gradients[inputName].data as Float32Array;
    const forward = outputs[group[0].tensor]?.data as Float32Array | undefined;
    tracks.forEach((t, b) => {
      if (forward) t.history.push(dot(forward, t.seed, b * seedSize));
      const gradRgb = new Float32Array(imageSize);
      for (let c = 0; c < 3; c++) {
        const std = options.normalize?.std[c] ?? 1;
        for (let i = 0; i < plane; i++) gradRgb[c * plane + i] = gradInput[b * imageSize + c * plane + i] / std;
      }
      backpropImage(t.params, rendered[b], resamplers[b].adjoint(gradRgb), gradReal, gradImag);
      adamAscent(t.params.real, gradReal, t.m[0], t.v[0], step, lr);
      if (t.params.kind === 'fourier') adamAscent(t.params.imag, gradImag, t.m[1], t.v[1], step, lr);
      else if (options.blur && step % options.blur.every === 0) gaussianBlur(t.params.real, 3, height, width, options.blur.sigma, t.params.real);
    });
    onStep(step);
  }
  const images = tracks.map((t) => float32([3, height, width], renderImage(t.params)));
  const activations = await evaluate(
    model,
    group[0].tensor,
    images,
    tracks.map((t) => t.seed),
    options.normalize,
  );
  return tracks.map((t, b) => ({ objective: t.target.objective, image: images[b], activation: activations[b], history: t.history }));
}

/** J of each image (no transform), one forward pass per image. */
async function evaluate(model: ConvModel, tensor: string, images: FloatTensor[], seeds: Float32Array[], normalize: VisualizationOptions['normalize']): Promise<number[]> {
  const values: number[] = [];
  for (const [i, image] of images.entries()) {
    const [, h, w] = image.dims;
    const input = float32([1, 3, h, w]);
    toModelInput(image.data, normalize, h * w, input.data, 0);
    const out = (await model.run({ [model.input.name]: input }, [tensor]))[tensor];
    values.push(dot(out.data as Float32Array, seeds[i], 0));
  }
  return values;
}

/** J of model inputs (already preprocessed, [N, 3, H, W]) for one objective: what dataset images reach. */
export async function objectiveValues(model: ConvModel, objective: Objective, inputs: Tensor): Promise<number[]> {
  const target = resolve(model, objective);
  const out = (await model.run({ [model.input.name]: inputs }, [target.tensor]))[target.tensor];
  const perImage = out.dims.slice(1);
  const seed = seedRow(target, perImage);
  return Array.from({ length: out.dims[0] }, (_, b) => dot(out.data as Float32Array, seed, b * seed.length));
}

export interface GalleryOptions extends VisualizationOptions {
  /** Channels to show; default the first `count`. */
  channels?: number[];
  /** Default 16 (or every channel when fewer). */
  count?: number;
  /** Folder for cached results; none: no cache. */
  cacheDir?: string;
}

/** Channel visualisations of one layer, cached per model, layer, channel and settings. */
export async function channelGallery(model: ConvModel, tensor: string, options: GalleryOptions = {}): Promise<FeatureVisualization[]> {
  assertTensorExists(model.graph, tensor);
  const dims = (await model.probeShapes()).get(tensor);
  if (!dims || dims.length < 2) throw new FeatureVisualizationError(`'${tensor}' has no channel axis`);
  const channels = options.channels ?? Array.from({ length: Math.min(dims[1], options.count ?? 16) }, (_, i) => i);
  const objectives: Objective[] = channels.map((channel) => ({ kind: 'channel', tensor, channel }));
  const keys = objectives.map((o) => cacheKey(model, o, options));
  const cached = keys.map((k) => (options.cacheDir ? readCached(options.cacheDir, k) : undefined));
  const missing = objectives.filter((_, i) => !cached[i]);
  const computed = missing.length > 0 ? await visualizeFeatures(model, missing, options) : [];
  return objectives.map((o, i) => {
    if (cached[i]) return cached[i]!;
    const result = computed[missing.indexOf(o)];
    if (options.cacheDir) writeCached(options.cacheDir, keys[i], result);
    return result;
  });
}

const modelDigests = new WeakMap<ConvModel, string>();

/** sha256 over the model bytes, the objective and every setting that changes the result. */
export function cacheKey(model: ConvModel, objective: Objective, options: VisualizationOptions): string {
  let digest = modelDigests.get(model);
  if (!digest) {
    digest = crypto.createHash('sha256').update(model.bytes).digest('hex');
    modelDigests.set(model, digest);
  }
  const settings = {
    steps: options.steps ?? 256,
    learningRate: options.learningRate ?? 0.05,
    parameterization: options.parameterization ?? 'fourier',
    decorrelate: options.decorrelate ?? true,
    transforms: options.transforms ?? {},
    blur: options.blur ?? null,
    reluGradient: options.reluGradient ?? 'redirected',
    normalize: options.normalize ?? null,
    size: options.size ?? null,
    seed: options.seed ?? 0,
  };
  return crypto.createHash('sha256').update(JSON.stringify({ digest, objective, settings })).digest('hex').slice(0, 32);
}

function cachePaths(dir: string, key: string): { json: string; npy: string } {
  const base = path.join(dir, 'feature-visualization', key);
  return { json: `${base}.json`, npy: `${base}.npy` };
}

function readCached(dir: string, key: string): FeatureVisualization | undefined {
  const { json, npy } = cachePaths(dir, key);
  try {
    const rules = { what: 'cached visualization', maxBytes: buffer.constants.MAX_LENGTH, limitHint: 'it is computed again' };
    const meta = JSON.parse(readFileChecked(json, rules).toString('utf8')) as Omit<FeatureVisualization, 'image'>;
    const image = parseNpy(new Uint8Array(readFileChecked(npy, rules))) as FloatTensor;
    return { ...meta, image };
  } catch {
    // Absent or unreadable: computed again and rewritten.
    return undefined;
  }
}

function writeCached(dir: string, key: string, result: FeatureVisualization): void {
  const { json, npy } = cachePaths(dir, key);
  fs.mkdirSync(path.dirname(json), { recursive: true });
  // The .json last: a result is read only when both files were written whole.
  writeFileAtomic(npy, formatNpy(result.image));
  writeFileAtomic(json, JSON.stringify({ objective: result.objective, activation: result.activation, history: result.history }));
}
