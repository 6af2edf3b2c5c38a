// The jobs' implementations on the core, with the state a worker keeps between calls: open
// models, preprocessed images, and recent explanations (for export).
import * as path from 'path';
import type { ActivationsView, ChannelView, ExplanationView, ImageView, MapData, MethodView, ModelView, Prediction, TargetSpec } from '../../protocol';
import { channelStats } from '../activations';
import { defaultModelCacheDir } from '../autodiff/cache';
import { computeGradients, prepareGradients } from '../autodiff/gradients';
import { UnsupportedGradientError } from '../autodiff/rule';
import { ModelContext } from '../context';
import { Explanation, Target, explain, methodByName, methodNames } from '../explain';
import { deletionInsertion } from '../explain/faithfulness';
import { resolveLayer } from '../explain/layer';
import { minMax } from '../explain/postprocess';
import { throwIfCancelled } from '../explain/forward';
import { describeTarget, resolveTarget, seedFor } from '../explain/target';
import { FloatImage } from '../image/image';
import { decodeImage } from '../image/decode';
import { encodePng, rgbToRgba } from '../image/overlay';
import { resizeBilinear } from '../image/resize';
import type { LayerInfo, ModelSummary } from '../model';
import { formatNpy } from '../npy';
import { preprocessImage } from '../preprocess';
import { renderPng } from '../render';
import { Tensor } from '../tensor';
import { JobArgs, JobContext, JobHandlers, JobName, JobResult, WorkerStatus } from './jobs';
import type { RuntimeSession } from './session';
import { datasetJobs, forgetDatasets, keptDatasetCount } from './jobs/dataset';
import { insideJobs } from './jobs/inside';
import { layerTensor } from './jobs/state';

interface LoadedImage {
  modelPath: string;
  name: string;
  tensor: Tensor;
  rgb?: FloatImage;
}

const contexts = new Map<string, ModelContext>();
const images = new Map<string, LoadedImage>();
const explanations = new Map<string, { explanation: Explanation; image: LoadedImage }>();
const MAX_KEPT_EXPLANATIONS = 32;
let nextId = 1;

function contextFor(modelPath: string): ModelContext {
  const ctx = contexts.get(modelPath);
  if (!ctx) throw new Error(`the model ${path.basename(modelPath)} is not open`);
  return ctx;
}

function imageFor(imageId: string): LoadedImage {
  const image = images.get(imageId);
  if (!image) throw new Error('that image is no longer loaded; choose it again');
  return image;
}

function toTarget(spec: TargetSpec): Target {
  if (spec.kind === 'difference') return { kind: 'difference', a: spec.a, b: spec.b };
  return { kind: 'class', index: spec.kind === 'top' ? 'top' : spec.index };
}

function mapData(map: Tensor): MapData {
  const [height, width] = map.dims.slice(-2);
  const values = Array.from(map.data as Float32Array, (v) => Math.round(v * 1e4) / 1e4);
  return { width, height, values, signed: values.some((v) => v < 0) };
}

async function gradientProblem(ctx: ModelContext): Promise<{ problem?: string; camLayer?: string }> {
  const output = ctx.model.summary().outputs[0].name;
  let camLayer: string | undefined;
  try {
    camLayer = (await resolveLayer(ctx.model, 'auto', output)).tensor;
  } catch {
    // No spatial layer before a pooling head: CAM methods need a layer chosen by hand.
  }
  try {
    const dims = ctx.model.inputDims();
    const probe = { dtype: 'float32' as const, dims, data: new Float32Array(dims.reduce((a, b) => a * b, 1)) };
    const { output: out } = await resolveTarget(ctx.model, probe, { kind: 'class', index: 0 });
    await computeGradients(ctx.model, ctx.feeds(probe), { wrt: [ctx.inputInfo.name], seed: seedFor({ kind: 'class', index: 0, output }, out.dims, out.dims[0]) });
    return { camLayer };
  } catch (err) {
    if (err instanceof UnsupportedGradientError) return { problem: `${err.message}; gradient-free methods still work`, camLayer };
    return { problem: (err as Error).message, camLayer };
  }
}

/**
 * Opens a model in phases (decode, summary, layer shapes, session, gradient check) with progress,
 * stopping between them when cancelled; a cancelled or failed open leaves the model closed. A
 * phase stuck in one native call is ended by the client killing the worker after its grace period.
 */
