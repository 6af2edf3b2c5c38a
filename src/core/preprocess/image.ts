// Preprocessing an image
import { FloatImage, RgbImage, toGrayBytes } from '../image/image';
import { SizeLimits, checkPixels } from '../limits';
import { centerCropBox, cropImage, ImageLike, OutputWindow, resizePilBytes, resizeSkimage, resizeTriangle, ResizedImage, shorterSideSize } from '../image/resample';
import { FloatTensor, Tensor, mapToFloat32 } from '../tensor';
import { Antialias, PreprocessSpec, PreprocessSpecError } from './spec';
export interface PreprocessedImage {
  tensor: FloatTensor;
  /** The resized (and cropped) image the model sees, RGB in [0, 1] (gray replicated), for overlays. */
  rgb: FloatImage;
}

/** The resize to outH × outW, of which only `window` (a crop) is computed where the resampler allows it. */
function resample(src: ImageLike, outH: number, outW: number, antialias: Antialias, window?: OutputWindow): ResizedImage {
  const crop = (image: ResizedImage) => (window ? cropImage(image, window.top, window.left, window.height, window.width) : image);
  if (outH === src.height && outW === src.width) return crop(unresized(src, antialias));
  // scikit-image's prefilter spans the whole image: resized whole, then cropped.
  if (antialias === 'skimage') return crop(resizeSkimage(src, outH, outW, 1 / 255));
  if (antialias === 'none') return resizeTriangle(src, outH, outW, false, 1 / 255, window);
  const bytes = resizePilBytes(src, outH, outW, window);
  return { ...bytes, data: mapToFloat32(bytes.data, (v) => v / 255) };
}

/**
 * An image that already has the target size, as each resampler returns it (bit for bit; see
 * test/unit/preprocess-identity.test.ts) without running it: Pillow's bytes divided by 255; the
 * triangle filter and scikit-image's zoom, whose identity weights are exactly 1 (no prefilter, no
 * fractional taps), the bytes times 1/255.
 */
function unresized(src: ImageLike, antialias: Antialias): ResizedImage {
  const data = new Float32Array(src.data.length);
  if (antialias === 'pil') for (let i = 0; i < data.length; i++) data[i] = src.data[i] / 255;
  else for (let i = 0; i < data.length; i++) data[i] = src.data[i] * (1 / 255);
  return { width: src.width, height: src.height, channels: src.channels, data };
}

/**
 * Resizes (and crops) an 8-bit image as the spec says: values in [0, 1], 1 or 3 channels. The
 * shorter-side resize of a very elongated image is refused when it is over the pixel limit.
 */
export function resizeForModel(image: RgbImage, spec: PreprocessSpec, limits: SizeLimits = {}): FloatImage {
  const src: ImageLike = spec.grayscale
    ? { width: image.width, height: image.height, channels: 1, data: toGrayBytes(image) }
    : { width: image.width, height: image.height, channels: 3, data: image.data };
  const [h, w] = spec.size;
  if (spec.resize === 'stretch') return resample(src, h, w, spec.antialias);
  const [rh, rw] = shorterSideSize(image.height, image.width, spec.resizeTo ?? Math.max(h, w));
  checkPixels(`resizing the ${image.width}×${image.height} image to a shorter side of ${spec.resizeTo} gives`, rw, rh, limits);
  const { top, left } = centerCropBox(rh, rw, h, w);
  return resample(src, rh, rw, spec.antialias, { top, left, height: h, width: w });
}

/**
 * The part of a width × height image that resizeForModel shows the model, in the image's own
 * pixels: all of it when stretched, the centre crop scaled back by the resize factor otherwise.
 */
export function modelRegion(width: number, height: number, spec: PreprocessSpec): { top: number; left: number; height: number; width: number } {
  const [h, w] = spec.size;
  if (spec.resize === 'stretch') return { top: 0, left: 0, height, width };
  const [rh, rw] = shorterSideSize(height, width, spec.resizeTo ?? Math.max(h, w));
  const { top, left } = centerCropBox(rh, rw, h, w);
  const sy = height / rh;
  const sx = width / rw;
  return { top: top * sy, left: left * sx, height: h * sy, width: w * sx };
}

/** (v · 255 · scale − mean) / std for a [0, 1] image, in the spec's channel order and layout. */
export function normalizeImage(image: FloatImage, spec: PreprocessSpec): FloatTensor {
  const { width: w, height: h, channels: c } = image;
  const mean = perChannel(spec.mean, c, 'mean');
  const std = perChannel(spec.std, c, 'std');
  const data = new Float32Array(w * h * c);
  for (let t = 0; t < c; t++) {
    const source = spec.colorOrder === 'BGR' && c === 3 ? 2 - t : t;
    for (let p = 0; p < w * h; p++) {
      const value = (image.data[p * c + source] * 255 * spec.scale - mean[t]) / std[t];
      data[spec.layout === 'NCHW' ? t * w * h + p : p * c + t] = value;
    }
  }
  const dims = spec.layout === 'NCHW' ? [1, c, h, w] : [1, h, w, c];
  return { dtype: 'float32', dims, data };
}

function perChannel(values: number[], channels: number, what: string): number[] {
  if (values.length === channels) return values;
  if (values.length === 1) return new Array(channels).fill(values[0]);
  throw new PreprocessSpecError(`${what} has ${values.length} values but the input has ${channels} channels`);
}

function asRgb(image: FloatImage): FloatImage {
  if (image.channels === 3) return image;
  const n = image.width * image.height;
  const data = new Float32Array(n * 3);
  for (let p = 0; p < n; p++) data[p * 3] = data[p * 3 + 1] = data[p * 3 + 2] = image.data[p];
  return { width: image.width, height: image.height, channels: 3, data };
}

export function preprocessImage(image: RgbImage, spec: PreprocessSpec, limits: SizeLimits = {}): PreprocessedImage {
  const resized = resizeForModel(image, spec, limits);
  return { tensor: normalizeImage(resized, spec), rgb: asRgb(resized) };
}

/**
 * The image a [1, C, H, W] (or NHWC) input tensor shows, undoing the normalisation: RGB in [0, 1],
 * clipped; undefined when the tensor does not have the spec's channel count.
 */
export function denormalize(tensor: Tensor, spec: PreprocessSpec): FloatImage | undefined {
  if (tensor.dims.length !== 4 || tensor.dims[0] !== 1) return undefined;
  const [, a, b, d] = tensor.dims;
  const [c, h, w] = spec.layout === 'NCHW' ? [a, b, d] : [d, a, b];
  if (c !== (spec.grayscale ? 1 : 3)) return undefined;
  const mean = perChannel(spec.mean, c, 'mean');
  const std = perChannel(spec.std, c, 'std');
  const out = new Float32Array(h * w * 3);
  for (let t = 0; t < c; t++) {
    const target = spec.colorOrder === 'BGR' && c === 3 ? 2 - t : t;
    for (let p = 0; p < h * w; p++) {
      const x = Number(tensor.data[spec.layout === 'NCHW' ? t * h * w + p : p * c + t]);
      const v = Math.min(1, Math.max(0, (x * std[t] + mean[t]) / spec.scale / 255));
      if (c === 1) out[p * 3] = out[p * 3 + 1] = out[p * 3 + 2] = v;
      else out[p * 3 + target] = v;
    }
  }
  return { width: w, height: h, channels: 3, data: out };
}
