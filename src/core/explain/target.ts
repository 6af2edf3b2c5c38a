// Targets: which output and which scalar of it an explanation is about. Each kind is one entry of
// TARGET_KINDS: how it is read from the command line, checked and resolved against the output for
// the input, its score on one row of an output (perturbation methods), the backward seed of that
// score (∂ score / ∂ row: gradient methods and CAMs) and its description. The seed of a linear
// score (class, difference, region, element) is a constant; that of probability, similarity and a
// YOLO box (obj × cls) depends on the row, so gradient runs compute the batch's output first.
import { DEFAULT_IOU, DEFAULT_MIN_SCORE, DetectionOptions, decodeDetections, detectionHead, detectionScore, detectionSeed, matchedBoxScore, nonMaxSuppression } from '../detection';
import { FileReadError, readFileChecked } from '../files';
import { DecodeOptions, decodeImage } from '../image/decode';
import { DEFAULT_LIMIT_HINT, DEFAULT_MAX_BYTES } from '../limits';
import { ConvModel, concreteInputDims } from '../model';
import { parseNpy } from '../npy';
import { Tensor, argmax, float32, sizeOf } from '../tensor';
import { ExplainError, ResolvedTarget, Target } from './types';

export type ScoreKind = 'logit' | 'probability';

export function outputName(model: ConvModel, target: Target): string {
  const outputs = (model.graph.output ?? []).map((o) => o.name);
  if (target.output === undefined) {
    if (outputs.length === 0) throw new ExplainError('the model declares no outputs');
    return outputs[0];
  }
  if (!outputs.includes(target.output)) {
    throw new ExplainError(`the model has no output named '${target.output}'; its outputs are ${outputs.map((o) => `'${o}'`).join(', ')}`);
  }
  return target.output;
}

/** Number of scores per example: the output's size without its batch dimension. */
export function scoresPerRow(outputDims: number[]): number {
  return sizeOf(outputDims.slice(1));
}

function checkIndex(i: number, count: number, output: string): void {
  if (!Number.isInteger(i) || i < 0 || i >= count) {
    throw new ExplainError(`class ${i} is out of range: output '${output}' has ${count} scores per image (0 to ${count - 1})`);
  }
}

/** One example, channels first: a signal [1, C, L], an image [1, C, H, W] or a video [1, C, T, H, W]. */
export function checkInput(input: Tensor): void {
  if (input.dtype !== 'float32' || input.dims.length < 3 || input.dims.length > 5 || input.dims[0] !== 1) {
    throw new ExplainError(
      `explanations take one input as a float32 tensor [1, C, L] (signal), [1, C, H, W] (image) or [1, C, T, H, W] (video); got ${input.dtype} [${input.dims.join(', ')}]`,
    );
  }
}

/** What resolving a target sees: the output's name and dims (batch 1) and, when the kind needs them, the outputs for the input. */
interface ResolveContext {
  name: string;
  dims: number[];
  outputs?: Record<string, Tensor>;
}

/** Reads what a command-line target names: a mask file and the embedding of a reference image. */
export interface TargetFiles {
  /** A mask [H, W] with values in [0, 1]. */
  mask(file: string): Tensor;
  /** The target output of the model (its row for batch 1) for an image file. */
  embedding(file: string, output: string | undefined): Promise<Float32Array>;
}

/**
 * A mask from a file: a PNG or JPEG (the mean of R, G, B over 255, so black is 0 and white 1) or a
 * .npy of H×W (or 1×H×W) numbers.
 */
export function readMaskFile(file: string, options: DecodeOptions = {}): Tensor {
  let bytes: Uint8Array;
  try {
    bytes = readFileChecked(file, { what: 'mask file', maxBytes: options.maxBytes ?? DEFAULT_MAX_BYTES, limitHint: options.limitHint ?? DEFAULT_LIMIT_HINT });
  } catch (err) {
    throw err instanceof FileReadError ? new ExplainError(err.message) : err;
  }
  if (/\.npy$/i.test(file)) {
    const t = parseNpy(bytes);
    const dims = t.dims.length === 3 && t.dims[0] === 1 ? t.dims.slice(1) : t.dims;
    if (dims.length !== 2 || t.data instanceof BigInt64Array) throw new ExplainError(`the mask ${file} must hold H×W numbers; it is ${t.dtype} [${t.dims.join(', ')}]`);
    return float32(dims, Float32Array.from(t.data));
  }
  const image = decodeImage(bytes, options);
  const mask = new Float32Array(image.width * image.height);
  for (let p = 0; p < mask.length; p++) mask[p] = (image.data[3 * p] + image.data[3 * p + 1] + image.data[3 * p + 2]) / (3 * 255);
  return float32([image.height, image.width], mask);
}