async function openModel({ modelPath, provider, preprocessing, settingsFolder, activationMemory, decode }: JobArgs<'openModel'>, job: JobContext): Promise<ModelView> {
  await closeModel({ modelPath });
  const name = path.basename(modelPath);
  job.progress(0, `reading ${name}`);
  const ctx = ModelContext.open(modelPath, { provider, preprocessing, settingsFolder, activationMemory, decode, cacheDir: defaultModelCacheDir() });
  contexts.set(modelPath, ctx);
  try {
    throwIfCancelled(job.signal);
    job.progress(0.2, `summarising ${ctx.model.graph.node.length} nodes`);
    const summary = ctx.model.summary();
    throwIfCancelled(job.signal);
    job.progress(0.3, 'finding layer shapes');
    const layers = await ctx.model.layers();
    throwIfCancelled(job.signal);
    job.progress(0.6, 'starting the runtime');
    const runtime = await ctx.model.baseSession();
    throwIfCancelled(job.signal);
    job.progress(0.8, 'checking gradients');
    // A graph too large to probe is too large to check gradients on in reasonable time.
    const gradients = ctx.model.shapeProbeLimit ? { problem: ctx.model.shapeProbeLimit } : await gradientProblem(ctx);
    throwIfCancelled(job.signal);
    if (!gradients.problem && gradients.camLayer) prebuild(modelPath, ctx, gradients.camLayer);
    return modelView(modelPath, ctx, summary, layers, runtime, gradients);
  } catch (err) {
    // A newer open of the same file (a reopen) may have replaced this one: close only our own.
    if (contexts.get(modelPath) === ctx) await closeModel({ modelPath });
    else await ctx.dispose();
    throw err;
  }
}

function modelView(
  modelPath: string, ctx: ModelContext, summary: ModelSummary, layers: LayerInfo[], runtime: RuntimeSession, gradients: { problem?: string; camLayer?: string },
): ModelView {
  return {
    name: path.basename(modelPath),
    path: modelPath,
    producer: summary.producer,
    opset: summary.opset,
    inputs: summary.inputs,
    outputs: summary.outputs,
    parameterCount: summary.parameterCount,
    opHistogram: summary.opHistogram,
    layers: layers.flatMap((l) => l.outputs.map((o) => ({ name: l.name, opType: l.opType, tensor: o.name, shape: o.shape, scope: l.scope, sourceTrace: l.sourceTrace }))),
    provider: { name: runtime.provider, reason: runtime.reason },
    preprocessing: ctx.preprocessing
      ? { description: ctx.preprocessing.explanation, source: ctx.preprocessing.source }
      : { description: ctx.preprocessingProblem ?? 'unknown', source: 'none' },
    gradientProblem: gradients.problem,
    defaultCamLayer: gradients.camLayer,
  };
}

// Background builds of a model's first explanation, by model path, cancelled when it closes.
const prebuilds = new Map<string, AbortController>();
// Jobs running now: the background build waits for none to run, so it delays no job that was asked for.
let runningJobs = 0;
const IDLE_MS = 300;

async function whenIdle(signal: AbortSignal): Promise<void> {
  do {
    await new Promise((resolve) => setTimeout(resolve, IDLE_MS));
    throwIfCancelled(signal);
  } while (runningJobs > 0);
}

/**
 * Builds the gradient session of the Grad-CAM family (the default method: the default CAM layer,
 * the top class) in the background once the worker is idle, so the first click runs at once; the
 * session lands in the model's session cache (and the disk cache) for the explain job to find.
 */
function prebuild(modelPath: string, ctx: ModelContext, camLayer: string): void {
  prebuilds.get(modelPath)?.abort();
  const controller = new AbortController();
  prebuilds.set(modelPath, controller);
  const output = ctx.model.summary().outputs[0].name;
  whenIdle(controller.signal)
    .then(() => prepareGradients(ctx.model, { wrt: [camLayer], output, seed: 'top' }))
    // A failure here is the explain job's to report, when one is asked for.
    .catch(() => undefined)
    .finally(() => {
      if (prebuilds.get(modelPath) === controller) prebuilds.delete(modelPath);
    });
}

