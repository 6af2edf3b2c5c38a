// Sanity check of an explanation method: the model-parameter randomisation test of Adebayo,
// Gilmer, Muelly, Goodfellow, Hardt & Kim, "Sanity Checks for Saliency Maps", NeurIPS 2018
// (cascading randomisation, their Sec. 3.1; their code: github.com/adebayoj/sanity_checks_saliency).
//
// The layers with weights (Conv, ConvTranspose, Gemm, MatMul with a weight initializer) are taken in
// execution order; step k re-initialises the top k of them (output side first), so later steps
// keep every earlier step's randomisation. Re-initialisation: weights W ← N(0, std(W)²), the same
// scale as the trained layer, seeded per tensor name so a layer gets the same values at every step;
// biases of Conv/Gemm ← N(0, std(b)²) (or zero; a MatMul's bias is a separate Add and is kept).
// BatchNormalization and LayerNorm parameters and statistics are KEPT: they are not learned features
// (and most exporters fold BatchNorm into the convolutions anyway).
//
// Each step's explanation maps (one per input) are compared with the trained model's: Spearman rank
// correlation of |map| (their main measure) and of the signed map (similarity.ts), and SSIM of the
// maps min-max scaled to [0, 1]; the step reports the means over the inputs. A method whose maps
// keep a mean rank correlation of |map| above the threshold (default 0.5) once every layer is
// random does not depend on what the model learned: it is flagged "not explaining the model".
import { ConvModel } from '../model';
import { indexGraph, nodeLabel, topologicalOrder } from '../onnx/graph';
import { tensorFromProto, tensorToProto } from '../onnx/initializers';
import { encodeModel, GraphProto, ModelProto, TensorProto } from '../onnx/proto';
import { cloneModel } from '../onnx/surgery';
import { CancelledError } from '../cancel';
import { float32, FloatTensor, Tensor } from '../tensor';
import { explain, OptionValue, ResolvedTarget, Target } from '../explain';
import { seededRandom, standardNormal, stringHash } from '../random';
import { minMaxNormalize, spearman, ssim } from './similarity';

export class SanityCheckError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SanityCheckError';
  }
}

export interface WeightedLayer {
  node: string;
  opType: string;
  weight: string;
  bias?: string;
}

/**
 * What the check re-runs: the explanation maps of one model for a fixed list of inputs and
 * targets (the same list every time), one map per input.
 */
export type MapsOf = (model: ConvModel) => Promise<FloatTensor[]>;

export interface SanityCheckOptions {
  seed?: number;
  /** Biases re-drawn like weights ('random', default) or set to zero. */
  biases?: 'random' | 'zero';
  /** Mean rank correlation above which the fully randomised maps count as "the same"; default 0.5. */
  threshold?: number;
  progress?: (fraction: number, message: string) => void;
  signal?: AbortSignal;
}

export interface MapSimilarity {
  /** Spearman rank correlation of |original| and |randomised| (Adebayo et al.'s main measure). */
  spearman: number;
  /** Spearman rank correlation of the signed maps. */
  signedSpearman: number;
  /** SSIM of the maps min-max scaled to [0, 1]. */
  ssim: number;
}

export interface RandomizationStep extends MapSimilarity {
  /** The layer this step re-initialised (all earlier steps' layers stay random). */
  layer: string;
  /** Layers random at this step, output side first. */
  randomized: string[];
  /** Per input; the step's numbers are their means. */
  perInput: MapSimilarity[];
  maps: FloatTensor[];
}

export interface SanityCheckResult {
  original: FloatTensor[];
  steps: RandomizationStep[];
  threshold: number;
  /** The last step's mean rank correlation of |map| (every weighted layer random). */
  finalSpearman: number;
  /** false: the maps survive full randomisation, so they do not explain the model. */
  passed: boolean;
  verdict: string;
  notes: string[];
}

export interface ExplanationMapOptions {
  /** Default: the trained model's top class, kept for every randomised model (Adebayo et al. explain the same class). */
  target?: Target;
  /** Layer for CAM methods; default the method's own choice. */
  layer?: string;
  methodOptions?: Record<string, OptionValue | undefined>;
  /** 'map' (default): the displayed [H, W] map; 'raw': the raw attribution summed over channels (signed). */
  which?: 'map' | 'raw';
  /** Cancels within an explanation too, not only between the randomisation steps. */
  signal?: AbortSignal;
}