/**
 * What a command line names for a target's data, which the target holds as values: the file of a
 * region's mask, the image a similarity's reference embedding came from. Absent: a placeholder the
 * user replaces (MASK_PLACEHOLDER, REFERENCE_PLACEHOLDER).
 */
export interface TargetFileNames {
  mask?: string;
  reference?: string;
}

export const MASK_PLACEHOLDER = 'MASK.png';
export const REFERENCE_PLACEHOLDER = 'REFERENCE_IMAGE';

type TargetOf<K extends Target['kind']> = Extract<Target, { kind: K }>;
type ResolvedOf<K extends Target['kind']> = Extract<ResolvedTarget, { kind: K }>;

interface TargetKind<K extends Target['kind']> {
  /** Command-line form after 'kind:' (undefined: not written as kind:..., e.g. difference, made by --versus). */
  syntax?: string;
  parse?(body: string, files: TargetFiles, output: string | undefined): TargetOf<K> | Promise<TargetOf<K>>;
  /** The command-line words that parse back to this target (parse's inverse; --output is added by formatTarget). */
  format(target: TargetOf<K>, files: TargetFileNames): string[];
  /** Whether resolving needs the outputs for the input ('top', a predicted mask, decoded boxes); `extra`: outputs besides the target's. */
  needsOutputs(target: TargetOf<K>): boolean;
  extraOutputs?(target: TargetOf<K>): string[];
  resolve(target: TargetOf<K>, at: ResolveContext): ResolvedOf<K>;
  /** The scalar explained, from one row (batch entry) of the output. */
  score(row: Float32Array, target: ResolvedOf<K>): number;
  /** Whether the seed depends on the row (a non-linear score). */
  seedReadsRow: boolean;
  /** ∂ score / ∂ row, written into `seed` (zero-filled, the row's size). */
  seed(row: Float32Array, target: ResolvedOf<K>, seed: Float32Array): void;
  describe(target: ResolvedOf<K>): string;
}

function parseIndex(text: string, what: string): number {
  const n = Number(text);
  if (text.trim() === '' || !Number.isInteger(n) || n < 0) throw new ExplainError(`${what} must be a non-negative integer, got '${text}'`);
  return n;
}

const indexOrTop = (body: string, what: string): number | 'top' => (body === 'top' ? 'top' : parseIndex(body, what));

function softmax(row: Float32Array): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < row.length; i++) max = Math.max(max, row[i]);
  const p = new Float64Array(row.length);
  let sum = 0;
  for (let i = 0; i < row.length; i++) sum += p[i] = Math.exp(row[i] - max);
  for (let i = 0; i < row.length; i++) p[i] /= sum;
  return p;
}

function classOrTop(index: number | 'top', at: ResolveContext): number {
  const count = scoresPerRow(at.dims);
  const resolved = index === 'top' ? argmax(at.outputs![at.name].data as Float32Array, 0, count) : index;
  checkIndex(resolved, count, at.name);
  return resolved;
}

/** Classes along dim 1 and positions after it: [N, C, ...positions]. */
function classesAndPositions(dims: number[], output: string): { classes: number; positions: number } {
  if (dims.length < 3) throw new ExplainError(`a region target needs an output [N, classes, H, W]; output '${output}' is [${dims.join(', ')}]`);
  return { classes: dims[1], positions: sizeOf(dims.slice(2)) };
}

/** Positions whose argmax over classes (first maximum, as torch.argmax) is `cls`: 1 there, else 0. */
export function predictedMask(output: Tensor, cls: number): Float32Array {
  const { classes, positions } = classesAndPositions(output.dims, 'output');
  const data = output.data as Float32Array;
  const mask = new Float32Array(positions);
  for (let p = 0; p < positions; p++) {
    let best = 0;
    for (let c = 1; c < classes; c++) if (data[c * positions + p] > data[best * positions + p]) best = c;
    if (best === cls) mask[p] = 1;
  }
  return mask;
}

