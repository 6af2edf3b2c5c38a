// Real host messages for the webview tests, computed with the core on the sample model
// (sample/shapes.onnx, four shape classes; ../shared/reference/resnet18.onnx when the sample is
// absent): predictions from model.run, explanations and faithfulness scores (deletion/insertion,
// pointing game) from src/core/explain, activations and their statistics from a real run.
import * as fs from 'fs';
import * as path from 'path';
import { PNG } from 'pngjs';
import { channelStats } from '../../src/core/activations';
import { inputPipelineFor } from '../../src/core/dataset/input';
import { deletionInsertion, pointingGame } from '../../src/core/explain/faithfulness';
import { gradientsOf } from '../../src/core/explain/gradients';
import { ExplanationMethod, METHODS, explain, methodView } from '../../src/core/explain/index';
import { resolveLayer } from '../../src/core/explain/layer';
import { RgbImage } from '../../src/core/image/image';
import { IMAGENET_CLASSES } from '../../src/core/labels/imagenet-classes';
import { ConvModel } from '../../src/core/model';
import { FloatTensor, Tensor } from '../../src/core/tensor';
import type { ActivationsView, ExplanationView, ImageView, MethodView, ModelView, Prediction } from '../../src/protocol';

export const ROOT = path.resolve(__dirname, '../../..');
const SAMPLE = path.join(ROOT, 'sample');
const REFERENCE = process.env.CONVLENS_REFERENCE ?? path.resolve(ROOT, '../shared/reference');

export interface Fixtures {
  model: ModelView;
  methods: MethodView[];
  images: ImageView[];
  predictions: Map<string, Prediction[]>;
  /** CAM of the first image for its top-1 class. */
  explanation: ExplanationView;
  /** Grad-CAM of the first image for "why its top class and not its second" (a signed map). */
  difference: ExplanationView;
  /** COMPARED methods on the first image, with faithfulness scores. */
  comparison: ExplanationView[];
  /** A layer with at least one channel that is dead for the first image. */
  activations: ActivationsView;
}

interface SourceImage {
  name: string;
  rgb: RgbImage;
  box?: number[];
}

interface Source {
  modelFile: string;
  /** One image per class: the panel's images. */
  shown: SourceImage[];
  /** Where to look for an image with a dead channel (the grid test needs one). */
  candidates: () => SourceImage[];
  labels: readonly string[];
  hasSource: (scope: string) => boolean;
}

function decodePng(file: string): RgbImage {
  const png = PNG.sync.read(fs.readFileSync(file));
  const data = new Uint8Array(png.width * png.height * 3);
  for (let i = 0; i < png.width * png.height; i++) data.set(png.data.subarray(i * 4, i * 4 + 3), i * 3);
  return { width: png.width, height: png.height, data };
}

