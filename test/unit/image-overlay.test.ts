import * as assert from 'assert';
import { cumulativeSumThreshold, normalizeAttribution, reduceChannels } from '../../src/core/image/attribution';
import { colorize, colorizeSigned, colormapHex, colormapIndex, colormapTable } from '../../src/core/image/colormap';
import { decodeImage } from '../../src/core/image/decode';
import { toFloatImage } from '../../src/core/image/image';
import { blendOverlay, encodePng, rgbToRgba, showCamOnImage } from '../../src/core/image/overlay';
import { float32 } from '../../src/core/tensor';
import { fixtureBytes, fixtureNpy, maxAbsDiff } from './image-fixtures';

describe('colormaps', () => {
  it("have matplotlib's and OpenCV's endpoint colours", () => {
    assert.deepStrictEqual([colormapHex('viridis', 0), colormapHex('viridis', 1)], ['#440154', '#fde725']);
    assert.deepStrictEqual([colormapHex('inferno', 0), colormapHex('inferno', 1)], ['#000004', '#fcffa4']);
    assert.deepStrictEqual([colormapHex('turbo', 0), colormapHex('turbo', 1)], ['#30123b', '#7a0403']);
    assert.deepStrictEqual([colormapHex('coolwarm', 0), colormapHex('coolwarm', 0.5), colormapHex('coolwarm', 1)], ['#3b4cc0', '#dddcdc', '#b40426']);
    // cv2.COLORMAP_JET: dark blue (0, 0, 128) to dark red (128, 0, 0), (126, 255, 130) at 127.
    assert.deepStrictEqual([colormapHex('jet', 0), colormapHex('jet', 127 / 255), colormapHex('jet', 1)], ['#000080', '#7eff82', '#800000']);
    assert.deepStrictEqual([colormapHex('gray', 0), colormapHex('gray', 1)], ['#000000', '#ffffff']);
    assert.strictEqual(colormapTable('viridis').length, 768);
  });

  it('index values as matplotlib (⌊256·v⌋) and as show_cam_on_image for jet (⌊255·v⌋)', () => {
    assert.deepStrictEqual(
      [0, 0.5, 0.999, 1].map((v) => colormapIndex('viridis', v)),
      [0, 128, 255, 255],
    );
    assert.deepStrictEqual(
      [0, 0.5, 0.999, 1].map((v) => colormapIndex('jet', v)),
      [0, 127, 254, 255],
    );
    assert.deepStrictEqual(
      [-3, 7].map((v) => colormapIndex('viridis', v)),
      [0, 255],
    );
  });

  it('colorizes a map to RGBA, NaN transparent', () => {
    const rgba = colorize([0, 1, NaN], 3, 1, 'viridis');
    assert.deepStrictEqual(Array.from(rgba), [0x44, 0x01, 0x54, 255, 0xfd, 0xe7, 0x25, 255, 0, 0, 0, 0]);
    assert.throws(() => colorize([0, 1], 3, 1), /map has 2 values, not 3×1/);
  });

  it('colours signed maps on a symmetric scale: 0 in the middle, ±max at the ends', () => {
    const rgba = colorizeSigned([-2, 0, 1], 3, 1);
    const hex = (i: number): string => `#${Array.from(rgba.subarray(i * 4, i * 4 + 3), (b) => b.toString(16).padStart(2, '0')).join('')}`;
    assert.deepStrictEqual([hex(0), hex(1), hex(2)], ['#3b4cc0', '#dddcdc', colormapHex('coolwarm', 0.75)]);
    const limited = colorizeSigned([-2, 0, 1], 3, 1, 'coolwarm', 1);
    assert.deepStrictEqual(Array.from(limited.subarray(8, 11)), Array.from(colorize([1], 1, 1, 'coolwarm').subarray(0, 3)));
  });
});