function norm(v: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i] * v[i];
  return Math.sqrt(s);
}

function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

const TARGET_KINDS: { [K in Target['kind']]: TargetKind<K> } = {
  class: {
    syntax: 'class:K|top',
    parse: (body, _files, output) => ({ kind: 'class', index: indexOrTop(body, 'the class'), output }),
    // 'top' is the command's default: no flag.
    format: (t) => (t.index === 'top' ? [] : ['--target', String(t.index)]),
    needsOutputs: (t) => t.index === 'top',
    resolve: (t, at) => ({ kind: 'class', index: classOrTop(t.index, at), output: at.name }),
    score: (row, t) => row[t.index],
    seedReadsRow: false,
    seed: (_row, t, seed) => {
      seed[t.index] = 1;
    },
    describe: (t) => `class ${t.index}`,
  },
  difference: {
    // Made by --versus on a class target (parseTarget).
    format: (t) => ['--target', String(t.a), '--versus', String(t.b)],
    needsOutputs: () => false,
    resolve: (t, at) => {
      const count = scoresPerRow(at.dims);
      checkIndex(t.a, count, at.name);
      checkIndex(t.b, count, at.name);
      if (t.a === t.b) throw new ExplainError(`a difference target needs two different classes (got ${t.a} twice)`);
      return { kind: 'difference', a: t.a, b: t.b, output: at.name };
    },
    score: (row, t) => row[t.a] - row[t.b],
    seedReadsRow: false,
    seed: (_row, t, seed) => {
      seed[t.a] = 1;
      seed[t.b] = -1;
    },
    describe: (t) => `class ${t.a} minus class ${t.b}`,
  },
  probability: {
    syntax: 'prob:K|top',
    parse: (body, _files, output) => ({ kind: 'probability', index: indexOrTop(body, 'the class'), output }),
    format: (t) => ['--target', `prob:${t.index}`],
    needsOutputs: (t) => t.index === 'top',
    resolve: (t, at) => ({ kind: 'probability', index: classOrTop(t.index, at), output: at.name }),
    score: (row, t) => softmax(row)[t.index],
    seedReadsRow: true,
    // ∂p_k/∂z_i = p_k (δ_ik − p_i)
    seed: (row, t, seed) => {
      const p = softmax(row);
      for (let i = 0; i < row.length; i++) seed[i] = p[t.index] * ((i === t.index ? 1 : 0) - p[i]);
    },
    describe: (t) => `softmax probability of class ${t.index}`,
  },
  region: {
    syntax: 'region:MASK.png|predicted,K',
    parse: (body, files, output) => {
      const comma = body.lastIndexOf(',');
      if (comma < 0) throw new ExplainError(`a region target is region:MASK.png,K or region:predicted,K; got 'region:${body}'`);
      const [source, cls] = [body.slice(0, comma), parseIndex(body.slice(comma + 1), 'the region class')];
      return { kind: 'region', class: cls, mask: source === 'predicted' ? 'predicted' : files.mask(source), output };
    },
    format: (t, files) => ['--target', `region:${t.mask === 'predicted' ? 'predicted' : (files.mask ?? MASK_PLACEHOLDER)},${t.class}`],
    needsOutputs: (t) => t.mask === 'predicted',
    resolve: (t, at) => {
      const { classes, positions } = classesAndPositions(at.dims, at.name);
      if (!Number.isInteger(t.class) || t.class < 0 || t.class >= classes) {
        throw new ExplainError(`class ${t.class} is out of range: output '${at.name}' has ${classes} classes (0 to ${classes - 1})`);
      }
      if (t.mask === 'predicted')
        return { kind: 'region', class: t.class, mask: float32(at.dims.slice(2), predictedMask(at.outputs![at.name], t.class)), predicted: true, output: at.name };
      const plane = at.dims.slice(2);
      if (t.mask.data.length !== positions || (t.mask.dims.length === plane.length && t.mask.dims.some((d, i) => d !== plane[i]))) {
        throw new ExplainError(`the mask is ${t.mask.dims.join('×')} but output '${at.name}' has ${plane.join('×')} positions per class`);
      }
      const mask = Float32Array.from(t.mask.data as Float32Array);
      if (!mask.every(Number.isFinite)) throw new ExplainError('the mask has values that are not finite numbers');
      return { kind: 'region', class: t.class, mask: float32(plane, mask), predicted: false, output: at.name };
    },
    score: (row, t) => dot(row.subarray(t.class * t.mask.data.length, (t.class + 1) * t.mask.data.length), t.mask.data as Float32Array),
    seedReadsRow: false,
    seed: (_row, t, seed) => seed.set(t.mask.data as Float32Array, t.class * t.mask.data.length),
    describe: (t) => `class ${t.class} summed over ${t.predicted ? 'its predicted mask' : 'the mask'} (weight ${(t.mask.data as Float32Array).reduce((s, v) => s + v, 0)})`,
  },
  box: {
    syntax: 'box:I',
    parse: (body, _files, output) => ({ kind: 'box', index: parseIndex(body, 'the box'), output }),
    // The detection settings are flags of their own (src/cli/common.ts targetOf reads them).
    format: (t) => [
      '--target',
      `box:${t.index}`,
      ...(t.detection?.boxes ? ['--boxes', t.detection.boxes] : []),
      ...(t.detection?.iou !== undefined ? ['--iou', String(t.detection.iou)] : []),
      ...(t.detection?.minScore !== undefined ? ['--min-score', String(t.detection.minScore)] : []),
      ...(t.detection?.sigmoid ? ['--sigmoid'] : []),
    ],
    needsOutputs: () => true,
    extraOutputs: (t) => (t.detection?.boxes ? [t.detection.boxes] : []),
    resolve: (t, at) => {
      const options: DetectionOptions = t.detection ?? {};
      if (options.iou !== undefined && !(options.iou >= 0 && options.iou <= 1)) throw new ExplainError(`the NMS IoU threshold is between 0 and 1, got ${options.iou}`);
      const boxes = options.boxes ? at.outputs![options.boxes] : undefined;
      const head = detectionHead(at.dims, boxes?.dims, options.sigmoid ?? false);
      if (typeof head === 'string') throw new ExplainError(head);
      const row = at.outputs![at.name].data as Float32Array;
      const found = decodeDetections(row, head, options.minScore ?? DEFAULT_MIN_SCORE, boxes?.data as Float32Array | undefined);
      const kept = nonMaxSuppression(found, options.iou ?? DEFAULT_IOU);
      if (kept.length === 0) throw new ExplainError(`no box scores ${options.minScore ?? DEFAULT_MIN_SCORE} or more in output '${at.name}'; lower the score threshold`);
      if (!Number.isInteger(t.index) || t.index < 0 || t.index >= kept.length) {
        throw new ExplainError(`box ${t.index} is out of range: ${kept.length} boxes were detected (0 to ${kept.length - 1})`);
      }
      return { kind: 'box', index: t.index, detected: kept[t.index], head, detection: t.detection, output: at.name };
    },
    score: (row, t) => detectionScore(row, t.head, t.detected.anchor, t.detected.class),
    seedReadsRow: true,
    seed: (row, t, seed) => detectionSeed(row, t.head, t.detected.anchor, t.detected.class, seed),
    describe: (t) => `box ${t.index} (class ${t.detected.class}, score ${t.detected.score.toPrecision(3)}, [${t.detected.box.map((v) => v.toFixed(1)).join(', ')}])`,
  },
  similarity: {
    syntax: 'similarity:IMAGE',
    parse: async (body, files, output) => ({ kind: 'similarity', reference: await files.embedding(body, output), output }),
    format: (_t, files) => ['--target', `similarity:${files.reference ?? REFERENCE_PLACEHOLDER}`],
    needsOutputs: () => false,
    resolve: (t, at) => {
      const count = scoresPerRow(at.dims);
      if (t.reference.length !== count) throw new ExplainError(`the reference embedding has ${t.reference.length} values but output '${at.name}' has ${count} per image`);
      const length = norm(t.reference);
      if (!Number.isFinite(length)) throw new ExplainError('the reference embedding has values that are not finite numbers');
      if (length === 0) throw new ExplainError('the reference embedding is zero: a cosine to it is undefined');
      return { kind: 'similarity', reference: t.reference, output: at.name };
    },
    score: (row, t) => dot(row, t.reference) / (norm(row) * norm(t.reference)),
    seedReadsRow: true,
    // ∂cos/∂e = r / (|e| |r|) − cos · e / |e|²
    seed: (row, t, seed) => {
      const [ne, nr] = [norm(row), norm(t.reference)];
      const cos = dot(row, t.reference) / (ne * nr);
      for (let i = 0; i < row.length; i++) seed[i] = t.reference[i] / (ne * nr) - (cos * row[i]) / (ne * ne);
    },
    describe: () => 'cosine similarity to the reference embedding',
  },
  element: {
    syntax: 'output:NAME[i,j,...]',
    parse: (body) => {
      const match = /^(.+?)(?:\[([\d,\s]*)\])?$/.exec(body);
      if (!match) throw new ExplainError(`an output target is output:NAME[i,j,...]; got 'output:${body}'`);
      const index = match[2] === undefined || match[2].trim() === '' ? [] : match[2].split(',').map((i) => parseIndex(i.trim(), 'an output index'));
      return { kind: 'element', index, output: match[1] };
    },
    // The output is part of the form: no --output.
    format: (t) => ['--target', `output:${t.output}[${t.index.join(',')}]`],
    needsOutputs: () => false,
    resolve: (t, at) => {
      const dims = at.dims.slice(1);
      if (t.index.length !== dims.length) {
        throw new ExplainError(`output '${at.name}' is [${at.dims.join(', ')}]: its element needs ${dims.length} indices after the batch dimension, got ${t.index.length}`);
      }
      let flat = 0;
      t.index.forEach((i, d) => {
        if (!Number.isInteger(i) || i < 0 || i >= dims[d]) throw new ExplainError(`index ${i} is out of range for dimension ${d + 1} of output '${at.name}' (0 to ${dims[d] - 1})`);
        flat = flat * dims[d] + i;
      });
      return { kind: 'element', index: [...t.index], flat, output: at.name };
    },
    score: (row, t) => row[t.flat],
    seedReadsRow: false,
    seed: (_row, t, seed) => {
      seed[t.flat] = 1;
    },
    describe: (t) => `element [${t.index.join(', ')}]`,
  },
};

