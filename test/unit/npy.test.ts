import * as assert from 'assert';
import { formatNpy, parseNpy, NpyFormatError } from '../../src/core/npy';
import { float32 } from '../../src/core/tensor';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

describe('npy', () => {
  it('round-trips a float32 tensor with its shape', () => {
    const t = float32([2, 3], [1, 2, 3, 4, 5, 6.5]);
    const back = parseNpy(formatNpy(t));
    assert.deepStrictEqual(back.dims, [2, 3]);
    assert.strictEqual(back.dtype, 'float32');
    assert.deepStrictEqual(Array.from(back.data as Float32Array), [1, 2, 3, 4, 5, 6.5]);
  });

  it('writes a header numpy accepts: 64-byte aligned, version 1.0', () => {
    const bytes = formatNpy(float32([5], [0, 1, 2, 3, 4]));
    const headerLength = bytes[8] | (bytes[9] << 8);
    assert.strictEqual((10 + headerLength) % 64, 0);
    assert.strictEqual(bytes[6], 1);
  });

  it('refuses a file that is not .npy, and a truncated one, with a clear message', () => {
    assert.throws(() => parseNpy(new TextEncoder().encode('hello world, not numpy')), NpyFormatError);
    const bytes = formatNpy(float32([4, 4]));
    assert.throws(() => parseNpy(bytes.subarray(0, bytes.length - 8)), /truncated .npy data/);
  });
});

describe('npy from files', () => {
  it("reads small files whose Buffer lives inside Node's shared pool", () => {
    const file = path.join(os.tmpdir(), `convlens-npy-${process.pid}.npy`);
    fs.writeFileSync(file, formatNpy(float32([3], [0.5, 0.25, -2])));
    const back = parseNpy(fs.readFileSync(file));
    fs.unlinkSync(file);
    assert.deepStrictEqual(Array.from(back.data as Float32Array), [0.5, 0.25, -2]);
  });
});
