// The jobs' implementations on the core, with the state a worker keeps between calls (open
// models, preprocessed images, recent explanations for export, datasets) in one JobRunner.
import * as path from 'path';
import type { ActivationsView, ChannelView, ExplanationView, ImageView, MethodView, ModelView, Prediction, TargetSpec } from '../protocol';
import { channelStats } from '../core/activations';
import { defaultModelCacheDir } from '../core/autodiff/cache';
import { checkGradientGraph, computeGradients, prepareGradients } from '../core/autodiff/gradients';
import { UnsupportedGradientError } from '../core/autodiff/rule';
import { ModelContext } from '../core/context';
import { explain, Explanation, methodByName, methodNames, methodView, ResolvedTarget, Target } from '../core/explain';
import { deletionInsertion } from '../core/explain/faithfulness';
import { resolveLayer } from '../core/explain/layer';
import { minMax } from '../core/explain/postprocess';
import { throwIfCancelled } from '../core/cancel';
import { TargetFileNames, describeTarget, formatTarget, resolveTarget, seedFor, unresolved } from '../core/explain/target';
import { DIVERGING_COLORMAP } from '../core/image/colormap';
import { RgbImage } from '../core/image/image';
import { decodeImage, readInputBytes } from '../core/image/decode';
import { encodePng, rgbToRgba } from '../core/image/overlay';
import { withTextChunks } from '../core/image/png-text';
import { resizeBilinear } from '../core/image/resize';
import type { LayerInfo, ModelSummary } from '../core/model';
import { formatNpy } from '../core/npy';
import { InputError, inputFormatOf, modelRegion, preprocessImage } from '../core/preprocess';
import { ImageRegion, isSigned, renderMap, renderMapOnOriginal } from '../core/render';
import { float32, mapToUint8, Tensor } from '../core/tensor';
import { JobArgs, JobContext, JobHandlers, JobName, JobResult, WorkerStatus } from './jobs';
import type { RuntimeSession } from '../core/onnx/session';
import { datasetJobs, KeptDatasets } from './jobs/dataset';
import { datasetAnalysisJobs } from './jobs/dataset-analysis';
import { explainAllJobs } from './jobs/explain-all';
import { graphJobs } from './jobs/graph';
import { insideJobs } from './jobs/inside';
import { modelForTarget, releaseTargetModels, taskAwareTarget, taskJobs } from './jobs/tasks';
import { mayHaveTaskOutputs, readTaskOutputs, taskPredictions } from '../core/task-outputs';
import { layerTensor, tensorMapData, WorkerImage, WorkerState } from './jobs/state';
import { inputFormatProblem, ndInputView } from './jobs/nd-inputs';
import { readFileChecked } from '../core/files';

const MAX_KEPT_EXPLANATIONS = 32;

/** The core's target for a view's: a drawn mask as a tensor, a reference image by id as its embedding (one forward pass). */
async function toTarget(ctx: ModelContext, spec: TargetSpec, state: WorkerState): Promise<Target> {
  switch (spec.kind) {
    case 'top':
      return { kind: 'class', index: 'top' };
    case 'region': {
      const mask = spec.mask === 'predicted' ? 'predicted' : float32([spec.mask.height, spec.mask.width], spec.mask.values);
      return { kind: 'region', class: spec.class, mask, output: spec.output };
    }
    case 'box':
      return { kind: 'box', index: spec.index, detection: { boxes: spec.boxes, iou: spec.iou, minScore: spec.minScore, sigmoid: spec.sigmoid }, output: spec.output };
    case 'similarity': {
      const output = spec.output ?? ctx.model.summary().outputs[0].name;
      const reference = (await ctx.model.run(ctx.feeds(state.imageFor(spec.imageId).tensor)))[output];
      if (!reference) throw new Error(`the model has no output named '${spec.output}'`);
      return { kind: 'similarity', reference: Float32Array.from(reference.data as Float32Array), output };
    }
    default:
      return spec;
  }
}

