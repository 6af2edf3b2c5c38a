import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { decodeImage } from '../../src/core/image/decode';
import { RgbImage } from '../../src/core/image/image';
import { centerCropBox, cropImage, resizePilBytes, shorterSideSize } from '../../src/core/image/resample';
import { formatNpy } from '../../src/core/npy';
import {
  IMAGENET_MEAN,
  IMAGENET_STD,
  InputError,
  PreprocessSpec,
  PreprocessSpecError,
  denormalize,
  loadInput,
  normalizeImage,
  preprocessImage,
  resolvePreprocessing,
  sidecarPathFor,
} from '../../src/core/preprocess';
import { Tensor, float32 } from '../../src/core/tensor';
import { assertClose, describeReference, loadTensor } from '../support/reference';
import { fixtureBytes, fixturePath, maxAbsDiff } from './image-fixtures';

const SAMPLE_MODEL = path.resolve(__dirname, '../../../sample/shapes.onnx');

function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'convlens-preprocess-'));
}

/** A model path in a fresh folder, with the sidecar written beside it when given. */
function modelWithSidecar(sidecar?: unknown): string {
  const dir = tempDir();
  const model = path.join(dir, 'net.onnx');
  if (sidecar !== undefined) fs.writeFileSync(path.join(dir, 'net.convlens.json'), typeof sidecar === 'string' ? sidecar : JSON.stringify(sidecar));
  return model;
}

function spec(overrides: Partial<PreprocessSpec> = {}): PreprocessSpec {
  return {
    size: [2, 2],
    resize: 'stretch',
    antialias: 'skimage',
    scale: 1 / 255,
    mean: [0.5, 0.25, 0],
    std: [0.5, 0.25, 1],
    layout: 'NCHW',
    colorOrder: 'RGB',
    grayscale: false,
    ...overrides,
  };
}

// Pixels (R, G, B): (255, 0, 51), (0, 255, 102), (51, 102, 153), (255, 255, 255).
const tiny: RgbImage = { width: 2, height: 2, data: Uint8Array.of(255, 0, 51, 0, 255, 102, 51, 102, 153, 255, 255, 255) };

function close(actual: ArrayLike<number>, expected: number[], tolerance = 1e-6): void {
  assert.ok(maxAbsDiff(actual, expected) <= tolerance, `${Array.from(actual).map((v) => v.toFixed(4))} vs ${expected}`);
}

describe('preprocessing an image', () => {
  it('normalises per channel into NCHW: (pixel · scale − mean) / std', () => {
    const { tensor, rgb } = preprocessImage(tiny, spec());
    assert.deepStrictEqual(tensor.dims, [1, 3, 2, 2]);
    close(tensor.data, [
      1,
      -1,
      -0.6,
      1, // R: (v/255 − 0.5) / 0.5
      -1,
      3,
      0.6,
      3, // G: (v/255 − 0.25) / 0.25
      0.2,
      0.4,
      0.6,
      1, // B: v/255
    ]);
    close(
      rgb.data,
      Array.from(tiny.data, (v) => v / 255),
    );
  });

  it('reverses channels for BGR and interleaves them for NHWC', () => {
    const bgr = preprocessImage(tiny, spec({ colorOrder: 'BGR', mean: [0], std: [1], scale: 1 })).tensor;
    close(bgr.data, [51, 102, 153, 255, 0, 255, 102, 255, 255, 0, 51, 255]);
    const nhwc = preprocessImage(tiny, spec({ layout: 'NHWC', mean: [0], std: [1], scale: 1 })).tensor;
    assert.deepStrictEqual(nhwc.dims, [1, 2, 2, 3]);
    close(nhwc.data, Array.from(tiny.data));
  });

  it("converts to grayscale with Pillow's luma before resizing", () => {
    const { tensor, rgb } = preprocessImage(tiny, spec({ grayscale: true, mean: [0], std: [1], scale: 1 }));
    assert.deepStrictEqual(tensor.dims, [1, 1, 2, 2]);
    // L = round(0.299 R + 0.587 G + 0.114 B)
    const luma = [0.299 * 255 + 0.114 * 51, 0.587 * 255 + 0.114 * 102, 0.299 * 51 + 0.587 * 102 + 0.114 * 153, 255].map(Math.round);
    close(tensor.data, luma);
    close(
      rgb.data,
      luma.flatMap((l) => [l / 255, l / 255, l / 255]),
    );
  });

  it('resizes the shorter side and center-crops (torchvision Resize + CenterCrop, Pillow bilinear)', () => {
    const image = decodeImage(fixtureBytes('pattern.png'));
    const s = spec({ size: [12, 12], resize: 'shorter-side-crop', resizeTo: 16, antialias: 'pil', mean: [0], std: [1] });
    const { tensor, rgb } = preprocessImage(image, s);
    assert.deepStrictEqual(tensor.dims, [1, 3, 12, 12]);
    const [h, w] = shorterSideSize(23, 37, 16);
    const { top, left } = centerCropBox(h, w, 12, 12);
    const expected = cropImage(resizePilBytes({ ...image, channels: 3 }, h, w), top, left, 12, 12);
    close(
      rgb.data,
      Array.from(expected.data, (v) => v / 255),
    );
  });

  it('undoes the normalisation for display', () => {
    const image = decodeImage(fixtureBytes('pattern.png'));
    const s = spec({ size: [23, 37], mean: IMAGENET_MEAN, std: IMAGENET_STD, colorOrder: 'BGR' });
    const { tensor, rgb } = preprocessImage(image, s);
    assert.ok(maxAbsDiff(denormalize(tensor, s)!.data, rgb.data) < 1e-6);
    assert.strictEqual(denormalize(float32([1, 4, 2, 2]), s), undefined);
  });
});

