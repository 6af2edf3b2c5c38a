// Which channels of a layer matter for a class across a dataset.
//
// Gradient × activation (the first-order Taylor estimate of a channel's contribution; Molchanov et
// al., "Importance Estimation for Neural Network Pruning", CVPR 2019; Captum's LayerGradientXActivation
// summed over space):
//   score_c = mean over images of Σ_{y,x} A[c, y, x] · ∂ y_k / ∂ A[c, y, x]
// where y_k is the class logit and A the layer's activation (gradients from src/core/autodiff).
//
// Ablation (Zhou et al., "Revisiting the Importance of Individual Units in CNNs via Ablation", 2018):
//   score_c = mean over images of y_k(A) − y_k(A with channel c set to 0)
// computed by running only the part of the model after the layer (src/core/explain/submodel.ts),
// fed the layer's activation with one channel zeroed.
import { computeGradients, seedForClass } from '../autodiff/gradients';
import { RunControl } from '../explain/forward';
import { throwIfCancelled } from '../cancel';
import { modelAfter } from '../explain/submodel';
import { ConvModel } from '../model';
import { run } from '../onnx/session';
import { Tensor } from '../tensor';
import { DatasetError } from './errors';
import { DatasetFeatures, fittingBatchSize } from './features';
import { InputPipeline, inputPipelineFor } from './input';

export type ImageSelection = 'predicted' | 'labelled' | 'all';

export interface ImportanceOptions extends RunControl {
  classIndex: number;
  /** Images averaged over: those the network predicts as the class (default), those labelled so, or all. */
  images?: ImageSelection;
  batchSize?: number;
  input?: InputPipeline;
}

export interface ChannelScore {
  channel: number;
  score: number;
}

export interface ChannelImportance {
  layer: string;
  classIndex: number;
  className: string;
  method: 'gradient-x-activation' | 'ablation';
  formula: string;
  /** Images averaged over. */
  images: number;
  /** Every channel scored (ablation: those asked for), highest score first. */
  channels: ChannelScore[];
}

/** Indices of the images a selection covers. */
export function selectImages(features: DatasetFeatures, classIndex: number, selection: ImageSelection): number[] {
  if (!Number.isInteger(classIndex) || classIndex < 0 || classIndex >= features.classNames.length) {
    throw new DatasetError(`class ${classIndex} is out of range: the model has classes 0 to ${features.classNames.length - 1}`);
  }
  const chosen = features.images.flatMap((im, i) => {
    if (selection === 'all') return [i];
    const matches = selection === 'predicted' ? features.predictions[i] === classIndex : im.label === classIndex;
    return matches ? [i] : [];
  });
  if (chosen.length === 0) {
    const what = selection === 'predicted' ? 'predicted as' : 'labelled';
    throw new DatasetError(`no image in the dataset is ${what} ${features.classNames[classIndex]}`);
  }
  return chosen;
}

async function inputBatch(features: DatasetFeatures, images: number[], input: InputPipeline): Promise<Tensor<Float32Array>> {
  const tensors = await Promise.all(images.map(async (i) => input.toTensor(await input.decode(features.images[i].file))));
  const sample = tensors[0].data.length;
  const data = new Float32Array(tensors.length * sample);
  tensors.forEach((t, j) => data.set(t.data, j * sample));
  return { dtype: 'float32', dims: [tensors.length, ...tensors[0].dims.slice(1)], data };
}

function ranked(scores: Float64Array, channels: number[]): ChannelScore[] {
  return channels.map((channel, j) => ({ channel, score: scores[j] })).sort((a, b) => b.score - a.score || a.channel - b.channel);
}

