// WAV inputs (src/core/wav.ts): a file written by Python's own `wave` module against the values
// numpy gives (int16 / 32768, as torchaudio.load), every sample format built here byte by byte, and
// hostile headers refused with one sentence before anything of their declared size is allocated.
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ModelContext } from '../../src/core/context';
import { explain } from '../../src/core/explain';
import { parseNpy } from '../../src/core/npy';
import { loadInput } from '../../src/core/preprocess';
import { WavFormatError, parseWav, readWavInfo } from '../../src/core/wav';

const MODELS_DIR = path.resolve(__dirname, '../../../test/models');

/** A RIFF/WAVE file: a format chunk (16 bytes, or 40 for WAVE_FORMAT_EXTENSIBLE) and a data chunk. */
function wavBytes(opts: {
  format: number;
  channels: number;
  bits: number;
  data: Uint8Array;
  rate?: number;
  extensibleOf?: number;
  declaredData?: number;
  blockAlign?: number;
}): Uint8Array {
  const fmtSize = opts.extensibleOf !== undefined ? 40 : 16;
  const out = new Uint8Array(12 + 8 + fmtSize + 8 + opts.data.length);
  const view = new DataView(out.buffer);
  const ascii = (at: number, s: string) => [...s].forEach((ch, i) => (out[at + i] = ch.charCodeAt(0)));
  ascii(0, 'RIFF');
  view.setUint32(4, out.length - 8, true);
  ascii(8, 'WAVE');
  ascii(12, 'fmt ');
  view.setUint32(16, fmtSize, true);
  view.setUint16(20, opts.format, true);
  view.setUint16(22, opts.channels, true);
  view.setUint32(24, opts.rate ?? 8000, true);
  const blockAlign = opts.blockAlign ?? (opts.channels * opts.bits) / 8;
  view.setUint32(28, (opts.rate ?? 8000) * blockAlign, true);
  view.setUint16(32, blockAlign, true);
  view.setUint16(34, opts.bits, true);
  if (opts.extensibleOf !== undefined) {
    view.setUint16(36, 22, true);
    view.setUint16(44, opts.extensibleOf, true);
  }
  const dataAt = 20 + fmtSize;
  ascii(dataAt, 'data');
  view.setUint32(dataAt + 4, opts.declaredData ?? opts.data.length, true);
  out.set(opts.data, dataAt + 8);
  return out;
}

function refused(bytes: Uint8Array, pattern: RegExp): void {
  assert.throws(
    () => parseWav(bytes),
    (err: Error) => err instanceof WavFormatError && pattern.test(err.message) && !err.message.includes('\n'),
  );
}