describeReference('preprocessing against the reference data', (manifest) => {
  const chelsea = manifest.cases.find((c) => c.image === 'chelsea')!;
  const settings = manifest.settings.preprocess;
  const reference: PreprocessSpec = {
    size: [settings.size[0], settings.size[1]],
    resize: 'stretch',
    antialias: 'skimage',
    scale: 1 / 255,
    mean: settings.mean,
    std: settings.std,
    layout: 'NCHW',
    colorOrder: 'RGB',
    grayscale: false,
  };

  it('normalises the reference rgb into the reference input within 1e-5', () => {
    const rgb = loadTensor(chelsea, 'rgb');
    const [height, width, channels] = rgb.dims;
    const tensor = normalizeImage({ width, height, channels, data: rgb.data }, reference);
    assert.deepStrictEqual(tensor.dims, loadTensor(chelsea, 'input').dims);
    assert.ok(maxAbsDiff(tensor.data, loadTensor(chelsea, 'input').data) <= 1e-5);
  });

  it('turns the chelsea photograph into the reference rgb and input (decode, skimage resize, normalise)', () => {
    const { tensor, rgb } = preprocessImage(decodeImage(fixtureBytes('chelsea.png')), reference);
    assert.ok(maxAbsDiff(rgb.data, loadTensor(chelsea, 'rgb').data) <= 1e-6, `rgb differs by ${maxAbsDiff(rgb.data, loadTensor(chelsea, 'rgb').data)}`);
    assertClose(tensor.data, loadTensor(chelsea, 'input').data, 1e-5, 'input');
  });

  it('uses the reference conventions by default for a [1, 3, 224, 224] input', () => {
    const resolved = resolvePreprocessing({ inputShape: [1, 3, 224, 224] });
    const { tensor } = preprocessImage(decodeImage(fixtureBytes('chelsea.png')), resolved.spec);
    assertClose(tensor.data, loadTensor(chelsea, 'input').data, 1e-5, 'input from defaults');
  });
});