function kindOf<K extends Target['kind']>(kind: K): TargetKind<K> {
  return TARGET_KINDS[kind] as TargetKind<K>;
}

/** The command-line forms of every kind, for usage lines and errors. */
export const TARGET_SYNTAX = Object.values(TARGET_KINDS)
  .flatMap((k) => (k.syntax ? [k.syntax] : []))
  .join(' | ');

const PREFIXES: Record<string, Target['kind']> = { class: 'class', prob: 'probability', region: 'region', box: 'box', similarity: 'similarity', output: 'element' };

/**
 * A target from its command-line form (kind:body; a bare index or 'top' is a class); `versus`
 * turns a class into a difference. `output` names the output where the form does not.
 */
export async function parseTarget(text: string | undefined, files: TargetFiles, options: { versus?: string; output?: string } = {}): Promise<Target> {
  const value = text ?? 'top';
  const colon = value.indexOf(':');
  const prefix = colon < 0 ? 'class' : value.slice(0, colon);
  const kind = PREFIXES[prefix];
  if (!kind) throw new ExplainError(`unknown target kind '${prefix}'; --target takes ${TARGET_SYNTAX}`);
  const target = await kindOf(kind).parse!(colon < 0 ? value : value.slice(colon + 1), files, options.output);
  if (options.versus === undefined) return target;
  if (target.kind !== 'class' || target.index === 'top') throw new ExplainError('--versus needs --target class:K (or K): explain why K and not VERSUS');
  return { kind: 'difference', a: target.index, b: parseIndex(options.versus, '--versus'), output: target.output };
}