/** The view's form of a resolved target: 'top' and a predicted mask stay as asked, a class is named. */
function targetView(asked: TargetSpec, t: ResolvedTarget): TargetSpec {
  if (t.kind === 'class') return { kind: 'class', index: t.index };
  if (t.kind === 'difference') return { kind: 'difference', a: t.a, b: t.b };
  return asked;
}

function targetLabel(ctx: ModelContext, t: ResolvedTarget): string {
  if (t.kind === 'class') return ctx.labelOf(t.index);
  if (t.kind === 'difference') return `${ctx.labelOf(t.a)} rather than ${ctx.labelOf(t.b)}`;
  return describeTarget(t);
}

/** A model's context closed, with the copies made of its model for box targets (jobs/tasks.ts). */
async function disposeContext(ctx: ModelContext): Promise<void> {
  await releaseTargetModels(ctx.model);
  await ctx.dispose();
}

/** Above this many nodes, opening a model builds its gradient graph but not the graph's session. */
const FULL_GRADIENT_CHECK_NODES = 2000;

/** The layer CAM methods explain by default, or undefined where there is none (no spatial layer before a pooling head: CAM methods need a layer chosen by hand). */
async function defaultCamLayer(ctx: ModelContext): Promise<string | undefined> {
  try {
    return (await resolveLayer(ctx.model, 'auto', ctx.model.summary().outputs[0].name)).tensor;
  } catch {
    return undefined;
  }
}

/** Why gradient methods cannot run (undefined when they can), the default CAM layer, and whether its gradient session is still to be built. */
async function gradientProblem(ctx: ModelContext, camLayer: string | undefined): Promise<{ problem?: string; camLayer?: string; prebuild?: boolean }> {
  const output = ctx.model.summary().outputs[0].name;
  try {
    const dims = ctx.model.inputDims();
    const probe = { dtype: 'float32' as const, dims, data: new Float32Array(dims.reduce((a, b) => a * b, 1)) };
    const { output: out } = await resolveTarget(ctx.model, probe, { kind: 'class', index: 0 });
    // A large graph's gradient session takes onnxruntime tens of seconds to create: the open checks
    // that every op has a rule, and the session is built by the first gradient method (or the
    // background prebuild) instead.
    const large = ctx.model.graph.node.length > FULL_GRADIENT_CHECK_NODES;
    if (large || camLayer) await checkGradientGraph(ctx.model, { wrt: [ctx.inputInfo.name], output });
    if (large) return { camLayer, prebuild: true };
    if (camLayer) {
      // Every op's rule was checked by building the input's gradient graph; the session that runs
      // is the Grad-CAM family's (default layer, top class), the one the first click uses.
      await computeGradients(ctx.model, ctx.feeds(probe), { wrt: [camLayer], output, seed: 'top' });
      return { camLayer, prebuild: false };
    }
    await computeGradients(ctx.model, ctx.feeds(probe), { wrt: [ctx.inputInfo.name], seed: seedFor({ kind: 'class', index: 0, output }, out.dims, out.dims[0]) });
    return { camLayer, prebuild: false };
  } catch (err) {
    if (err instanceof UnsupportedGradientError) return { problem: `${err.message}; gradient-free methods still work`, camLayer };
    return { problem: (err as Error).message, camLayer };
  }
}

function modelView(
  modelPath: string,
  ctx: ModelContext,
  summary: ModelSummary,
  layers: LayerInfo[],
  runtime: RuntimeSession,
  gradients: { problem?: string; camLayer?: string },
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
    provider: { name: runtime.provider, reason: runtime.reason, threads: runtime.threads },
    preprocessing: ctx.preprocessing
      ? { description: ctx.preprocessing.explanation, source: ctx.preprocessing.source, spec: ctx.preprocessing.spec }
      : { description: ctx.preprocessingProblem ?? 'unknown', source: 'none' },
    gradientProblem: gradients.problem,
    defaultCamLayer: gradients.camLayer,
  };
}