describe('resolving the preprocessing', () => {
  it('defaults to ImageNet conventions for a 3-channel input and says so', () => {
    const r = resolvePreprocessing({ modelPath: modelWithSidecar(), inputShape: [1, 3, 224, 224] });
    assert.strictEqual(r.source, 'defaults');
    assert.deepStrictEqual(r.spec, {
      size: [224, 224],
      resize: 'stretch',
      antialias: 'skimage',
      scale: 1 / 255,
      mean: IMAGENET_MEAN,
      std: IMAGENET_STD,
      layout: 'NCHW',
      colorOrder: 'RGB',
      grayscale: false,
    });
    assert.match(
      r.explanation,
      /^Preprocessing: stretch to 224×224 \(scikit-image antialiasing\), ×1\/255, mean \[0\.485, 0\.456, 0\.406\], std \[0\.229, 0\.224, 0\.225\], RGB NCHW\. No settings, no net\.convlens\.json/,
    );
    assert.match(r.explanation, /ImageNet mean\/std/);
  });

  it('takes sizes from the shape, 224 where symbolic, and recognises NHWC and grayscale inputs', () => {
    assert.deepStrictEqual(resolvePreprocessing({ inputShape: ['N', 3, 'H', 'W'] }).spec.size, [224, 224]);
    assert.deepStrictEqual(resolvePreprocessing({ inputShape: [1, 3, 64, 96] }).spec.size, [64, 96]);
    const nhwc = resolvePreprocessing({ inputShape: [1, 32, 48, 3] }).spec;
    assert.deepStrictEqual([nhwc.layout, nhwc.size], ['NHWC', [32, 48]]);
    const gray = resolvePreprocessing({ inputShape: [1, 1, 28, 28] });
    assert.deepStrictEqual([gray.spec.grayscale, gray.spec.mean, gray.spec.std], [true, [0], [1]]);
    assert.match(gray.explanation, /grayscale values in \[0, 1\] without normalisation/);
  });

  it('refuses inputs that are not image batches', () => {
    assert.throws(
      () => resolvePreprocessing({ inputShape: [1, 784] }),
      (err: Error) => err instanceof PreprocessSpecError && /the model input \[1, 784\] is not an image batch/.test(err.message),
    );
    assert.throws(() => resolvePreprocessing({ inputShape: [1, 4, 32, 32] }), /has 4 channels but images have 1 or 3 channels/);
  });

  it("reads the sample model's sidecar, with its labels file and input name", () => {
    const r = resolvePreprocessing({ modelPath: SAMPLE_MODEL, inputShape: ['N', 3, 64, 64] });
    assert.strictEqual(r.source, 'sidecar');
    assert.strictEqual(r.sidecarPath, sidecarPathFor(SAMPLE_MODEL));
    assert.deepStrictEqual([r.spec.size, r.spec.mean, r.spec.std, r.spec.resize], [[64, 64], [0.5, 0.5, 0.5], [0.5, 0.5, 0.5], 'stretch']);
    assert.ok(Math.abs(r.spec.scale - 1 / 255) < 1e-12);
    const folder = path.dirname(path.resolve(SAMPLE_MODEL));
    assert.deepStrictEqual(r.labels, { file: 'shapes.labels.txt', base: folder, inside: { folder, name: "the model's folder" }, origin: 'shapes.convlens.json' });
    assert.strictEqual(r.inputName, 'input');
    assert.match(r.explanation, /Taken from shapes\.convlens\.json \(size, resize, scale, mean, std, layout, colorOrder\)/);
  });

  it('merges field by field: settings over sidecar over model metadata over defaults', () => {
    const model = modelWithSidecar({ mean: [0.5, 0.5, 0.5], scale: '1/255' });
    const metadataProps = [{ key: 'convlens.preprocess', value: JSON.stringify({ mean: [0.1, 0.2, 0.3], std: [0.3, 0.3, 0.3] }) }];
    const r = resolvePreprocessing({ modelPath: model, inputShape: [1, 3, 224, 224], metadataProps, settings: { resize: 'shorter-side-crop' } });
    assert.strictEqual(r.source, 'settings');
    assert.deepStrictEqual(r.spec.mean, [0.5, 0.5, 0.5]);
    assert.deepStrictEqual(r.spec.std, [0.3, 0.3, 0.3]);
    assert.deepStrictEqual([r.spec.resize, r.spec.resizeTo, r.spec.antialias], ['shorter-side-crop', 256, 'pil']);
    assert.match(r.explanation, /Taken from settings \(resize\), net\.convlens\.json \(scale, mean\), model metadata 'convlens\.preprocess' \(std\); other fields are defaults\.$/);
    const metadataOnly = resolvePreprocessing({ inputShape: [1, 3, 224, 224], metadataProps });
    assert.strictEqual(metadataOnly.source, 'model metadata');
  });

  it('names the bad field of a sidecar', () => {
    const bad = (sidecar: unknown): string => {
      try {
        resolvePreprocessing({ modelPath: modelWithSidecar(sidecar), inputShape: [1, 3, 224, 224] });
      } catch (err) {
        assert.ok(err instanceof PreprocessSpecError, String(err));
        return err.message;
      }
      throw new Error(`${JSON.stringify(sidecar)} was accepted`);
    };
    assert.strictEqual(bad({ std: [0.5, 0] }), "net.convlens.json: 'std' must be a list of non-zero numbers, one per channel (got [0.5,0])");
    assert.match(bad({ meen: [0.5] }), /unknown field 'meen'; did you mean 'mean'\?/);
    assert.match(bad({ resize: 'crop' }), /'resize' must be "stretch" or "shorter-side-crop" \(got "crop"\)/);
    assert.match(bad({ size: [224] }), /'size' must be \[height, width\] in pixels or one number/);
    assert.match(bad({ scale: 'a lot' }), /'scale' must be a positive number or a fraction like "1\/255"/);
    assert.match(bad('{ "mean": [0.5, '), /net\.convlens\.json is not valid JSON/);
    assert.match(bad([1, 2]), /net\.convlens\.json must hold a JSON object/);
    assert.match(bad({ mean: [0.1, 0.2] }), /net\.convlens\.json gives 2 mean values for a 3-channel input/);
  });

  it('reports unknown sidecar fields as warnings', () => {
    const r = resolvePreprocessing({ modelPath: modelWithSidecar({ notes: 'trained on shapes', std: [1] }), inputShape: [1, 3, 8, 8] });
    assert.deepStrictEqual(r.warnings, ["net.convlens.json: field 'notes' is not used by ConvLens"]);
  });

  it('refuses a size that contradicts the model input', () => {
    assert.throws(
      () => resolvePreprocessing({ modelPath: modelWithSidecar({ size: 224 }), inputShape: [1, 3, 64, 64] }),
      /net\.convlens\.json sets size \[224, 224\] but the model input \[1, 3, 64, 64\] is 64×64/,
    );
    assert.throws(
      () => resolvePreprocessing({ inputShape: [1, 3, 224, 224], settings: { resize: 'shorter-side-crop', resizeTo: 200 } }),
      /settings sets resizeTo 200, smaller than the 224×224 crop/,
    );
  });
});