/** A resolved target as the target it was resolved from ('top' aside): a predicted mask is 'predicted' again. */
export function unresolved(t: ResolvedTarget): Target {
  switch (t.kind) {
    case 'region':
      return { kind: 'region', class: t.class, mask: t.predicted ? 'predicted' : t.mask, output: t.output };
    case 'box':
      return { kind: 'box', index: t.index, detection: t.detection, output: t.output };
    case 'element':
      return { kind: 'element', index: t.index, output: t.output };
    default:
      return t;
  }
}

/**
 * The command-line flags (--target and what goes with it) that parseTarget and the CLI's target
 * flags read back as this target: each kind's `format`, and --output when the target names an
 * output other than `firstOutput` (always, when firstOutput is not given) and its form does not.
 */
export function formatTarget(target: Target, options: TargetFileNames & { firstOutput?: string } = {}): string[] {
  const words = kindOf(target.kind).format(target as never, options);
  const output = target.kind !== 'element' && target.output !== undefined && target.output !== options.firstOutput ? ['--output', target.output] : [];
  return [...words, ...output];
}

function resolveWith(target: Target, at: ResolveContext): ResolvedTarget {
  return kindOf(target.kind).resolve(target as never, at);
}

/** The target resolved against the model's output for the input (one forward pass), and that output. */
export async function resolveTarget(model: ConvModel, input: Tensor, target: Target): Promise<{ target: ResolvedTarget; output: Tensor }> {
  const name = outputName(model, target);
  const extra = kindOf(target.kind).extraOutputs?.(target as never) ?? [];
  const outputs = await model.run({ [model.input.name]: input }, extra);
  const output = outputs[name];
  return { target: resolveWith(target, { name, dims: output.dims, outputs }), output };
}

