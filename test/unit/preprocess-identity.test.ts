// An image that already has the model's size is not resampled (preprocess/image.ts `unresized`):
// the values must be those every resampler returns at that size, bit for bit, in every antialias
// mode, for RGB and grayscale, stretched or resized by the shorter side and cropped.
import * as assert from 'assert';
import { RgbImage, toGrayBytes } from '../../src/core/image/image';
import { ImageLike, resizePilBytes, resizeSkimage, resizeTriangle } from '../../src/core/image/resample';
import { IMAGENET_MEAN, IMAGENET_STD, PreprocessSpec, resizeForModel } from '../../src/core/preprocess';
import { Antialias } from '../../src/core/preprocess/spec';

function randomImage(width: number, height: number, seed: number): RgbImage {
  let state = seed;
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < data.length; i++) {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    data[i] = state % 256;
  }
  // Every byte value appears, so each one's division is checked.
  for (let v = 0; v < 256 && v < data.length; v++) data[v] = v;
  return { width, height, data };
}

/** What the resampler of `antialias` returns for `image` at its own size, values in [0, 1]. */
function resampled(image: ImageLike, antialias: Antialias): Float32Array {
  if (antialias === 'skimage') return resizeSkimage(image, image.height, image.width, 1 / 255).data;
  if (antialias === 'none') return resizeTriangle(image, image.height, image.width, false, 1 / 255).data;
  return Float32Array.from(resizePilBytes(image, image.height, image.width).data, (v) => v / 255);
}

function spec(antialias: Antialias, resize: 'stretch' | 'shorter-side-crop', size: [number, number], grayscale = false): PreprocessSpec {
  return { size, resize, resizeTo: 40, antialias, scale: 1 / 255, mean: IMAGENET_MEAN, std: IMAGENET_STD, layout: 'NCHW', colorOrder: 'RGB', grayscale };
}

describe('preprocessing an image that already has the target size', () => {
  for (const antialias of ['pil', 'skimage', 'none'] as const) {
    it(`${antialias}: stretch to the same size gives the resampler's values bit for bit`, () => {
      const image = randomImage(37, 29, 3);
      const out = resizeForModel(image, spec(antialias, 'stretch', [29, 37]));
      assert.deepStrictEqual(out.data, resampled({ ...image, channels: 3 }, antialias));
      assert.deepStrictEqual([out.width, out.height, out.channels], [37, 29, 3]);
    });

    it(`${antialias}: grayscale, and a shorter side already at the resize size, cropped`, () => {
      const gray = randomImage(23, 23, 5);
      const g = resizeForModel(gray, spec(antialias, 'stretch', [23, 23], true));
      assert.deepStrictEqual(g.data, resampled({ width: 23, height: 23, channels: 1, data: toGrayBytes(gray) }, antialias));

      const wide = randomImage(60, 40, 9);
      const cropped = resizeForModel(wide, spec(antialias, 'shorter-side-crop', [32, 32]));
      const full = resampled({ ...wide, channels: 3 }, antialias);
      // Shorter side 40 = resizeTo: no resize; the centre crop starts at row 4, column 14.
      const expected = new Float32Array(32 * 32 * 3);
      for (let y = 0; y < 32; y++) expected.set(full.subarray(((y + 4) * 60 + 14) * 3, ((y + 4) * 60 + 14 + 32) * 3), y * 32 * 3);
      assert.deepStrictEqual(cropped.data, expected);
    });
  }
});