/** The sample model with its test images and their boxes; else resnet18 on the reference photos. */
function findSource(): Source {
  const boxesFile = path.join(SAMPLE, 'dataset', 'boxes.json');
  if (fs.existsSync(path.join(SAMPLE, 'shapes.onnx')) && fs.existsSync(boxesFile)) {
    const boxes = JSON.parse(fs.readFileSync(boxesFile, 'utf8')) as { classes: string[]; images: Record<string, { class: string; bbox: number[] }> };
    const load = (rel: string): SourceImage => ({ name: rel.replace(/^test\//, ''), rgb: decodePng(path.join(SAMPLE, 'dataset', rel)), box: boxes.images[rel].bbox });
    const firstPerClass = boxes.classes.map((c) => Object.keys(boxes.images).find((k) => boxes.images[k].class === c)).filter((k): k is string => !!k);
    const train = fs.readFileSync(path.join(SAMPLE, 'train.py'), 'utf8');
    return {
      modelFile: path.join(SAMPLE, 'shapes.onnx'),
      shown: firstPerClass.map(load),
      candidates: () => Object.keys(boxes.images).map(load),
      labels: fs
        .readFileSync(path.join(SAMPLE, 'shapes.labels.txt'), 'utf8')
        .split('\n')
        .map((l) => l.trim())
        .filter(Boolean),
      hasSource: (scope) => train.includes(`self.${scope.split('.')[0]} =`),
    };
  }
  const manifest = JSON.parse(fs.readFileSync(path.join(REFERENCE, 'manifest.json'), 'utf8')) as {
    cases: { model: string; image: string; dir: string; tensors: Record<string, number[]> }[];
  };
  const photos = manifest.cases
    .filter((c) => c.model === 'resnet18')
    .map((c) => {
      const [h, w] = c.tensors.rgb;
      const bytes = fs.readFileSync(path.join(REFERENCE, c.dir, 'rgb.f32'));
      const rgb = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
      return { name: `${c.image}.png`, rgb: { width: w, height: h, data: Uint8Array.from(rgb, (v) => Math.round(v * 255)) } };
    });
  return { modelFile: path.join(REFERENCE, 'resnet18.onnx'), shown: photos, candidates: () => photos, labels: IMAGENET_CLASSES, hasSource: () => false };
}

function pngDataUrl(image: RgbImage): string {
  const png = new PNG({ width: image.width, height: image.height });
  for (let i = 0; i < image.width * image.height; i++) png.data.set([...image.data.subarray(i * 3, i * 3 + 3), 255], i * 4);
  return `data:image/png;base64,${PNG.sync.write(png).toString('base64')}`;
}

function softmax(logits: ArrayLike<number>): number[] {
  const max = Math.max(...Array.from(logits));
  const e = Array.from(logits, (v) => Math.exp(v - max));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / sum);
}

function topK(logits: ArrayLike<number>, labels: readonly string[], k: number): Prediction[] {
  const p = softmax(logits);
  return p
    .map((probability, index) => ({ index, label: labels[index] ?? `class ${index}`, logit: logits[index], probability }))
    .sort((a, b) => b.probability - a.probability)
    .slice(0, k);
}

/** The methods the compare test ticks: three that give different maps on a GAP + linear head. */
export const COMPARED = ['cam', 'eigencam', 'scorecam'];

async function explanationView(
  model: ConvModel,
  method: ExplanationMethod,
  input: FloatTensor,
  image: SourceImage & { id: string },
  labels: readonly string[],
  versus?: { a: number; b: number },
): Promise<ExplanationView> {
  const target = versus ? { kind: 'difference' as const, ...versus } : { kind: 'class' as const, index: 'top' as const };
  const ctx = { model, input, target, layer: 'auto' };
  const started = process.hrtime.bigint();
  const e = await explain(method.name, ctx);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const [height, width] = e.map.dims;
  const index = e.target.kind === 'difference' ? e.target.a : e.target.kind === 'class' ? e.target.index : 0;
  const scores = versus ? undefined : await deletionInsertion(ctx, e.map);
  // boxes.json boxes are [x0, y0, x1, y1) with exclusive ends; pointingGame takes inclusive bounds.
  const box = image.box && { x0: image.box[0], y0: image.box[1], x1: image.box[2] - 1, y1: image.box[3] - 1 };
  return {
    id: `${method.name}-${image.id}`,
    imageId: image.id,
    method: method.name,
    layer: e.layer,
    target: versus ? { kind: 'difference', ...versus } : { kind: 'top' },
    targetLabel: versus ? `${labels[versus.a]} rather than ${labels[versus.b]}` : `${labels[index] ?? `class ${index}`} (#${index})`,
    map: { width, height, values: Array.from(e.map.data as Float32Array), ...(e.signed ? { signed: true } : {}) },
    notes: e.notes,
    seconds,
    faithfulness: scores && { deletionAuc: scores.deletion.auc, insertionAuc: scores.insertion.auc, ...(box ? { pointingGame: pointingGame(e.map, box).hit } : {}) },
  };
}

/** Channels of a layer's output for one image, maps scaled by the layer's maximum (so thumbnails compare). */
function activationsView(requestId: string, imageId: string, layer: string, activation: Tensor, gradcamWeights: ArrayLike<number>): ActivationsView {
  const [, , h, w] = activation.dims;
  const data = activation.data as Float32Array;
  const layerMax = data.reduce((m, v) => Math.max(m, v), 1e-12);
  const channels = channelStats(activation).map((s) => ({
    index: s.index,
    mean: s.mean,
    max: s.max,
    zeroFraction: s.zeroFraction,
    dead: s.dead,
    gradcamWeight: gradcamWeights[s.index],
    map: { width: w, height: h, values: Array.from(data.subarray(s.index * h * w, (s.index + 1) * h * w), (v) => Math.max(0, v) / layerMax) },
  }));
  return { requestId, imageId, layer, shape: activation.dims, channels };
}

export async function computeFixtures(): Promise<Fixtures> {
  const source = findSource();
  const model = ConvModel.load(source.modelFile, { provider: 'cpu' });
  try {
    const pipeline = inputPipelineFor(model);
    const summary = model.summary();
    const output = summary.outputs[0].name;
    const auto = await resolveLayer(model, 'auto', output);
    const layers = await model.layers();
    const dead = await imageWithDeadChannel(
      model,
      source,
      pipeline.toTensor,
      auto.tensor,
      layers.map((l) => l.outputs[0]),
    );
    const shown = source.shown.some((i) => i.name === dead.image.name) ? source.shown : [...source.shown, dead.image];
    const [h, w] = pipeline.size;
    const images: ImageView[] = shown.map((i, k) => ({ id: `img${k}`, name: i.name, width: w, height: h, dataUrl: pngDataUrl(resized(i.rgb, w, h)) }));
    const inputs = shown.map((i) => pipeline.toTensor(i.rgb));
    const predictions = new Map<string, Prediction[]>();
    for (const [k, image] of images.entries()) {
      const logits = (await model.run({ [model.input.name]: inputs[k] }))[output].data as Float32Array;
      predictions.set(image.id, topK(logits, source.labels, Math.min(5, logits.length)));
    }
    const modelView: ModelView = {
      name: path.basename(source.modelFile),
      path: source.modelFile,
      producer: summary.producer,
      opset: summary.opset,
      inputs: summary.inputs,
      outputs: summary.outputs,
      parameterCount: summary.parameterCount,
      opHistogram: summary.opHistogram,
      layers: layers.map((l) => ({
        name: l.name,
        opType: l.opType,
        tensor: l.outputs[0].name,
        shape: l.outputs[0].shape,
        scope: l.scope,
        hasSource: !!l.scope && source.hasSource(l.scope),
      })),
      provider: { name: 'cpu', reason: 'CPU requested by the test', threads: 2 },
      preprocessing: { description: `resize to ${w}×${h}, scale, normalise by mean and std`, source: 'sidecar or ImageNet defaults' },
      defaultCamLayer: layers.find((l) => l.outputs[0].name === auto.tensor)?.name ?? auto.tensor,
    };
    const comparison: ExplanationView[] = [];
    for (const name of COMPARED) comparison.push(await explanationView(model, METHODS[name], inputs[0], { ...shown[0], id: images[0].id }, source.labels));
    const explanation = { ...comparison[0], id: `single-${comparison[0].id}`, faithfulness: undefined };
    const [first, second] = predictions.get(images[0].id)!;
    const difference = await explanationView(model, METHODS.gradcam, inputs[0], { ...shown[0], id: images[0].id }, source.labels, { a: first.index, b: second.index });

    const deadId = images[shown.findIndex((i) => i.name === dead.image.name)].id;
    const top = predictions.get(deadId)![0].index;
    const weights = await gradCamWeights(model, inputs[shown.findIndex((i) => i.name === dead.image.name)], dead.layer, output, top);
    const activations = activationsView('fixture-activations', deadId, dead.layer, dead.activation, weights);
    return { model: modelView, methods: Object.values(METHODS).map(methodView), images, predictions, explanation, difference, comparison, activations };
  } finally {
    await model.dispose();
  }
}

/**
 * The first candidate image with a channel that is dead (never positive) for it, preferring the
 * CAM layer, then the last spatial layers.
 */
async function imageWithDeadChannel(
  model: ConvModel,
  source: Source,
  toTensor: (i: RgbImage) => FloatTensor,
  camLayer: string,
  outputs: { name: string; shape?: number[] }[],
): Promise<{ image: SourceImage; layer: string; activation: Tensor }> {
  const spatial = outputs
    .filter((o) => o.shape?.length === 4 && o.shape[2] * o.shape[3] > 1)
    .map((o) => o.name)
    .reverse();
  const order = [camLayer, ...spatial.filter((n) => n !== camLayer)];
  for (const image of source.candidates()) {
    const run = await model.run({ [model.input.name]: toTensor(image.rgb) }, order);
    const layer = order.find((name) => channelStats(run[name]).some((s) => s.dead));
    if (layer) return { image, layer, activation: run[layer] };
  }
  throw new Error('no test image has a dead channel in any layer of the test model: the activation grid test needs one');
}

/** Grad-CAM's channel weights at a layer: α_k = mean over positions of ∂y_target/∂A_k (src/core/explain/gradients). */
async function gradCamWeights(model: ConvModel, input: FloatTensor, layer: string, output: string, target: number): Promise<Float64Array> {
  const resolved = { kind: 'class' as const, index: target, output };
  const outputDims = (await model.run({ [model.input.name]: input }))[output].dims;
  const ctx = { model, input, target: resolved };
  const { gradients } = await gradientsOf(ctx, resolved, outputDims, input, [layer]);
  const g = gradients[layer];
  const [, c, h, w] = g.dims;
  const data = g.data as Float32Array;
  return Float64Array.from({ length: c }, (_, k) => data.subarray(k * h * w, (k + 1) * h * w).reduce((a, b) => a + b, 0) / (h * w));
}

/** Nearest-neighbour resize to the model's input size (what the input pipeline samples). */
function resized(image: RgbImage, w: number, h: number): RgbImage {
  if (image.width === w && image.height === h) return image;
  const data = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) {
    const sy = Math.min(image.height - 1, Math.floor(((y + 0.5) * image.height) / h));
    for (let x = 0; x < w; x++) {
      const sx = Math.min(image.width - 1, Math.floor(((x + 0.5) * image.width) / w));
      data.set(image.data.subarray((sy * image.width + sx) * 3, (sy * image.width + sx) * 3 + 3), (y * w + x) * 3);
    }
  }
  return { width: w, height: h, data };
}