/** A class target whose index is 'top': it becomes a class once the output for the input is known. */
export interface TopTarget {
  kind: 'top';
  output: string;
}

export interface TargetPlan {
  /** The resolved target, or 'top' still to be read from the first output computed for the input. */
  target: ResolvedTarget | TopTarget;
  /** The target output's dims for the input (batch 1). */
  outputDims: number[];
}

/**
 * The target with its indices checked and its output's dims, without running the model when the
 * input has the size the model's shapes were probed at (the dims are then the probed ones) and the
 * kind needs no output values; a class 'top' stays open (resolveTop) so the run that needs the
 * output anyway also resolves it. Other cases take one forward pass, as resolveTarget.
 */
export async function planTarget(model: ConvModel, input: Tensor, target: Target): Promise<TargetPlan> {
  const name = outputName(model, target);
  const outputDims = await probedOutputDims(model, input, name);
  if (outputDims && target.kind === 'class' && target.index === 'top') return { target: { kind: 'top', output: name }, outputDims };
  if (!outputDims || kindOf(target.kind).needsOutputs(target as never)) {
    const { target: resolved, output } = await resolveTarget(model, input, target);
    return { target: resolved, outputDims: output.dims };
  }
  return { target: resolveWith(target, { name, dims: outputDims }), outputDims };
}

/** The output's probed dims, when the input has the probed size (batch aside) and the probe runs. */
async function probedOutputDims(model: ConvModel, input: Tensor, name: string): Promise<number[] | undefined> {
  const probed = concreteInputDims(model.input.shape);
  const sameSize = probed.length === input.dims.length && probed.every((d, i) => i === 0 || d === input.dims[i]);
  const dims = sameSize
    ? await model.probeShapes().then(
        (shapes) => shapes.get(name),
        () => undefined,
      )
    : undefined;
  return dims && dims[0] === 1 ? dims : undefined;
}

/** The plan's target, 'top' resolved from the output for the input (row 0: first maximum, as ArgMax). */
export function resolveTop(target: ResolvedTarget | TopTarget, output: Tensor): ResolvedTarget {
  if (target.kind !== 'top') return target;
  const count = scoresPerRow(output.dims);
  return { kind: 'class', index: argmax(output.data as Float32Array, 0, count), output: target.output };
}

/**
 * The plan's target resolved, with one forward pass when it is 'top' (whose outputs go to
 * `onOutputs`: ExplainContext's inputOutputs).
 */
export async function resolvePlan(model: ConvModel, input: Tensor, plan: TargetPlan, onOutputs?: (outputs: Record<string, Tensor>) => void): Promise<ResolvedTarget> {
  if (plan.target.kind !== 'top') return plan.target;
  const outputs = await model.run({ [model.input.name]: input });
  onOutputs?.(outputs);
  return resolveTop(plan.target, outputs[plan.target.output]);
}

/**
 * Hands `computed` (tensors a method computed for the input itself) to `onOutputs` (ExplainContext's
 * inputOutputs) where they hold every graph output of `model`, which alone it gets: a caller that
 * shows the prediction then runs no forward pass of its own.
 */