/** How long the worker must be idle before a background build starts. */
const IDLE_MS = 300;

function imageView(id: string, image: WorkerImage): ImageView {
  const nd = ndInputView(image.tensor);
  if (nd) return { id, name: image.name, ...nd };
  const [h, w] = image.tensor.dims.slice(-2);
  const rgb = image.rgb;
  const png = rgb
    ? encodePng(rgbToRgba({ width: rgb.width, height: rgb.height, data: mapToUint8(rgb.data, (v) => Math.round(Math.min(1, Math.max(0, v)) * 255)) }), rgb.width, rgb.height)
    : undefined;
  return { id, name: image.name, width: w, height: h, dataUrl: png ? `data:image/png;base64,${Buffer.from(png).toString('base64')}` : '' };
}

const THUMBNAIL = 32;
/** Samples of a 1-D layer's channel sent to the Activations view (its line's resolution). */
const SIGNAL_THUMBNAIL = 256;

/** α_k = mean over positions of ∂y/∂A_k, as Grad-CAM weighs channel k. */
async function gradcamWeights(ctx: ModelContext, input: Tensor, layer: string, target: TargetSpec, state: WorkerState): Promise<number[] | undefined> {
  const spec = await taskAwareTarget(ctx, input, target);
  const { target: resolved, output } = await resolveTarget(ctx.model, input, await toTarget(ctx, spec, state));
  const { gradients } = await computeGradients(ctx.model, ctx.feeds(input), { wrt: [layer], output: resolved.output, seed: seedFor(resolved, output.dims, 1, output), once: true });
  const g = gradients[layer];
  // Channels and positions: a picture's [1, C, H, W], a 1-D model's [1, C, L].
  if (g.dims.length !== 4 && !(g.dims.length === 3 && ctx.inputInfo.shape.length === 3)) return undefined;
  const [, c] = g.dims;
  const plane = g.dims.slice(2).reduce((a, b) => a * b, 1);
  const data = g.data as Float32Array;
  return Array.from({ length: c }, (_, k) => data.subarray(k * plane, (k + 1) * plane).reduce((a, b) => a + b, 0) / plane);
}

async function methods(): Promise<MethodView[]> {
  return methodNames().map((name) => methodView(methodByName(name)));
}

type Handlers = JobHandlers<JobName>;

/**
 * One worker process's state between jobs, open models, loaded images, recent explanations (for
 * export) and datasets, with the jobs that read and change it; the job modules reach it as WorkerState.
 */
export class JobRunner implements WorkerState {
  private readonly contexts = new Map<string, ModelContext>();
  private readonly images = new Map<string, WorkerImage>();
  /** Recent explanations with what they were asked with (the export's metadata reproduces the request). */
  private readonly explanations = new Map<string, { explanation: Explanation; image: WorkerImage; args: JobArgs<'explain'> }>();
  private readonly datasets = new KeptDatasets();
  private nextId = 1;
  /** Background builds of a model's first explanation, by model path, cancelled when it closes. */
  private readonly prebuilds = new Map<string, AbortController>();
  /** Jobs running now: a background build waits until none runs, so it delays no job that was asked for. */
  private runningJobs = 0;
  private readonly handlers: Handlers = {
    openModel: (args, job) => this.openModel(args, job),
    closeModel: (args) => this.closeModel(args),
    status: () => this.status(),
    loadImage: (args) => this.loadImage(args),
    predict: (args) => this.predict(args),
    explain: (args, job) => this.explainJob(args, job),
    activations: (args, job) => this.activationsJob(args, job),
    exportExplanation: (args) => this.exportExplanation(args),
    methods,
    ...datasetJobs(this, this.datasets),
    ...datasetAnalysisJobs((datasetId) => this.datasets.kept(datasetId)),
    ...insideJobs(this),
    ...graphJobs(this),
    ...taskJobs(this),
    ...explainAllJobs(this, (ctx, spec) => toTarget(ctx, spec, this)),
  };