async function closeModel({ modelPath }: JobArgs<'closeModel'>): Promise<void> {
  prebuilds.get(modelPath)?.abort();
  const ctx = contexts.get(modelPath);
  contexts.delete(modelPath);
  for (const [id, image] of images) if (image.modelPath === modelPath) images.delete(id);
  for (const [id, kept] of explanations) if (kept.image.modelPath === modelPath) explanations.delete(id);
  forgetDatasets(modelPath);
  await ctx?.dispose();
}

function imageView(id: string, image: LoadedImage): ImageView {
  const [h, w] = image.tensor.dims.slice(-2);
  const rgb = image.rgb;
  const png = rgb ? encodePng(rgbToRgba({ width: rgb.width, height: rgb.height, data: Uint8Array.from(rgb.data, (v) => Math.round(Math.min(1, Math.max(0, v)) * 255)) }), rgb.width, rgb.height) : undefined;
  return { id, name: image.name, width: w, height: h, dataUrl: png ? `data:image/png;base64,${Buffer.from(png).toString('base64')}` : '' };
}

async function loadImage({ modelPath, imagePath, name, base64 }: JobArgs<'loadImage'>): Promise<ImageView> {
  const ctx = contextFor(modelPath);
  let loaded: LoadedImage;
  if (imagePath) {
    const input = ctx.loadInput(imagePath);
    loaded = { modelPath, name: name ?? path.basename(imagePath), tensor: input.tensor, rgb: input.rgb };
  } else if (base64) {
    if (!ctx.preprocessing) throw new Error(`cannot preprocess images for ${ctx.name}: ${ctx.preprocessingProblem}`);
    const decoded = decodeImage(Buffer.from(base64, 'base64'), { ...ctx.limits, name });
    const { tensor, rgb } = preprocessImage(decoded, ctx.preprocessing.spec, ctx.limits);
    loaded = { modelPath, name: name ?? 'dropped image', tensor, rgb };
  } else {
    throw new Error('no image given');
  }
  const id = `img-${nextId++}`;
  images.set(id, loaded);
  return imageView(id, loaded);
}

async function predict({ modelPath, imageId, topK }: JobArgs<'predict'>): Promise<Prediction[]> {
  const { top } = await contextFor(modelPath).predict(imageFor(imageId).tensor, topK);
  return top[0];
}

function keep(explanation: Explanation, image: LoadedImage): string {
  const id = `exp-${nextId++}`;
  explanations.set(id, { explanation, image });
  if (explanations.size > MAX_KEPT_EXPLANATIONS) explanations.delete(explanations.keys().next().value as string);
  return id;
}

async function explainJob(args: JobArgs<'explain'>, job: JobContext): Promise<ExplanationView> {
  const ctx = contextFor(args.modelPath);
  const image = imageFor(args.imageId);
  const started = performance.now();
  const explainContext = {
    model: ctx.model, input: image.tensor, target: toTarget(args.target), layer: args.layer || undefined,
    progress: (f: number, m: string) => job.progress(args.faithfulness ? f * 0.7 : f, m), signal: job.signal,
  };
  const e = await explain(args.method, explainContext, args.options ?? {});
  const seconds = (performance.now() - started) / 1000;
  let faithfulness: ExplanationView['faithfulness'];
  if (args.faithfulness) {
    job.progress(0.7, 'faithfulness: deletion and insertion curves');
    const f = await deletionInsertion({ ...explainContext, progress: (p, m) => job.progress(0.7 + 0.3 * p, m) }, e.map);
    faithfulness = { deletionAuc: f.deletion.normalizedAuc, insertionAuc: f.insertion.normalizedAuc };
  }
  const t = e.target;
  return {
    id: keep(e, image),
    imageId: args.imageId,
    method: args.method,
    layer: e.layer,
    target: t.kind === 'class' ? { kind: 'class', index: t.index } : { kind: 'difference', a: t.a, b: t.b },
    targetLabel: t.kind === 'class' ? ctx.labelOf(t.index) : `${ctx.labelOf(t.a)} rather than ${ctx.labelOf(t.b)}`,
    map: mapData(e.map),
    notes: [`${methodByName(args.method).formula}`, ...e.notes, describeTarget(t)],
    seconds,
    faithfulness,
  };
}

const THUMBNAIL = 32;