describe('WAV input', () => {
  it("reads a 16-bit stereo file written by Python's wave module as numpy's int16 / 32768, channels first", () => {
    const { tensor, info } = parseWav(new Uint8Array(fs.readFileSync(path.join(MODELS_DIR, 'signal1d.wav'))));
    const expected = parseNpy(new Uint8Array(fs.readFileSync(path.join(MODELS_DIR, 'signal1d.wav.npy'))));
    assert.deepStrictEqual(info, { channels: 2, sampleRate: 16000, bitsPerSample: 16, float: false, frames: 64 });
    assert.deepStrictEqual(tensor.dims, expected.dims);
    assert.deepStrictEqual(Array.from(tensor.data), Array.from(expected.data as Float32Array));
  });

  it('reads 8-, 24- and 32-bit PCM and 32-bit float, also as WAVE_FORMAT_EXTENSIBLE', () => {
    const u8 = parseWav(wavBytes({ format: 1, channels: 1, bits: 8, data: Uint8Array.from([0, 128, 255]) })).tensor;
    assert.deepStrictEqual(Array.from(u8.data), [-1, 0, 127 / 128]);
    // 24-bit little-endian: -8388608, 1, 8388607.
    const i24 = parseWav(wavBytes({ format: 1, channels: 1, bits: 24, data: Uint8Array.from([0, 0, 0x80, 1, 0, 0, 0xff, 0xff, 0x7f]) })).tensor;
    assert.deepStrictEqual(Array.from(i24.data), [-1, 1 / 8388608, Math.fround(8388607 / 8388608)]);
    const floats = new Float32Array([0.5, -0.25, 0.125, 1]);
    const stereo = parseWav(wavBytes({ format: 3, channels: 2, bits: 32, data: new Uint8Array(floats.buffer) })).tensor;
    assert.deepStrictEqual(stereo.dims, [1, 2, 2]);
    assert.deepStrictEqual(Array.from(stereo.data), [0.5, 0.125, -0.25, 1]);
    const extensible = parseWav(wavBytes({ format: 0xfffe, extensibleOf: 1, channels: 1, bits: 32, data: new Uint8Array(Int32Array.from([-(2 ** 31), 2 ** 30]).buffer) })).tensor;
    assert.deepStrictEqual(Array.from(extensible.data), [-1, 0.5]);
  });

  it('refuses hostile and unsupported headers with one sentence', () => {
    const pcm = (o: Partial<Parameters<typeof wavBytes>[0]>) => wavBytes({ format: 1, channels: 1, bits: 16, data: new Uint8Array(8), ...o });
    refused(new TextEncoder().encode('RIFF....AVI LIST'), /not a WAV file/);
    refused(pcm({ format: 2 }), /sample format 2 is not supported/);
    refused(pcm({ bits: 12 }), /12-bit PCM WAV samples are not supported/);
    refused(pcm({ channels: 0 }), /declares 0 channels/);
    refused(pcm({ blockAlign: 7 }), /block size 7 is not 1 channels × 2 bytes/);
    refused(pcm({ format: 0xfffe }), /too short to name the sample format/);
    refused(pcm({}).subarray(0, 40), /no 'data' chunk/);
    const noFormat = pcm({});
    noFormat.set([0x6a, 0x75, 0x6e, 0x6b], 12);
    refused(noFormat, /'data' chunk comes before its 'fmt ' chunk/);
  });

  it('reads only the whole frames present when the data chunk declares more (a streamed file), and checks the value limit first', () => {
    const streamed = wavBytes({ format: 1, channels: 2, bits: 16, data: new Uint8Array(10), declaredData: 0xffffffff });
    assert.strictEqual(readWavInfo(streamed).frames, 2);
    const long = wavBytes({ format: 1, channels: 1, bits: 16, data: new Uint8Array(2000) });
    assert.throws(() => parseWav(long, { maxPixels: 100 }), /declares shape \[1, 1, 1000\] \(1\.00e\+3 values\), over the limit of 300 values/);
  });

  it('feeds a WAV file to a 1-D model through the checked reader, and explains it', async () => {
    const context = ModelContext.open(path.join(MODELS_DIR, 'signal1d.onnx'));
    try {
      const loaded = context.loadInput(path.join(MODELS_DIR, 'signal1d.wav'));
      assert.strictEqual(loaded.kind, 'audio');
      assert.strictEqual(loaded.description, '16-bit PCM WAV, 2 channels, 16000 Hz, 64 samples');
      const e = await explain('gradcam', { model: context.model, input: loaded.tensor, target: { kind: 'class', index: 'top' } });
      assert.deepStrictEqual(e.map.dims, [64]);
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'convlens-wav-'));
      try {
        // Any other length than the model's is refused, naming both shapes.
        const short = path.join(dir, 'short.wav');
        fs.writeFileSync(short, wavBytes({ format: 1, channels: 2, bits: 16, data: new Uint8Array(4 * 10) }));
        assert.throws(() => context.loadInput(short), /short\.wav has shape \[1, 2, 10\] but the model expects \[1, 2, 64\]/);
        assert.throws(() => loadInput(short, undefined, [1, 3, 224, 224]), /short\.wav is audio \[1, 2, 10\] but the model expects \[1, 3, 224, 224\]/);
      } finally {
        fs.rmSync(dir, { recursive: true });
      }
    } finally {
      await context.model.dispose();
    }
  });
});