  run<J extends JobName>(job: J, args: JobArgs<J>, ctx: JobContext): Promise<JobResult<J>> {
    const handler = Object.hasOwn(this.handlers, job) ? (this.handlers[job] as Handlers[J]) : undefined;
    if (!handler) return Promise.reject(new Error(`unknown job '${job}'`));
    this.runningJobs++;
    return handler(args, ctx).finally(() => this.runningJobs--);
  }

  /**
   * Stops background builds and resolves once every open model's disk-cache writes are done: the
   * worker calls it before it exits, so what it built is there for the next process.
   */
  async finishWrites(): Promise<void> {
    for (const controller of this.prebuilds.values()) controller.abort();
    await Promise.all([...this.contexts.values()].map((ctx) => ctx.model.writesFinished()));
  }

  contextFor(modelPath: string): ModelContext {
    const ctx = this.contexts.get(modelPath);
    if (!ctx) throw new Error(`the model ${path.basename(modelPath)} is not open`);
    return ctx;
  }

  imageFor(imageId: string): WorkerImage {
    const image = this.images.get(imageId);
    if (!image) throw new Error('that image is no longer loaded; choose it again');
    return image;
  }

  /**
   * Opens a model in phases (decode, summary, layer shapes, session, gradient check) with progress,
   * stopping between them when cancelled; a cancelled or failed open leaves the model closed. A
   * phase stuck in one native call is ended by the client killing the worker after its grace period.
   */
  private async openModel({ modelPath, provider, threads, preprocessing, settingsFolder, activationMemory, decode }: JobArgs<'openModel'>, job: JobContext): Promise<ModelView> {
    await this.closeModel({ modelPath });
    const name = path.basename(modelPath);
    job.progress(0, `reading ${name}`);
    const ctx = ModelContext.open(modelPath, { provider, threads, preprocessing, settingsFolder, activationMemory, decode, cacheDir: defaultModelCacheDir() });
    this.contexts.set(modelPath, ctx);
    try {
      throwIfCancelled(job.signal);
      job.progress(0.2, `summarising ${ctx.model.graph.node.length} nodes`);
      const summary = ctx.model.summary();
      throwIfCancelled(job.signal);
      job.progress(0.3, 'finding layer shapes');
      const layers = await ctx.model.layers();
      throwIfCancelled(job.signal);
      job.progress(0.6, 'starting the runtime');
      // The session for predictions also gives the default CAM layer: the CAMs that run the network
      // there (Score-CAM, Ablation-CAM) and the Activations view then need no session of their own.
      const camLayer = ctx.model.shapeProbeLimit ? undefined : await defaultCamLayer(ctx);
      if (camLayer) ctx.model.exposeInBaseSession([camLayer]);
      const runtime = await ctx.model.baseSession();
      throwIfCancelled(job.signal);
      job.progress(0.8, 'checking gradients');
      // A graph too large to probe is too large to check gradients on in reasonable time.
      const gradients = ctx.model.shapeProbeLimit ? { problem: ctx.model.shapeProbeLimit } : await gradientProblem(ctx, camLayer);
      throwIfCancelled(job.signal);
      if (!gradients.problem && gradients.camLayer && gradients.prebuild) this.prebuild(modelPath, ctx, gradients.camLayer);
      return modelView(modelPath, ctx, summary, layers, runtime, gradients);
    } catch (err) {
      // A newer open of the same file (a reopen) may have replaced this one: close only our own.
      if (this.contexts.get(modelPath) === ctx) await this.closeModel({ modelPath });
      else await disposeContext(ctx);
      throw err;
    }
  }

  private async whenIdle(signal: AbortSignal): Promise<void> {
    do {
      await new Promise((resolve) => setTimeout(resolve, IDLE_MS));
      throwIfCancelled(signal);
    } while (this.runningJobs > 0);
  }