describe('overlays', () => {
  const pattern = decodeImage(fixtureBytes('pattern.png'));
  const image = toFloatImage(pattern);
  const mask = fixtureNpy('cam-mask.npy').data as Float32Array;

  for (const weight of [0.5, 0.3]) {
    it(`match pytorch-grad-cam's show_cam_on_image (JET, image_weight ${weight})`, () => {
      const out = showCamOnImage(image, mask, { imageWeight: weight });
      assert.strictEqual(maxAbsDiff(out.data, fixtureNpy(`pattern.show_cam_on_image-${weight}.npy`).data as Uint8Array), 0);
    });
  }

  it('blend colours over the image: (1 − α·a)·image + α·a·colour', () => {
    const base = { width: 2, height: 1, data: Uint8Array.of(100, 200, 0, 10, 20, 30) };
    const colors = Uint8Array.of(200, 0, 100, 255, 255, 255, 255, 0);
    const out = blendOverlay(base, colors, 0.4);
    assert.deepStrictEqual(Array.from(out), [
      Math.round(0.6 * 100 + 0.4 * 200),
      Math.round(0.6 * 200),
      Math.round(0.4 * 100),
      255,
      10,
      20,
      30,
      255, // transparent colour: the image shows through
    ]);
    assert.throws(() => blendOverlay(base, colors, 1.5), /opacity must be in \[0, 1\]/);
  });

  it('encode PNGs that decode back to the same pixels', () => {
    const rgba = rgbToRgba(pattern);
    const png = encodePng(rgba, pattern.width, pattern.height);
    assert.deepStrictEqual(decodeImage(png).data, pattern.data);
    assert.throws(() => encodePng(rgba, 5, 5), /RGBA pixels has 3404 values, not 5×5×4/);
  });
});

describe('attribution maps (Captum _normalize_attr)', () => {
  // Two channels of a 2×3 attribution; their sum is [3, −1, 0.5, 0, −6, 2].
  const attr = float32([2, 2, 3], [1, -2, 0.5, 0, -3, 1, 2, 1, 0, 0, -3, 1]);

  it('combine channels by signed sum (Captum), sum of |·| or max |·|', () => {
    assert.deepStrictEqual(Array.from(reduceChannels(attr).map), [3, -1, 0.5, 0, -6, 2]);
    assert.deepStrictEqual(Array.from(reduceChannels(attr, 'sum-abs').map), [3, 3, 0.5, 0, 6, 2]);
    assert.deepStrictEqual(Array.from(reduceChannels(attr, 'max-abs').map), [2, 2, 0.5, 0, 3, 1]);
    const nhwc = float32([1, 2, 3, 2], [1, 2, -2, 1, 0.5, 0, 0, 0, -3, -3, 1, 1]);
    assert.deepStrictEqual(Array.from(reduceChannels(nhwc, 'sum', 'NHWC').map), [3, -1, 0.5, 0, -6, 2]);
  });

  it('threshold at the value where the sorted cumulative sum reaches (100 − outlier)% ', () => {
    // Sorted |values| [0, 0.5, 1, 2, 3, 6], cumulative [0, 0.5, 1.5, 3.5, 6.5, 12.5]: 50% of 12.5 is first reached at 6.5.
    assert.strictEqual(cumulativeSumThreshold([3, 1, 0.5, 0, 6, 2], 50), 3);
    assert.strictEqual(cumulativeSumThreshold([3, 1, 0.5, 0, 6, 2], 98), 6);
    assert.strictEqual(cumulativeSumThreshold([3, 1, 0.5, 0, 6, 2], 0), 0);
  });

  it('scale by the threshold and clip, per sign mode', () => {
    const absolute = normalizeAttribution(attr, { outlierPerc: 50 });
    assert.deepStrictEqual([absolute.threshold, absolute.signed], [3, false]);
    assert.deepStrictEqual(Array.from(absolute.map), [1, 1 / 3, 0.5 / 3, 0, 1, 2 / 3].map(Math.fround));
    const all = normalizeAttribution(attr, { sign: 'all', outlierPerc: 50 });
    assert.deepStrictEqual(Array.from(all.map), [1, -1 / 3, 0.5 / 3, 0, -1, 2 / 3].map(Math.fround));
    assert.ok(all.signed);
    // Positive values sorted [0, 0, 0, 0.5, 2, 3]: cumulative reaches 50% of 5.5 at 5.5 → threshold 3.
    assert.deepStrictEqual(Array.from(normalizeAttribution(attr, { sign: 'positive', outlierPerc: 50 }).map), [1, 0, 0.5 / 3, 0, 0, 2 / 3].map(Math.fround));
    // Negative values sorted by |·| [0, 0, 0, 0, 1, 6]: cumulative reaches 50% of 7 at 7 → threshold 6, divided by −6.
    assert.deepStrictEqual(Array.from(normalizeAttribution(attr, { sign: 'negative', outlierPerc: 50 }).map), [0, 1 / 6, 0, 0, 1, 0].map(Math.fround));
  });

  it('give an all-zero map for an all-zero attribution', () => {
    const zero = normalizeAttribution(float32([3, 2, 2]));
    assert.strictEqual(zero.threshold, 0);
    assert.ok(zero.map.every((v) => v === 0));
  });

  it('refuse tensors that are not [C, H, W] or [1, C, H, W]', () => {
    assert.throws(() => normalizeAttribution(float32([2, 2])), /an image attribution has shape \[C, H, W\] or \[1, C, H, W\], not \[2, 2\]/);
  });
});
