// WAV files (RIFF/WAVE) as model inputs for audio networks: integer PCM (8, 16, 24 or 32 bits) or
// IEEE float (32 or 64 bits), also in WAVE_FORMAT_EXTENSIBLE, any number of channels, read as one
// float32 example [1, C, L] channels-first. Integers are scaled to [-1, 1) as torchaudio.load and
// soundfile do: v / 2^(bits − 1) (8-bit samples are unsigned around 128). Every size the file
// declares is checked against the file's length and the value limit before anything is allocated.
import { SizeLimits, checkValues } from './limits';
import { FloatTensor } from './tensor';

export class WavFormatError extends Error {}

const PCM = 1;
const IEEE_FLOAT = 3;
const EXTENSIBLE = 0xfffe;
// More channels than any recording setup has: a larger count is a corrupt header.
const MAX_CHANNELS = 1024;

export interface WavInfo {
  channels: number;
  sampleRate: number;
  bitsPerSample: number;
  float: boolean;
  frames: number;
}

function tag(bytes: Uint8Array, at: number): string {
  return String.fromCharCode(bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]);
}

export function isWav(bytes: Uint8Array): boolean {
  return bytes.length >= 12 && tag(bytes, 0) === 'RIFF' && tag(bytes, 8) === 'WAVE';
}

interface Layout extends WavInfo {
  dataStart: number;
}

function readLayout(bytes: Uint8Array): Layout {
  if (!isWav(bytes)) throw new WavFormatError('not a WAV file (no RIFF/WAVE header)');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let format: Omit<WavInfo, 'frames'> | undefined;
  let blockAlign = 0;
  for (let at = 12; at + 8 <= bytes.length;) {
    const id = tag(bytes, at);
    const size = view.getUint32(at + 4, true);
    const body = at + 8;
    if (size > bytes.length - body) {
      if (id !== 'data') throw new WavFormatError(`the WAV chunk '${id}' declares ${size} bytes but the file has ${bytes.length - body} after it`);
    }
    if (id === 'fmt ') {
      if (size < 16) throw new WavFormatError(`the WAV 'fmt ' chunk has ${size} bytes, fewer than the 16 it needs`);
      let code = view.getUint16(body, true);
      const channels = view.getUint16(body + 2, true);
      const sampleRate = view.getUint32(body + 4, true);
      blockAlign = view.getUint16(body + 12, true);
      const bitsPerSample = view.getUint16(body + 14, true);
      if (code === EXTENSIBLE) {
        if (size < 40) throw new WavFormatError('the WAV file is WAVE_FORMAT_EXTENSIBLE but its format chunk is too short to name the sample format');
        code = view.getUint16(body + 24, true);
      }
      const float = code === IEEE_FLOAT;
      if (code !== PCM && !float) throw new WavFormatError(`WAV sample format ${code} is not supported: save as integer PCM or 32-bit float`);
      if (float ? bitsPerSample !== 32 && bitsPerSample !== 64 : ![8, 16, 24, 32].includes(bitsPerSample)) {
        throw new WavFormatError(`${bitsPerSample}-bit ${float ? 'float' : 'PCM'} WAV samples are not supported (PCM: 8, 16, 24 or 32 bits; float: 32 or 64)`);
      }
      if (channels < 1 || channels > MAX_CHANNELS) throw new WavFormatError(`the WAV file declares ${channels} channels (1 to ${MAX_CHANNELS} are readable)`);
      if (blockAlign !== (channels * bitsPerSample) / 8) {
        throw new WavFormatError(`the WAV block size ${blockAlign} is not ${channels} channels × ${bitsPerSample / 8} bytes`);
      }
      format = { channels, sampleRate, bitsPerSample, float };
    } else if (id === 'data') {
      if (!format) throw new WavFormatError("the WAV 'data' chunk comes before its 'fmt ' chunk");
      // A streamed file may declare more data than it holds (or 0xFFFFFFFF): read the whole frames present.
      const available = Math.min(size, bytes.length - body);
      return { ...format, frames: Math.floor(available / blockAlign), dataStart: body };
    }
    at = body + size + (size % 2);
  }
  throw new WavFormatError(format ? "the WAV file has no 'data' chunk" : "the WAV file has no 'fmt ' chunk");
}

/** The format and length a WAV file declares, read without touching its samples. */
export function readWavInfo(bytes: Uint8Array): WavInfo {
  const { channels, sampleRate, bitsPerSample, float, frames } = readLayout(bytes);
  return { channels, sampleRate, bitsPerSample, float, frames };
}

/** The samples as [1, channels, frames] float32, integers scaled to [-1, 1). */
export function parseWav(bytes: Uint8Array, limits: SizeLimits = {}, name = 'the WAV file'): { tensor: FloatTensor; info: WavInfo } {
  const { dataStart, ...info } = readLayout(bytes);
  const { channels, frames, bitsPerSample, float } = info;
  checkValues(`${name} declares`, [1, channels, frames], limits);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const width = bitsPerSample / 8;
  const read: (at: number) => number = float
    ? bitsPerSample === 32
      ? (at) => view.getFloat32(at, true)
      : (at) => view.getFloat64(at, true)
    : bitsPerSample === 8
      ? (at) => (view.getUint8(at) - 128) / 128
      : bitsPerSample === 16
        ? (at) => view.getInt16(at, true) / 32768
        : bitsPerSample === 24
          ? (at) => (((view.getUint8(at + 2) << 24) | (view.getUint8(at + 1) << 16) | (view.getUint8(at) << 8)) >> 8) / 8388608
          : (at) => view.getInt32(at, true) / 2147483648;
  const data = new Float32Array(channels * frames);
  for (let f = 0; f < frames; f++) {
    for (let c = 0; c < channels; c++) data[c * frames + f] = read(dataStart + (f * channels + c) * width);
  }
  return { tensor: { dtype: 'float32', dims: [1, channels, frames], data }, info };
}