  /**
   * Builds the gradient session of the Grad-CAM family (the default method: the default CAM layer,
   * the top class) in the background once the worker is idle, for a graph too large for the open
   * to build it, so the first click runs at once; the session lands in the model's session cache
   * (and the disk cache) for the explain job to find.
   */
  private prebuild(modelPath: string, ctx: ModelContext, camLayer: string): void {
    this.prebuilds.get(modelPath)?.abort();
    const controller = new AbortController();
    this.prebuilds.set(modelPath, controller);
    const output = ctx.model.summary().outputs[0].name;
    this.whenIdle(controller.signal)
      .then(() => prepareGradients(ctx.model, { wrt: [camLayer], output, seed: 'top' }))
      // A failure here is the explain job's to report, when one is asked for.
      .catch(() => undefined)
      .finally(() => {
        if (this.prebuilds.get(modelPath) === controller) this.prebuilds.delete(modelPath);
      });
  }

  private async closeModel({ modelPath }: JobArgs<'closeModel'>): Promise<void> {
    this.prebuilds.get(modelPath)?.abort();
    const ctx = this.contexts.get(modelPath);
    this.contexts.delete(modelPath);
    for (const [id, image] of this.images) if (image.modelPath === modelPath) this.images.delete(id);
    for (const [id, kept] of this.explanations) if (kept.image.modelPath === modelPath) this.explanations.delete(id);
    this.datasets.forgetModel(modelPath);
    if (ctx) await disposeContext(ctx);
  }

  private async loadImage({ modelPath, imagePath, name, base64 }: JobArgs<'loadImage'>): Promise<ImageView> {
    const ctx = this.contextFor(modelPath);
    let loaded: WorkerImage;
    const shape = ctx.inputInfo.shape;
    const refuse = (fileName: string, head: Uint8Array) => {
      const problem = inputFormatProblem(fileName, inputFormatOf(head), ctx.name, shape);
      if (problem) throw new InputError(problem);
    };
    if (imagePath) {
      const fileName = name ?? path.basename(imagePath);
      // The first bytes tell the file's kind: one of the wrong kind is refused before it is decoded.
      // A file that cannot be read is left to the reader below, which says why in its own words.
      const head = firstBytes(imagePath);
      if (head) refuse(fileName, head);
      const input = ctx.loadInput(imagePath);
      loaded = { modelPath, name: name ?? path.basename(imagePath), tensor: input.tensor, rgb: input.rgb, source: input.kind === 'image' ? { path: imagePath } : undefined };
    } else if (base64) {
      const bytes = Buffer.from(base64, 'base64');
      const fileName = name ?? 'dropped file';
      refuse(fileName, bytes.subarray(0, 16));
      if (inputFormatOf(bytes) !== 'image') {
        const input = ctx.loadInputBytes(fileName, new Uint8Array(bytes));
        loaded = { modelPath, name: fileName, tensor: input.tensor, rgb: input.rgb };
        const id = `img-${this.nextId++}`;
        this.images.set(id, loaded);
        return imageView(id, loaded);
      }
      if (!ctx.preprocessing) throw new Error(`cannot preprocess images for ${ctx.name}: ${ctx.preprocessingProblem}`);
      const decoded = decodeImage(bytes, { ...ctx.limits, name });
      const { tensor, rgb } = preprocessImage(decoded, ctx.preprocessing.spec, ctx.limits);
      loaded = { modelPath, name: name ?? 'dropped image', tensor, rgb, source: { bytes } };
    } else {
      throw new Error('no image given');
    }
    const id = `img-${this.nextId++}`;
    this.images.set(id, loaded);
    return imageView(id, loaded);
  }