export async function gradientImportance(model: ConvModel, features: DatasetFeatures, options: ImportanceOptions): Promise<ChannelImportance> {
  const images = selectImages(features, options.classIndex, options.images ?? 'predicted');
  const input = options.input ?? inputPipelineFor(model);
  const [c, h, w] = features.layerShape;
  const spatial = h * w;
  const sums = new Float64Array(c);
  // The layer and its gradient, per image.
  const batchSize = await fittingBatchSize(model, features.inputSize, [features.layer], options.batchSize ?? 16, 2);
  const outputDims = (await model.probeShapes()).get(features.output) ?? [1, features.classNames.length];
  for (let start = 0; start < images.length; start += batchSize) {
    throwIfCancelled(options.signal);
    const part = images.slice(start, start + batchSize);
    const batch = await inputBatch(features, part, input);
    const { gradients, outputs } = await computeGradients(
      model,
      { [model.input.name]: batch },
      {
        wrt: [features.layer],
        output: features.output,
        seed: seedForClass([part.length, ...outputDims.slice(1)], options.classIndex),
      },
    );
    const activation = (outputs[features.layer] ?? (await model.run({ [model.input.name]: batch }, [features.layer]))[features.layer]).data as Float32Array;
    const gradient = gradients[features.layer].data as Float32Array;
    for (let b = 0; b < part.length; b++) {
      for (let ch = 0; ch < c; ch++) {
        const base = (b * c + ch) * spatial;
        let s = 0;
        for (let i = 0; i < spatial; i++) s += activation[base + i] * gradient[base + i];
        sums[ch] += s;
      }
    }
    options.progress?.(Math.min(1, (start + part.length) / images.length), `gradient × activation: ${start + part.length}/${images.length} images`);
  }
  for (let ch = 0; ch < c; ch++) sums[ch] /= images.length;
  return {
    layer: features.layer,
    classIndex: options.classIndex,
    className: features.classNames[options.classIndex],
    method: 'gradient-x-activation',
    formula: 'mean over images of Σ_{y,x} A[c,y,x] · ∂logit/∂A[c,y,x]',
    images: images.length,
    channels: ranked(
      sums,
      Array.from({ length: c }, (_, i) => i),
    ),
  };
}

/** The model after the layer, as a session, with the tensors from before the cut it also reads. */
async function tailSession(model: ConvModel, features: DatasetFeatures) {
  const [c, h, w] = features.layerShape;
  const dims = h * w === 1 ? [1, c] : [1, c, h, w];
  const tail = modelAfter(model.batchedProto(), features.layer, features.output, dims);
  const session = await model.session(`dataset-after:${model.batchVariantKey()}:${features.layer}`, () => tail.proto);
  return { session, extraInputs: tail.extraInputs };
}

export async function ablationImportance(model: ConvModel, features: DatasetFeatures, options: ImportanceOptions & { channels?: number[] }): Promise<ChannelImportance> {
  const images = selectImages(features, options.classIndex, options.images ?? 'predicted');
  const input = options.input ?? inputPipelineFor(model);
  const [c] = features.layerShape;
  const channels = options.channels ?? Array.from({ length: c }, (_, i) => i);
  for (const ch of channels) {
    if (!Number.isInteger(ch) || ch < 0 || ch >= c) throw new DatasetError(`channel ${ch} does not exist: ${features.layer} has channels 0 to ${c - 1}`);
  }
  const { session, extraInputs } = await tailSession(model, features);
  const drops = new Float64Array(channels.length);
  const batchSize = await fittingBatchSize(model, features.inputSize, [features.layer, ...extraInputs], options.batchSize ?? 32);
  const k = options.classIndex;
  for (let start = 0; start < images.length; start += batchSize) {
    const part = images.slice(start, start + batchSize);
    const batch = await inputBatch(features, part, input);
    const modelFeeds = { [model.input.name]: batch };
    const computed = extraInputs.filter((name) => !(name in modelFeeds));
    const full = { ...modelFeeds, ...(await model.run(modelFeeds, [features.layer, ...computed])) };
    const layerOut = full[features.layer];
    const feeds: Record<string, Tensor> = { [features.layer]: layerOut };
    for (const name of extraInputs) feeds[name] = full[name];
    const classScores = async (activation: Tensor) => {
      const out = (await run(session, { ...feeds, [features.layer]: activation }, [features.output]))[features.output];
      const count = out.data.length / part.length;
      return Array.from({ length: part.length }, (_, b) => (out.data as Float32Array)[b * count + k]);
    };
    const base = await classScores(layerOut);
    const per = layerOut.data.length / (part.length * c);
    for (let j = 0; j < channels.length; j++) {
      throwIfCancelled(options.signal);
      const ablated = Float32Array.from(layerOut.data as Float32Array);
      for (let b = 0; b < part.length; b++) ablated.fill(0, (b * c + channels[j]) * per, (b * c + channels[j] + 1) * per);
      const scores = await classScores({ dtype: 'float32', dims: layerOut.dims, data: ablated });
      for (let b = 0; b < part.length; b++) drops[j] += base[b] - scores[b];
    }
    options.progress?.(Math.min(1, (start + part.length) / images.length), `ablation: ${start + part.length}/${images.length} images`);
  }
  for (let j = 0; j < channels.length; j++) drops[j] /= images.length;
  return {
    layer: features.layer,
    classIndex: k,
    className: features.classNames[k],
    method: 'ablation',
    formula: 'mean over images of logit(A) − logit(A with channel c zeroed)',
    images: images.length,
    channels: ranked(drops, channels),
  };
}
