// A model together with what it takes to use it on real inputs: its preprocessing (and where
// that came from), its class labels, and its inputs loaded from images or .npy files. The CLI and
// the compute worker both work through it.
import * as path from 'path';
import { DecodeOptions } from './image/decode';
import { Prediction, findLabelsFile, labelsFor, topK } from './labels/labels';
import { ConvModel, ModelOptions, TensorInfo } from './model';
import { InputError, LoadedInput, PreprocessOverrides, ResolvedPreprocessing, loadInput, loadInputBytes, resolvePreprocessing } from './preprocess';
import { Tensor, nonFinite, sizeOf } from './tensor';

export interface ContextOptions extends ModelOptions {
  /** Preprocessing fields from the user's settings, over the sidecar and model metadata. */
  preprocessing?: PreprocessOverrides;
  /** Where files named in `preprocessing` must be: the workspace (see PreprocessContext). */
  settingsFolder?: string;
  /** Limits on images read and on every size from outside (input dims, resize targets, .npy shapes). */
  decode?: DecodeOptions;
}

export class ModelContext {
  private constructor(
    readonly model: ConvModel,
    readonly preprocessing: ResolvedPreprocessing | undefined,
    /** Why images cannot be fed, when the preprocessing could not be worked out. */
    readonly preprocessingProblem: string | undefined,
    readonly labels: string[] | undefined,
    /** The limits on images and sizes from outside that this model's inputs are read under. */
    readonly limits: DecodeOptions,
  ) {}

  static open(modelPath: string, options: ContextOptions = {}): ModelContext {
    const model = ConvModel.load(modelPath, { ...options, sizeLimits: options.decode });
    const input = model.input;
    let preprocessing: ResolvedPreprocessing | undefined;
    let problem: string | undefined;
    try {
      preprocessing = resolvePreprocessing({
        modelPath: model.file,
        inputShape: input.shape,
        metadataProps: model.proto.metadata_props,
        settings: options.preprocessing,
        settingsFolder: options.settingsFolder,
        limits: options.decode,
      });
    } catch (err) {
      problem = (err as Error).message;
    }
    const outputSize = classCount(model.summary().outputs[0]);
    const labelsSource = preprocessing?.labels ?? (model.file ? findLabelsFile(model.file) : undefined);
    const labels = outputSize ? labelsFor(outputSize, labelsSource) : undefined;
    return new ModelContext(model, preprocessing, problem, labels, options.decode ?? {});
  }

  get name(): string {
    return this.model.file ? path.basename(this.model.file) : 'model';
  }

  get inputInfo(): TensorInfo {
    return this.model.input;
  }

  /** An image (decoded and preprocessed) or a .npy tensor, checked against the model's input. */
  loadInput(file: string): LoadedInput {
    if (!this.preprocessing && this.preprocessingProblem && !/\.(npy|wav)$/i.test(file)) {
      throw new Error(`cannot preprocess images for ${this.name}: ${this.preprocessingProblem}`);
    }
    return this.finiteInput(path.basename(file), loadInput(file, this.preprocessing?.spec, this.inputInfo.shape, this.limits));
  }

  /** As loadInput, on a file's bytes already in memory (a dropped file). */
  loadInputBytes(name: string, bytes: Uint8Array): LoadedInput {
    return this.finiteInput(name, loadInputBytes(name, bytes, this.preprocessing?.spec, this.inputInfo.shape, this.limits));
  }

  /** `input` (named `name`), refused where a value is not finite: the model needs finite inputs. */
  finiteInput(name: string, input: LoadedInput): LoadedInput {
    const problem = nonFinite(input.tensor.data as Float32Array);
    if (problem) throw new InputError(`${name} contains ${problem}; the model needs finite inputs`);
    return input;
  }

  feeds(input: Tensor): Record<string, Tensor> {
    return { [this.inputInfo.name]: input };
  }

  /** Top-k classes of each batch row of the first output. */
  async predict(input: Tensor, k: number): Promise<{ logits: Tensor; top: Prediction[][] }> {
    const outputs = await this.model.run(this.feeds(input));
    return { logits: outputs[this.model.summary().outputs[0].name], top: this.topOf(outputs, k) };
  }

  /** Top-k classes of each batch row of the first output among `outputs` (a run's). */
  topOf(outputs: Record<string, Tensor>, k: number): Prediction[][] {
    const logits = outputs[this.model.summary().outputs[0].name];
    const problem = nonFinite(logits.data as Float32Array);
    if (problem) throw new Error(`the model's output for this input contains ${problem}: a layer overflows or divides by zero`);
    return topRows(logits, k, this.labels);
  }

  labelOf(index: number): string {
    return this.labels?.[index] ?? `class ${index}`;
  }

  dispose(): Promise<void> {
    return this.model.dispose();
  }
}

function classCount(output: TensorInfo | undefined): number | undefined {
  const last = output?.shape[output.shape.length - 1];
  return typeof last === 'number' ? last : undefined;
}

export function topRows(logits: Tensor, k: number, labels?: string[]): Prediction[][] {
  const rows = logits.dims[0] ?? 1;
  const perRow = sizeOf(logits.dims) / rows;
  const data = logits.data as Float32Array;
  return Array.from({ length: rows }, (_, r) => topK(data.subarray(r * perRow, (r + 1) * perRow), k, labels));
}