  /**
   * The top classes of the first output; for a segmentation or detection model, the classes it
   * predicts by pixel share or by their best box's score (src/core/task-outputs.ts), since the top
   * "classes" of a flattened mask or head mean nothing. One forward pass either way.
   */
  private async predict({ modelPath, imageId, topK }: JobArgs<'predict'>): Promise<Prediction[]> {
    const ctx = this.contextFor(modelPath);
    const input = this.imageFor(imageId).tensor;
    if (!mayHaveTaskOutputs(ctx.model)) return (await ctx.predict(input, topK)).top[0];
    const { task, outputs } = await readTaskOutputs(ctx, input);
    return taskPredictions(task, topK) ?? ctx.topOf(outputs, topK)[0];
  }

  private keep(explanation: Explanation, image: WorkerImage, args: JobArgs<'explain'>): string {
    const id = `exp-${this.nextId++}`;
    this.explanations.set(id, { explanation, image, args });
    if (this.explanations.size > MAX_KEPT_EXPLANATIONS) this.explanations.delete(this.explanations.keys().next().value as string);
    return id;
  }

  private async explainJob(args: JobArgs<'explain'>, job: JobContext): Promise<ExplanationView> {
    const ctx = this.contextFor(args.modelPath);
    const image = this.imageFor(args.imageId);
    const started = performance.now();
    // 'top' or a class on a segmentation or detection model: its predicted region or its best box.
    const spec = await taskAwareTarget(ctx, image.tensor, args.target);
    const explainContext = {
      // A box of a model with its own NMS: a copy that outputs the raw head before it (jobs/tasks.ts).
      model: modelForTarget(ctx.model, spec),
      input: image.tensor,
      target: await toTarget(ctx, spec, this),
      layer: args.layer || undefined,
      progress: (f: number, m: string) => job.progress(args.faithfulness ? f * 0.7 : f, m),
      signal: job.signal,
    };
    const e = await explain(args.method, explainContext, args.options ?? {});
    const seconds = (performance.now() - started) / 1000;
    let faithfulness: ExplanationView['faithfulness'];
    // Deletion and insertion along the input's positions: a picture's pixels, a signal's samples, a video's frames × pixels.
    if (args.faithfulness) {
      job.progress(0.7, 'faithfulness: deletion and insertion curves');
      const f = await deletionInsertion({ ...explainContext, progress: (p, m) => job.progress(0.7 + 0.3 * p, m) }, e.map);
      faithfulness = { deletionAuc: f.deletion.normalizedAuc, insertionAuc: f.insertion.normalizedAuc };
    }
    const t = e.target;
    return {
      id: this.keep(e, image, args),
      imageId: args.imageId,
      method: args.method,
      layer: e.layer,
      target: targetView(spec, t),
      targetLabel: targetLabel(ctx, t),
      map: { ...tensorMapData(e.map), ...(e.signed ? { signed: true } : {}) },
      notes: [`${methodByName(args.method).formula}`, ...e.notes, describeTarget(t)],
      seconds,
      faithfulness,
    };
  }

