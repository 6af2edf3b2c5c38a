// How dataset images become model inputs: decoded to 8-bit RGB (src/core/image/decode.ts; kept, so
// the spurious-feature check can edit pixels) and then preprocessed as the model expects
// (src/core/preprocess/resolve.ts: settings > sidecar > model metadata > defaults).
import { readImageFile } from '../image/decode';
import { RgbImage } from '../image/image';
import type { LabelsSource } from '../labels/labels';
import { ConvModel } from '../model';
import { PreprocessOverrides, PreprocessSpec, preprocessImage, resolvePreprocessing } from '../preprocess';
import { FloatTensor } from '../tensor';
import type { SizeLimits } from '../limits';
import { sha256 } from './cache';

export type { RgbImage };

export interface InputPipeline {
  spec: PreprocessSpec;
  /** Identifies the preprocessing: part of the feature cache key. */
  key: string;
  /** Model input [height, width]. */
  size: [number, number];
  /** Labels named (or given inline) by the settings, sidecar or metadata, if any. */
  labels?: LabelsSource;
  decode(file: string): Promise<RgbImage>;
  /** The preprocessed input, batch 1. */
  toTensor(image: RgbImage): FloatTensor;
  /**
   * Set where toTensor(decode(file)) is readImageFile then preprocessImage with this spec and
   * these limits: work a decode thread (decode-pool.ts) can do with the same result.
   */
  pooled?: { spec: PreprocessSpec; limits: SizeLimits };
}

/** The pipeline for a model: `spec` as given, else resolved from `settings`, the sidecar, metadata and defaults. */
export function inputPipelineFor(model: ConvModel, options: { spec?: PreprocessSpec; settings?: PreprocessOverrides } = {}): InputPipeline {
  const resolved = options.spec
    ? undefined
    : resolvePreprocessing({
        modelPath: model.file,
        inputShape: model.input.shape,
        metadataProps: model.proto.metadata_props,
        settings: options.settings,
        limits: model.sizeLimits,
      });
  const spec = options.spec ?? resolved!.spec;
  return {
    spec,
    key: sha256(JSON.stringify(spec)).slice(0, 16),
    size: spec.size,
    labels: resolved?.labels,
    decode: async (file) => readImageFile(file, model.sizeLimits),
    toTensor: (image) => preprocessImage(image, spec, model.sizeLimits).tensor,
    pooled: { spec, limits: model.sizeLimits },
  };
}