/**
 * The maps of explanation method `method` (src/core/explain) for each input [1, C, H, W], as the
 * sanity check re-runs them. The first call (the trained model) fixes each input's target class.
 */
export function explanationMaps(method: string, inputs: Tensor[], options: ExplanationMapOptions = {}): MapsOf {
  let fixed: ResolvedTarget[] | undefined;
  return async (model) => {
    const maps: FloatTensor[] = [];
    const targets: ResolvedTarget[] = [];
    for (const [i, input] of inputs.entries()) {
      const target: Target = fixed ? fixed[i] : (options.target ?? { kind: 'class', index: 'top' });
      const e = await explain(method, { model, input, target, layer: options.layer, signal: options.signal }, options.methodOptions);
      targets.push(e.target);
      maps.push(options.which === 'raw' ? channelSum(e.raw) : (e.map as FloatTensor));
    }
    fixed ??= targets;
    return maps;
  };
}

/** [.., C, H, W] → [H, W] summed over every leading axis. */
function channelSum(t: Tensor): FloatTensor {
  const [h, w] = t.dims.slice(-2);
  const out = float32([h, w]);
  for (let i = 0; i < t.data.length; i++) out.data[i % (h * w)] += Number(t.data[i]);
  return out;
}

/** Layers with a weight initializer, in execution order (input side first). */
export function weightedLayers(graph: GraphProto): WeightedLayer[] {
  const { initializers } = indexGraph(graph);
  const layers: WeightedLayer[] = [];
  for (const node of topologicalOrder(graph)) {
    const isWeighted = ['Conv', 'ConvTranspose', 'Gemm'].includes(node.op_type) || (node.op_type === 'MatMul' && node.input.some((i) => initializers.has(i)));
    if (!isWeighted) continue;
    const weight = node.op_type === 'MatMul' ? node.input.find((i) => initializers.has(i)) : node.input[1];
    if (!weight || !initializers.has(weight)) continue;
    const bias = node.op_type !== 'MatMul' && node.input[2] && initializers.has(node.input[2]) ? node.input[2] : undefined;
    layers.push({ node: nodeLabel(node), opType: node.op_type, weight, bias });
  }
  return layers;
}

function standardDeviation(data: Float32Array): number {
  let mean = 0;
  for (const v of data) mean += v / data.length;
  let variance = 0;
  for (const v of data) variance += (v - mean) ** 2 / data.length;
  return Math.sqrt(variance);
}

/** N(0, std(t)²) values of the tensor's shape, seeded by `seed` and the tensor's name. */
function redraw(t: TensorProto, seed: number, modelDir: string | undefined, zero: boolean): TensorProto {
  const original = tensorFromProto(t, modelDir);
  if (original.dtype !== 'float32') throw new SanityCheckError(`weight '${t.name}' is ${original.dtype}; randomisation supports float32 weights only`);
  const data = new Float32Array(original.data.length);
  if (!zero) {
    const std = standardDeviation(original.data as Float32Array);
    const random = seededRandom((seed ^ stringHash(t.name ?? '')) >>> 0);
    for (let i = 0; i < data.length; i++) data[i] = std * standardNormal(random);
  }
  return tensorToProto(t.name ?? '', float32(original.dims, data));
}

/** A copy of the model with the named layers' weights (and biases) re-drawn. */
export function randomizeLayers(proto: ModelProto, layers: WeightedLayer[], options: { seed?: number; biases?: 'random' | 'zero'; modelDir?: string } = {}): ModelProto {
  const copy = cloneModel(proto);
  const graph = copy.graph as GraphProto;
  const replace = new Map<string, boolean>();
  for (const layer of layers) {
    replace.set(layer.weight, false);
    if (layer.bias) replace.set(layer.bias, options.biases === 'zero');
  }
  graph.initializer = graph.initializer!.map((t) => (replace.has(t.name ?? '') ? redraw(t, options.seed ?? 0, options.modelDir, replace.get(t.name ?? '')!) : t));
  return copy;
}

/**
 * Cascading model-parameter randomisation: the trained model's maps against the maps of models whose
 * top 1, 2, … all weighted layers are random.
 */