  private async activationsJob({ modelPath, imageId, layer: requested, target }: JobArgs<'activations'>, job: JobContext): Promise<ActivationsView> {
    const ctx = this.contextFor(modelPath);
    const image = this.imageFor(imageId);
    // The panel names layers by node; the run needs the node's output tensor.
    const layer = await layerTensor(ctx.model, requested);
    job.progress(0.1, `running ${layer}`);
    const outputs = await ctx.model.run(ctx.feeds(image.tensor), [layer]);
    const activation = outputs[layer];
    if (activation.dims.length < 2) throw new Error(`layer '${layer}' has shape [${activation.dims.join(', ')}]; it has no channels to show`);
    const stats = channelStats(activation);
    const weights = await gradcamWeights(ctx, image.tensor, layer, target, this).catch(() => undefined);
    const [, c] = activation.dims;
    // A 1-D model's layer [1, C, L]: each channel is a signal, sent as a map of shape [L] (at most
    // SIGNAL_THUMBNAIL samples) that the view draws as a line. A picture's [1, C, H, W]: a thumbnail.
    const signal = activation.dims.length === 3 && ctx.inputInfo.shape.length === 3;
    const [h, w] = activation.dims.length === 4 ? activation.dims.slice(2) : signal ? [1, activation.dims[2]] : [1, 1];
    const plane = h * w;
    const scale = signal ? Math.min(1, SIGNAL_THUMBNAIL / w) : Math.min(1, THUMBNAIL / Math.max(h, w));
    const [th, tw] = [Math.max(1, Math.round(h * scale)), Math.max(1, Math.round(w * scale))];
    const channels: ChannelView[] = stats.map((s) => {
      const values = (activation.data as Float32Array).subarray(s.index * plane, (s.index + 1) * plane);
      const small = th === h && tw === w ? Float32Array.from(values) : resizeBilinear(values, h, w, th, tw);
      return {
        index: s.index,
        mean: s.mean,
        max: s.max,
        zeroFraction: s.zeroFraction,
        dead: s.dead,
        gradcamWeight: weights?.[s.index],
        map: tensorMapData({ dtype: 'float32', dims: signal ? [tw] : [th, tw], data: minMax(small) }),
      };
    });
    job.progress(1, `${c} channels`);
    return { requestId: '', imageId, layer, shape: activation.dims, channels };
  }

  /**
   * An explanation as the view shows it: the .npy of its raw values, or a PNG in the view's colormap
   * (signed maps diverging, as drawn) and opacity over the original image at its own resolution,
   * with the settings and the command that reproduces it in the PNG's text chunks.
   */
  private async exportExplanation({ explanationId, format, colormap, opacity, figure }: JobArgs<'exportExplanation'>): Promise<JobResult<'exportExplanation'>> {
    const kept = this.explanations.get(explanationId);
    if (!kept) throw new Error('that explanation is no longer kept; run it again to export it');
    const { explanation: e, image, args } = kept;
    const base = `${path.parse(image.name).name}-${e.method}`;
    if (format === 'npy') return { bytes: formatNpy(e.raw), suggestedName: `${base}.npy` };
    const options = { colormap: isSigned(e.map) || e.signed ? DIVERGING_COLORMAP : colormap, opacity, signed: e.signed };
    // A signal's or a video's figure is the view's own drawing (the line plot, the strip of frames).
    const viewFigure = figure && e.map.dims.length !== 2 ? figurePng(figure) : undefined;
    // Only a picture's map (one [H, W] plane) lies over the original image; a signal's or a video's does not.
    const original = e.map.dims.slice(0, -2).every((d) => d === 1) ? this.originalImage(image) : undefined;
    const ctx = this.contextFor(image.modelPath);
    const metadata: [string, string][] = [
      ['Software', 'ConvLens'],
      ['Method', e.method],
      ['Target', targetText(ctx, e.target)],
      ['Layer', e.layer ?? 'none'],
      ['Colormap', options.colormap],
      ['Opacity', String(opacity)],
      ['Source', image.name],
      ['Command', reproducingCommand(ctx, image, args, e, options, `${base}.png`, this.targetFiles(args.target))],
    ];
    if (viewFigure) return { bytes: withTextChunks(viewFigure, [...metadata, ['Description', "the panel's figure of the map, as drawn"]]), suggestedName: `${base}.png` };
    const { rgba, width, height } = original ? renderMapOnOriginal(e.map, original.image, original.region, options) : renderMap(e.map, image.rgb, options);
    return { bytes: withTextChunks(encodePng(rgba, width, height), metadata), suggestedName: `${base}.png` };
  }

  /** The decoded original and the part of it the model saw; undefined for a .npy input or a file gone since. */
  private originalImage(image: WorkerImage): { image: RgbImage; region: ImageRegion } | undefined {
    const ctx = this.contextFor(image.modelPath);
    const spec = ctx.preprocessing?.spec;
    if (!image.source || !spec) return undefined;
    try {
      const bytes = 'path' in image.source ? readInputBytes(image.source.path, { ...ctx.limits, name: image.name }) : image.source.bytes;
      const decoded = decodeImage(bytes, { ...ctx.limits, name: image.name });
      return { image: decoded, region: modelRegion(decoded.width, decoded.height, spec) };
    } catch {
      return undefined; // the file changed or went away: the model-size picture still matches the view
    }
  }