async function activationsJob({ modelPath, imageId, layer: requested, target }: JobArgs<'activations'>, job: JobContext): Promise<ActivationsView> {
  const ctx = contextFor(modelPath);
  const image = imageFor(imageId);
  // The panel names layers by node; the run needs the node's output tensor.
  const layer = await layerTensor(ctx.model, requested);
  job.progress(0.1, `running ${layer}`);
  const outputs = await ctx.model.run(ctx.feeds(image.tensor), [layer]);
  const activation = outputs[layer];
  if (activation.dims.length < 2) throw new Error(`layer '${layer}' has shape [${activation.dims.join(', ')}]; it has no channels to show`);
  const stats = channelStats(activation);
  const weights = await gradcamWeights(ctx, image.tensor, layer, target).catch(() => undefined);
  const [, c] = activation.dims;
  const [h, w] = activation.dims.length === 4 ? activation.dims.slice(2) : [1, 1];
  const plane = h * w;
  const scale = Math.min(1, THUMBNAIL / Math.max(h, w));
  const [th, tw] = [Math.max(1, Math.round(h * scale)), Math.max(1, Math.round(w * scale))];
  const channels: ChannelView[] = stats.map((s) => {
    const values = (activation.data as Float32Array).subarray(s.index * plane, (s.index + 1) * plane);
    const small = th === h && tw === w ? Float32Array.from(values) : resizeBilinear(values, h, w, th, tw);
    return { index: s.index, mean: s.mean, max: s.max, zeroFraction: s.zeroFraction, dead: s.dead, gradcamWeight: weights?.[s.index], map: mapData({ dtype: 'float32', dims: [th, tw], data: minMax(small) }) };
  });
  job.progress(1, `${c} channels`);
  return { requestId: '', imageId, layer, shape: activation.dims, channels };
}

/** α_k = mean over positions of ∂y/∂A_k, as Grad-CAM weighs channel k. */
async function gradcamWeights(ctx: ModelContext, input: Tensor, layer: string, target: TargetSpec): Promise<number[] | undefined> {
  const { target: resolved, output } = await resolveTarget(ctx.model, input, toTarget(target));
  const { gradients } = await computeGradients(ctx.model, ctx.feeds(input), { wrt: [layer], output: resolved.output, seed: seedFor(resolved, output.dims, 1) });
  const g = gradients[layer];
  if (g.dims.length !== 4) return undefined;
  const [, c, h, w] = g.dims;
  const data = g.data as Float32Array;
  return Array.from({ length: c }, (_, k) => data.subarray(k * h * w, (k + 1) * h * w).reduce((a, b) => a + b, 0) / (h * w));
}

async function exportExplanation({ explanationId, format }: JobArgs<'exportExplanation'>): Promise<JobResult<'exportExplanation'>> {
  const kept = explanations.get(explanationId);
  if (!kept) throw new Error('that explanation is no longer kept; run it again to export it');
  const { explanation: e, image } = kept;
  const base = `${path.parse(image.name).name}-${e.method}`;
  if (format === 'npy') return { bytes: formatNpy(e.raw), suggestedName: `${base}.npy` };
  return { bytes: renderPng(e.map, image.rgb), suggestedName: `${base}.png` };
}

type Handlers = JobHandlers<JobName>;

async function status(): Promise<WorkerStatus> {
  return { models: [...contexts.keys()], images: images.size, explanations: explanations.size, datasets: keptDatasetCount() };
}

async function methods(): Promise<MethodView[]> {
  return methodNames().map((name) => {
    const m = methodByName(name);
    return { name, title: m.title, kind: m.kind, needsGradients: m.needsGradients, formula: m.formula };
  });
}

const state = { contextFor, imageFor };

const handlers: Handlers = {
  openModel, closeModel, status, loadImage, predict, explain: explainJob, activations: activationsJob, exportExplanation, methods,
  ...datasetJobs(state), ...insideJobs(state),
};

export function runJob<J extends JobName>(job: J, args: JobArgs<J>, ctx: JobContext): Promise<JobResult<J>> {
  const handler = Object.hasOwn(handlers, job) ? (handlers[job] as Handlers[J]) : undefined;
  if (!handler) return Promise.reject(new Error(`unknown job '${job}'`));
  runningJobs++;
  return handler(args, ctx).finally(() => runningJobs--);
}