export function handOverOutputs(model: ConvModel, computed: Record<string, Tensor>, onOutputs: ((outputs: Record<string, Tensor>) => void) | undefined): void {
  const names = (model.proto.graph?.output ?? []).map((o) => o.name);
  if (onOutputs && names.every((name) => computed[name])) onOutputs(Object.fromEntries(names.map((name) => [name, computed[name]])));
}

/** Whether the seed depends on the output (the gradient run then needs the batch's output first). */
export function seedReadsOutput(target: ResolvedTarget): boolean {
  return kindOf(target.kind).seedReadsRow;
}

/**
 * Backward seed for `batch` rows of an output shaped like `outputDims`: each row is ∂ score / ∂ row,
 * from that row of `output` where the score is not linear (seedReadsOutput).
 */
export function seedFor(target: ResolvedTarget, outputDims: number[], batch: number, output?: Tensor): Tensor {
  const kind = kindOf(target.kind);
  if (kind.seedReadsRow && !output) throw new Error(`the seed of a ${target.kind} target is computed from the output`);
  const count = scoresPerRow(outputDims);
  const seed = float32([batch, ...outputDims.slice(1)]);
  const data = output?.data as Float32Array | undefined;
  for (let row = 0; row < batch; row++) {
    const values = data ? data.subarray(row * count, (row + 1) * count) : new Float32Array(0);
    kind.seed(values, target as never, seed.data.subarray(row * count, (row + 1) * count));
  }
  return seed;
}

/**
 * The target's score for every row of an output (batch first). `kind` 'probability' applies to
 * class and difference targets (softmax over the row first); other kinds score as they define.
 */
export function targetScores(output: Tensor, target: ResolvedTarget, kind: ScoreKind = 'logit'): Float64Array {
  const count = scoresPerRow(output.dims);
  const rows = output.dims[0];
  const data = output.data as Float32Array;
  const scores = new Float64Array(rows);
  const scoring = kind === 'probability' && (target.kind === 'class' || target.kind === 'difference');
  for (let row = 0; row < rows; row++) {
    const values = data.subarray(row * count, (row + 1) * count);
    if (!scoring) scores[row] = kindOf(target.kind).score(values, target as never);
    else {
      const p = softmax(values);
      scores[row] = target.kind === 'class' ? p[target.index] : p[target.a] - p[target.b];
    }
  }
  return scores;
}

/**
 * The target's score for every row of a perturbed input's outputs (occlusion, RISE, LIME, Kernel
 * SHAP, Score-CAM, Ablation-CAM, deletion/insertion): as targetScores, except that a box target
 * re-matches its box in each row by IoU and class (matchedBoxScore, pytorch-grad-cam's
 * FasterRCNNBoxScoreTarget) instead of reading the fixed candidate that gradient methods
 * differentiate. `outputs` holds the target output and, for separate boxes and scores outputs, the
 * boxes output.
 */
export function perturbedScores(outputs: Record<string, Tensor>, target: ResolvedTarget, kind: ScoreKind = 'logit'): Float64Array {
  const output = outputs[target.output];
  if (target.kind !== 'box') return targetScores(output, target, kind);
  const boxesName = target.detection?.boxes;
  const boxes = boxesName ? outputs[boxesName] : undefined;
  if (boxesName && !boxes) throw new Error(`re-matching box ${target.index} needs the boxes output '${boxesName}' of each run`);
  const count = scoresPerRow(output.dims);
  const boxCount = boxes ? scoresPerRow(boxes.dims) : 0;
  const options = { minScore: target.detection?.minScore ?? DEFAULT_MIN_SCORE, iou: target.detection?.iou ?? DEFAULT_IOU };
  const scores = new Float64Array(output.dims[0]);
  for (let row = 0; row < scores.length; row++) {
    const values = (output.data as Float32Array).subarray(row * count, (row + 1) * count);
    const rowBoxes = boxes ? (boxes.data as Float32Array).subarray(row * boxCount, (row + 1) * boxCount) : undefined;
    scores[row] = matchedBoxScore(values, target.head, target.detected, options, rowBoxes);
  }
  return scores;
}

/** The outputs a perturbed run must compute for perturbedScores: the target's, and a separate boxes output. */
export function perturbedOutputs(target: ResolvedTarget): string[] {
  return target.kind === 'box' && target.detection?.boxes ? [target.output, target.detection.boxes] : [target.output];
}

export function describeTarget(target: ResolvedTarget): string {
  return kindOf(target.kind).describe(target as never);
}