  /**
   * What the command line names for a target's data: a similarity's reference by its image file
   * while that image is loaded from a file. A drawn mask has no file: the command says MASK.png.
   */
  private targetFiles(target: TargetSpec): TargetFileNames {
    if (target.kind !== 'similarity') return {};
    const source = this.images.get(target.imageId)?.source;
    return source && 'path' in source ? { reference: source.path } : {};
  }

  private async status(): Promise<WorkerStatus> {
    return { models: [...this.contexts.keys()], images: this.images.size, explanations: this.explanations.size, datasets: this.datasets.size };
  }
}

/** The first bytes of a file (through the checked reader), or undefined when it cannot be read. */
function firstBytes(file: string): Uint8Array | undefined {
  try {
    return readFileChecked(file, { what: 'input file', maxBytes: Infinity, limitHint: '', firstBytes: 16 });
  } catch {
    return undefined;
  }
}

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/** A view's figure (a PNG data URL, checked by the protocol) as PNG bytes: a PNG with its IHDR first, or a refusal. */
function figurePng(dataUrl: string): Uint8Array {
  const bytes = new Uint8Array(Buffer.from(dataUrl.slice(dataUrl.indexOf(',') + 1), 'base64'));
  // The signature, then an IHDR chunk of its 13 bytes (the text chunks go right after it).
  const ihdr =
    bytes.length >= 33 &&
    PNG_SIGNATURE.every((b, i) => bytes[i] === b) &&
    Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).readUInt32BE(8) === 13 &&
    String.fromCharCode(...bytes.subarray(12, 16)) === 'IHDR';
  if (!ihdr) throw new Error("the view's figure is not a PNG");
  return bytes;
}

/** A target as the export's metadata names it: class names with their indices. */
function targetText(ctx: ModelContext, t: ResolvedTarget): string {
  if (t.kind === 'class') return `${ctx.labelOf(t.index)} (#${t.index})`;
  if (t.kind === 'difference') return `${ctx.labelOf(t.a)} (#${t.a}) rather than ${ctx.labelOf(t.b)} (#${t.b})`;
  return describeTarget(t);
}

/** `convlens explain` with the settings of an explanation and its picture, quoted for a POSIX shell. */
function reproducingCommand(
  ctx: ModelContext,
  image: WorkerImage,
  args: JobArgs<'explain'>,
  e: Explanation,
  options: { colormap: string; opacity: number },
  out: string,
  files: TargetFileNames,
): string {
  const quote = (word: string) => (/^[\w./:=@+-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`);
  const words = ['convlens', 'explain', args.modelPath, image.source && 'path' in image.source ? image.source.path : image.name, '--method', args.method];
  if (e.layer) words.push('--layer', e.layer);
  // The target's flags come from its kind's format (src/core/explain/target.ts), as the panel's "Copy command".
  words.push(...formatTarget(unresolved(e.target), { ...files, firstOutput: ctx.model.summary().outputs[0].name }));
  for (const [name, value] of Object.entries(args.options ?? {})) words.push(`--${name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`, String(value));
  words.push('--colormap', options.colormap, '--opacity', String(options.opacity), '--out', out);
  return words.map(quote).join(' ');
}

const worker = new JobRunner();

/** Runs a job on this process's one JobRunner. */
export function runJob<J extends JobName>(job: J, args: JobArgs<J>, ctx: JobContext): Promise<JobResult<J>> {
  return worker.run(job, args, ctx);
}

/** JobRunner.finishWrites on this process's JobRunner. */
export function finishWrites(): Promise<void> {
  return worker.finishWrites();
}
