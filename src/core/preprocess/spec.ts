// Turning an image (or a .npy tensor) into the model's input tensor, and deciding how.
//
// Pipeline of preprocessImage, in torchvision's order:
//   [grayscale: Pillow convert('L'), L = 0.299 R + 0.587 G + 0.114 B on 8-bit values]
//   → resize: 'stretch' to size, or 'shorter-side-crop' = torchvision Resize(resizeTo) +
//     CenterCrop(size), with the resampler of `antialias` (see image/resample.ts):
//       'skimage' skimage.transform.resize(anti_aliasing=True)   (the reference data's choice)
//       'pil'     Pillow Image.resize(BILINEAR), what torchvision's Resize does to PIL images
//       'none'    bilinear without antialiasing (F.interpolate(antialias=False), cv2 INTER_LINEAR)
//   → x = pixel · scale (pixel in 0..255), then (x − mean[c]) / std[c] per tensor channel
//     (torchvision ToTensor + Normalize when scale = 1/255)
//   → colorOrder 'BGR' reverses the channels (mean/std are given in the tensor's order)
//   → layout NCHW or NHWC, batch 1.
//
// resolvePreprocessing merges, field by field, from highest priority: settings, the sidecar
// `<model>.convlens.json` beside the model, the model's `convlens.preprocess` metadata (JSON), and
// defaults from the input shape: 3 channels → ImageNet mean [0.485, 0.456, 0.406] and std
// [0.229, 0.224, 0.225] with scale 1/255 (torchvision's ImageNet models); 1 channel → grayscale
// with scale 1/255 and no normalisation (ToTensor alone); size from the shape, 224 where symbolic;
// resize 'stretch' with scikit-image antialiasing (the convention of the reference data).
//
// Every size from outside (the resolved size and resizeTo, the intermediate shorter-side resize of
// an image, the shape a .npy declares) is checked against the limits of ./limits.ts before
// anything of that size is allocated.
import { SizeLimits } from '../limits';
import { LabelsSource } from '../labels/labels';
export type ResizeMode = 'stretch' | 'shorter-side-crop';
export type Antialias = 'skimage' | 'pil' | 'none';
export type Layout = 'NCHW' | 'NHWC';
export type ColorOrder = 'RGB' | 'BGR';

/** A complete preprocessing description. */
export interface PreprocessSpec {
  /** Model input [height, width]. */
  size: [number, number];
  resize: ResizeMode;
  /** Shorter side before the center crop (shorter-side-crop only), e.g. 256 for 224. */
  resizeTo?: number;
  antialias: Antialias;
  /** Multiplies 8-bit pixel values, e.g. 1/255. */
  scale: number;
  /** Per tensor channel (length 1 or C), after scaling. */
  mean: number[];
  std: number[];
  layout: Layout;
  colorOrder: ColorOrder;
  grayscale: boolean;
}

/**
 * What settings, sidecars and metadata may give: any subset of the spec, where `size` may be one
 * number, `scale` a fraction string like "1/255" and `antialias` a boolean (true: the resize mode's
 * own convention, 'skimage' for stretch and 'pil' for shorter-side-crop; false: 'none').
 */
export interface PreprocessOverrides {
  size?: [number, number] | number;
  resize?: ResizeMode;
  resizeTo?: number;
  antialias?: Antialias | boolean;
  scale?: number | string;
  mean?: number[];
  std?: number[];
  layout?: Layout;
  colorOrder?: ColorOrder;
  grayscale?: boolean;
}

/** The sidecar file: the overrides plus labels (a file name, or the names inline) and the input to feed. */
export interface SidecarFile extends PreprocessOverrides {
  labels?: string | string[];
  input?: string;
}

export type PreprocessSource = 'settings' | 'sidecar' | 'model metadata' | 'defaults';

export interface ResolvedPreprocessing {
  spec: PreprocessSpec;
  /** The highest-priority source that set any field. */
  source: PreprocessSource;
  /** One or two sentences for the user: what will be done and where it came from. */
  explanation: string;
  sidecarPath?: string;
  /** The labels the settings, sidecar or metadata give: a file to read, or names inline. */
  labels?: LabelsSource;
  /** Input name the sidecar names. */
  inputName?: string;
  /** Unknown sidecar/metadata fields, reported rather than fatal. */
  warnings: string[];
}

export interface PreprocessContext {
  modelPath?: string;
  /** The model input's declared shape (numbers, or strings for symbolic dims). */
  inputShape: (number | string)[];
  /** The model's metadata_props. */
  metadataProps?: { key?: string; value?: string }[];
  settings?: PreprocessOverrides;
  /**
   * The folder a file named in `settings` is resolved against and must stay inside: the workspace,
   * given by the VS Code layer. Without it, the model's folder, as for the sidecar and metadata.
   */
  settingsFolder?: string;
  /** Limits on the sizes the preprocessing resizes to (default: ./limits.ts's). */
  limits?: SizeLimits;
}

export class PreprocessSpecError extends Error {}
export class InputError extends Error {}

export const IMAGENET_MEAN = [0.485, 0.456, 0.406];
export const IMAGENET_STD = [0.229, 0.224, 0.225];
export const METADATA_KEY = 'convlens.preprocess';

export const SPEC_FIELDS = ['size', 'resize', 'resizeTo', 'antialias', 'scale', 'mean', 'std', 'layout', 'colorOrder', 'grayscale'] as const;
export const SIDECAR_FIELDS = [...SPEC_FIELDS, 'labels', 'input'];
