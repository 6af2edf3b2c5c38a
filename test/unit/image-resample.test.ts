import * as assert from 'assert';
import { decodeImage } from '../../src/core/image/decode';
import { ImageLike, ResizeError, centerCropBox, cropImage, resizePilBytes, resizeSkimage, resizeTriangle, shorterSideSize } from '../../src/core/image/resample';
import { fixtureBytes, fixtureNpy, maxAbsDiff } from './image-fixtures';

function constant(width: number, height: number, channels: number, value: number): ImageLike {
  return { width, height, channels, data: new Float32Array(width * height * channels).fill(value) };
}

function close(actual: ArrayLike<number>, expected: number[], tolerance = 1e-6): void {
  assert.ok(maxAbsDiff(actual, expected) <= tolerance, `${Array.from(actual)} vs ${expected}`);
}

describe('image resampling', () => {
  const decoded = decodeImage(fixtureBytes('pattern.png'));
  const pattern: ImageLike = { width: decoded.width, height: decoded.height, channels: 3, data: decoded.data };

  for (const [h, w] of [
    [8, 11],
    [50, 29],
    [31, 52],
    [23, 37],
  ]) {
    it(`matches skimage.transform.resize(anti_aliasing=True) to ${h}×${w}`, () => {
      const out = resizeSkimage(pattern, h, w, 1 / 255);
      const reference = fixtureNpy(`pattern.skimage-${h}x${w}.npy`);
      assert.deepStrictEqual([out.height, out.width, out.channels], reference.dims);
      assert.ok(maxAbsDiff(out.data, reference.data as Float32Array) <= 1e-6, `max difference ${maxAbsDiff(out.data, reference.data as Float32Array)}`);
    });
  }

  for (const [h, w] of [
    [8, 11],
    [50, 29],
    [10, 90],
  ]) {
    it(`matches Pillow resize(BILINEAR) to ${h}×${w} bit for bit`, () => {
      const out = resizePilBytes(pattern, h, w);
      assert.strictEqual(maxAbsDiff(out.data, fixtureNpy(`pattern.pil-${h}x${w}.npy`).data as Uint8Array), 0);
    });
  }

  it('matches torchvision Resize(16) + CenterCrop(12) on a PIL image', () => {
    const [h, w] = shorterSideSize(pattern.height, pattern.width, 16);
    assert.deepStrictEqual([h, w], [16, 25]);
    const { top, left } = centerCropBox(h, w, 12, 12);
    const out = cropImage(resizePilBytes(pattern, h, w), top, left, 12, 12);
    assert.strictEqual(maxAbsDiff(out.data, fixtureNpy('pattern.torchvision-resize16-crop12.npy').data as Uint8Array), 0);
  });

  it('computes a window of the resize equal, bit for bit, to the same crop of the whole resize', () => {
    // The torchvision crop above, computed as a window, and windows at the edges, of one row or
    // column, across resizes that shrink, grow or keep each axis (one pass or none skipped).
    const [h, w] = shorterSideSize(pattern.height, pattern.width, 16);
    const { top, left } = centerCropBox(h, w, 12, 12);
    assert.strictEqual(
      maxAbsDiff(resizePilBytes(pattern, h, w, { top, left, height: 12, width: 12 }).data, fixtureNpy('pattern.torchvision-resize16-crop12.npy').data as Uint8Array),
      0,
    );
    const gray: ImageLike = {
      width: pattern.width,
      height: pattern.height,
      channels: 1,
      data: Uint8Array.from({ length: pattern.width * pattern.height }, (_, i) => pattern.data[i * 3]),
    };
    for (const image of [pattern, gray]) {
      for (const [outH, outW] of [
        [8, 11],
        [50, 29],
        [image.height, 17],
        [23, image.width],
        [image.height, image.width],
      ]) {
        for (const window of [
          { top: 0, left: 0, height: outH, width: outW },
          { top: 0, left: 0, height: 1, width: outW },
          { top: outH - 1, left: outW - 1, height: 1, width: 1 },
          { top: Math.floor(outH / 3), left: Math.floor(outW / 4), height: Math.ceil(outH / 2), width: Math.ceil(outW / 2) },
        ]) {
          const crop = (data: ArrayLike<number>) =>
            Array.from(
              cropImage({ width: outW, height: outH, channels: image.channels, data: Float32Array.from(data) }, window.top, window.left, window.height, window.width).data,
            );
          const label = `${image.channels} channel(s), ${outH}×${outW}, window ${JSON.stringify(window)}`;
          const bytes = resizePilBytes(image, outH, outW, window);
          assert.deepStrictEqual([bytes.height, bytes.width], [window.height, window.width], label);
          assert.deepStrictEqual(Array.from(bytes.data), crop(resizePilBytes(image, outH, outW).data), `Pillow bytes, ${label}`);
          for (const antialias of [true, false]) {
            assert.deepStrictEqual(
              Array.from(resizeTriangle(image, outH, outW, antialias, 1 / 255, window).data),
              crop(resizeTriangle(image, outH, outW, antialias, 1 / 255).data),
              `triangle, ${label}`,
            );
          }
        }
      }
    }
    assert.throws(() => resizePilBytes(pattern, 8, 11, { top: 4, left: 0, height: 5, width: 11 }), /the window 5×11 at \(4, 0\) is not inside the 8×11 resize/);
    assert.throws(() => resizeTriangle(pattern, 8, 11, true, 1, { top: 0, left: 0, height: 0, width: 3 }), ResizeError);
  });

  it('keeps a constant image constant with every method', () => {
    const image = constant(13, 7, 3, 0.3);
    for (const [h, w] of [
      [5, 9],
      [20, 31],
      [7, 13],
    ]) {
      for (const out of [resizeSkimage(image, h, w), resizeTriangle(image, h, w, true), resizeTriangle(image, h, w, false)]) {
        assert.strictEqual(out.data.length, h * w * 3);
        assert.ok(out.data.every((v) => Math.abs(v - 0.3) < 1e-6));
      }
    }
    const bytes: ImageLike = { width: 13, height: 7, channels: 1, data: new Uint8Array(91).fill(77) };
    assert.ok(resizePilBytes(bytes, 3, 5).data.every((v) => v === 77));
  });

  it('upsamples a 2×2 ramp bilinearly with half-pixel centres and clamped edges', () => {
    // Source coordinates of a 2 → 4 upsampling: (o + 0.5)/2 − 0.5 = −0.25, 0.25, 0.75, 1.25, clamped to [0, 1].
    const ramp: ImageLike = { width: 2, height: 2, channels: 1, data: [0, 1, 2, 3] };
    const a = [0, 0.25, 0.75, 1];
    const expected = a.flatMap((y) => a.map((x) => 2 * y + x));
    close(resizeTriangle(ramp, 4, 4, false).data, expected);
    // Upsampling never antialiases, so the antialiased filter agrees.
    close(resizeTriangle(ramp, 4, 4, true).data, expected);
  });

  it('reflects out-of-range coordinates like scikit-image (mode "reflect")', () => {
    // −0.25 reflects to 0.25 and 1.25 to 0.75, so the ends are not the source values.
    const ramp: ImageLike = { width: 2, height: 2, channels: 1, data: [0, 1, 2, 3] };
    const a = [0.25, 0.25, 0.75, 0.75];
    close(
      resizeSkimage(ramp, 4, 4).data,
      a.flatMap((y) => a.map((x) => 2 * y + x)),
    );
  });

  it('averages pairs when Pillow halves a row (triangle filter of support 2)', () => {
    // Output o is centred at 2o + 1: taps at offsets ±0.5 weigh 0.75 each, ±1.5 weigh 0.25 (absent at the edge).
    const row: ImageLike = { width: 4, height: 1, channels: 1, data: [0, 4, 8, 12] };
    close(resizeTriangle(row, 1, 2, true).data, [(0 * 0.75 + 4 * 0.75 + 8 * 0.25) / 1.75, (4 * 0.25 + 8 * 0.75 + 12 * 0.75) / 1.75]);
    close(resizeTriangle(row, 1, 2, false).data, [2, 10]);
  });

  it('computes torchvision shorter-side sizes and center-crop offsets (round half to even)', () => {
    assert.deepStrictEqual(shorterSideSize(300, 451, 256), [256, 384]);
    assert.deepStrictEqual(shorterSideSize(451, 300, 256), [384, 256]);
    assert.deepStrictEqual(shorterSideSize(224, 224, 256), [256, 256]);
    assert.deepStrictEqual(centerCropBox(256, 341, 224, 224), { top: 16, left: 58 }); // 58.5 → 58
    assert.deepStrictEqual(centerCropBox(256, 343, 224, 224), { top: 16, left: 60 }); // 59.5 → 60
    assert.throws(() => centerCropBox(200, 300, 224, 224), /cannot center-crop 224×224 from a 200×300 image/);
  });

  it('crops the requested window', () => {
    const image = { width: 4, height: 3, channels: 1, data: Float32Array.from({ length: 12 }, (_, i) => i) };
    assert.deepStrictEqual(Array.from(cropImage(image, 1, 1, 2, 2).data), [5, 6, 9, 10]);
    assert.throws(() => cropImage(image, 2, 0, 2, 2), ResizeError);
  });

  it('refuses sizes that are not positive integers', () => {
    assert.throws(() => resizeSkimage(constant(4, 4, 1, 0), 0, 3), /sizes must be positive integers/);
    assert.throws(() => resizeTriangle(constant(4, 4, 1, 0), 2.5, 3, true), ResizeError);
  });
});