describe('loading an input file', () => {
  const s = spec({ size: [23, 37], mean: [0], std: [1] });

  function npyFile(tensor: Tensor): string {
    const file = path.join(tempDir(), 'input.npy');
    fs.writeFileSync(file, formatNpy(tensor));
    return file;
  }

  it('preprocesses an image file', () => {
    const loaded = loadInput(fixturePath('pattern.png'), s, ['N', 3, 23, 37]);
    assert.strictEqual(loaded.kind, 'image');
    assert.strictEqual(loaded.description, '8-bit RGB PNG 37×23');
    assert.deepStrictEqual(loaded.tensor.dims, [1, 3, 23, 37]);
  });

  it('accepts a float32 .npy tensor, promoting C×H×W to batch 1, and shows it', () => {
    const tensor = float32(
      [3, 2, 2],
      Array.from({ length: 12 }, (_, i) => i / 12),
    );
    const loaded = loadInput(npyFile(tensor), spec(), [1, 3, 2, 2]);
    assert.strictEqual(loaded.kind, 'npy');
    assert.deepStrictEqual(loaded.tensor.dims, [1, 3, 2, 2]);
    assert.deepStrictEqual(Array.from(loaded.tensor.data), Array.from(tensor.data));
    assert.ok(loaded.rgb);
  });

  it('says which shape it got and which the model expects', () => {
    assert.throws(
      () => loadInput(npyFile(float32([1, 3, 32, 32])), s, [1, 3, 224, 224]),
      (err: Error) => err instanceof InputError && err.message === 'input.npy has shape [1, 3, 32, 32] but the model expects [1, 3, 224, 224]',
    );
    assert.throws(
      () => loadInput(fixturePath('pattern.png'), s, [1, 3, 64, 64]),
      /pattern\.png after preprocessing has shape \[1, 3, 23, 37\] but the model expects \[1, 3, 64, 64\]/,
    );
  });

  it('refuses integer tensors and converts float64 ones', () => {
    const int64: Tensor = { dtype: 'int64', dims: [1, 3, 2, 2], data: new BigInt64Array(12) };
    assert.throws(() => loadInput(npyFile(int64), s, [1, 3, 2, 2]), /input\.npy holds int64 values; a tensor input must be float32/);
    const float64: Tensor = { dtype: 'float64', dims: [1, 3, 2, 2], data: new Float64Array(12).fill(0.25) };
    assert.ok(loadInput(npyFile(float64), s, [1, 3, 2, 2]).tensor.data.every((v) => v === 0.25));
  });

  it('treats a uint8 H×W×3 array as an image', () => {
    const image = decodeImage(fixtureBytes('pattern.png'));
    const array: Tensor = { dtype: 'uint8', dims: [23, 37, 3], data: image.data };
    const fromNpy = loadInput(npyFile(array), s, [1, 3, 23, 37]);
    assert.strictEqual(fromNpy.kind, 'image');
    assert.deepStrictEqual(fromNpy.tensor.data, loadInput(fixturePath('pattern.png'), s, [1, 3, 23, 37]).tensor.data);
  });

  it('needs a preprocessing to feed an image', () => {
    assert.throws(() => loadInput(fixturePath('pattern.png'), undefined, [1, 784]), /no image preprocessing is known for its input \[1, 784\]; give a \.npy tensor instead/);
  });
});