export async function cascadingRandomization(model: ConvModel, mapsOf: MapsOf, options: SanityCheckOptions = {}): Promise<SanityCheckResult> {
  const layers = weightedLayers(model.graph);
  if (layers.length === 0) throw new SanityCheckError('the model has no layers with weight initializers to randomise');
  const threshold = options.threshold ?? 0.5;
  const original = await mapsOf(model);
  if (original.length === 0) throw new SanityCheckError('the explanation returned no maps to compare');
  const steps: RandomizationStep[] = [];
  const topDown = [...layers].reverse();
  let constantMaps = 0;
  for (let k = 1; k <= topDown.length; k++) {
    if (options.signal?.aborted) throw new CancelledError();
    const randomized = topDown.slice(0, k);
    const proto = randomizeLayers(model.proto, randomized, { seed: options.seed, biases: options.biases, modelDir: model.dir });
    const variant = ConvModel.fromBytes(encodeModel(proto), { provider: model.provider, threads: model.threads, activationMemory: model.activationLimit.options });
    try {
      const maps = await mapsOf(variant);
      if (maps.length !== original.length)
        throw new SanityCheckError(`the explanation returned ${maps.length} maps for the randomised model and ${original.length} for the trained one`);
      constantMaps += maps.filter(isConstant).length;
      const perInput = maps.map((m, i) => compareMaps(original[i], m));
      const mean = (key: keyof MapSimilarity) => perInput.reduce((acc, s) => acc + s[key], 0) / perInput.length;
      steps.push({
        layer: randomized[k - 1].node,
        randomized: randomized.map((l) => l.node),
        spearman: mean('spearman'),
        signedSpearman: mean('signedSpearman'),
        ssim: mean('ssim'),
        perInput,
        maps,
      });
    } finally {
      await variant.dispose();
    }
    options.progress?.(k / topDown.length, `randomised ${k}/${topDown.length} layers (${randomized[k - 1].node})`);
  }
  const finalSpearman = steps[steps.length - 1].spearman;
  // A constant trained map (e.g. all zero: no gradient reached the input) has nothing for the
  // randomisation to change, and correlates with nothing, so a low correlation proves nothing.
  const constantOriginal = original.findIndex(isConstant);
  const passed = constantOriginal < 0 && !(finalSpearman > threshold);
  const notes = [
    `weights re-drawn from N(0, std²) of each trained tensor (seed ${options.seed ?? 0}); biases ${options.biases === 'zero' ? 'set to zero' : 're-drawn the same way'}`,
    'BatchNormalization parameters and statistics kept',
    `numbers are means over ${original.length} input(s)`,
  ];
  if (constantMaps > 0) notes.push(`${constantMaps} map(s) of randomised models were constant (e.g. all zero after a ReLU): a constant map correlates with nothing (0)`);
  return {
    original,
    steps,
    threshold,
    finalSpearman,
    passed,
    verdict:
      constantOriginal >= 0
        ? `no evidence: the trained model's map for input ${constantOriginal + 1} is constant (every value ${original[constantOriginal].data[0]}), so it shows nothing that randomisation could change`
        : passed
          ? `the maps change when the weights are randomised (mean rank correlation ${finalSpearman.toFixed(3)} ≤ ${threshold} with every layer random)`
          : `not explaining the model: with every layer random the maps keep mean rank correlation ${finalSpearman.toFixed(3)} > ${threshold} with the trained model's`,
    notes,
  };
}

function isConstant(map: FloatTensor): boolean {
  return map.data.every((v) => v === map.data[0]);
}

/** Spearman of |a| and |b| and of a and b, and SSIM of the min-max scaled maps. */
export function compareMaps(a: FloatTensor, b: FloatTensor): MapSimilarity {
  if (a.data.length !== b.data.length) throw new SanityCheckError(`the maps have different sizes: [${a.dims.join(', ')}] and [${b.dims.join(', ')}]`);
  const [h, w] = a.dims.slice(-2);
  const abs = (t: FloatTensor) => t.data.map(Math.abs);
  const scaled = (t: FloatTensor) => float32([h, w], minMaxNormalize(t.data));
  return { spearman: spearman(abs(a), abs(b)), signedSpearman: spearman(a.data, b.data), ssim: ssim(scaled(a), scaled(b)) };
}
