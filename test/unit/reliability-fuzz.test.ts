// Fuzzed models through the real compute worker: every mutant of a real .onnx file (truncated,
// bit-flipped, wrong wire types, huge declared sizes, cyclic or dangling edges, missing
// initialisers, unknown ops and domains, external data outside the model's folder or through a
// symlink, file paths in metadata and sidecars, declared input dims, control flow, control
// characters in names) and of its input image (repeated and oversized PNG header chunks, huge
// .npy shapes) must end in a clear one-sentence error or a valid result, within a time bound,
// never a crash of this process, and never with the content of a file outside the model's folder.
// A crashed worker is "contained" when the call reports WorkerCrashedError and the next call works.
// Seeded (mulberry32) so a failure replays; CONVLENS_FUZZ=<n> runs n mutants instead of the CI set,
// CONVLENS_FUZZ_VERBOSE=1 prints each mutant's outcome and message.
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as zlib from 'zlib';
import { formatNpy } from '../../src/core/npy';
import { AttributeType, DataType, GraphProto, ModelProto, NodeProto, decodeModel, encodeModel } from '../../src/core/onnx/proto';
import { seededRandom } from '../../src/core/random';
import { ComputeClient, WorkerCrashedError } from '../../src/compute/client';
import { pngChunk } from './image-fixtures';

const ROOT = path.resolve(__dirname, '../../..');
const WORKER = path.join(ROOT, 'out/src/compute/worker.js');
const MUTANT_TIME_LIMIT_MS = 20_000;
const MUTANTS = Number(process.env.CONVLENS_FUZZ) || 300;
const SEED = 20261127;

interface Base {
  name: string;
  bytes: Uint8Array;
  proto: ModelProto;
  input: string;
}

function varint(value: number): number[] {
  const out: number[] = [];
  let v = value;
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
  return out;
}

function readVarint(bytes: Uint8Array, at: number): { value: number; end: number } {
  let value = 0;
  let scale = 1;
  let i = at;
  for (; i < bytes.length; i++) {
    value += (bytes[i] & 0x7f) * scale;
    scale *= 128;
    if (!(bytes[i] & 0x80)) return { value, end: i + 1 };
  }
  throw new Error('varint runs past the end');
}

/** The top-level fields of an encoded message: where each tag and its length (if any) sit. */
function topLevelFields(bytes: Uint8Array): { tagAt: number; wire: number; lengthAt?: number; dataAt: number; end: number }[] {
  const fields = [];
  let at = 0;
  while (at < bytes.length) {
    const tag = readVarint(bytes, at);
    const wire = tag.value & 7;
    if (wire === 0) {
      const v = readVarint(bytes, tag.end);
      fields.push({ tagAt: at, wire, dataAt: tag.end, end: v.end });
      at = v.end;
    } else if (wire === 2) {
      const len = readVarint(bytes, tag.end);
      fields.push({ tagAt: at, wire, lengthAt: tag.end, dataAt: len.end, end: len.end + len.value });
      at = len.end + len.value;
    } else {
      const size = wire === 1 ? 8 : 4;
      fields.push({ tagAt: at, wire, dataAt: tag.end, end: tag.end + size });
      at = tag.end + size;
    }
  }
  return fields;
}

function concat(...parts: ArrayLike<number>[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * A mutant: the model's bytes, and what lies beside it (files by name, symlinks by name → target)
 * or replaces its input (a file name and its bytes).
 */
interface Mutant {
  model: Uint8Array;
  files?: Record<string, Uint8Array | string>;
  symlinks?: Record<string, string>;
  input?: { name: string; bytes: Uint8Array };
}
type Mutation = (base: Base, rand: () => number) => Uint8Array | Mutant;
const pick = <T>(items: T[], rand: () => number): T => items[Math.floor(rand() * items.length)];

function edited(base: Base, edit: (m: ModelProto, rand: () => number) => void): Mutation {
  return (b, rand) => {
    const model = decodeModel(b.bytes);
    edit(model, rand);
    return encodeModel(model);
  };
}

const MUTATIONS: Record<string, Mutation> = {
  truncate: (b, rand) => b.bytes.subarray(0, Math.floor(rand() * b.bytes.length)),
  bitFlips: (b, rand) => {
    const out = b.bytes.slice();
    const flips = 1 + Math.floor(rand() * 3);
    for (let i = 0; i < flips; i++) out[Math.floor(rand() * out.length)] ^= 1 << Math.floor(rand() * 8);
    return out;
  },
  headerBitFlips: (b, rand) => {
    // Flips within the first kilobyte, where tags and lengths (not weights) sit.
    const out = b.bytes.slice();
    for (let i = 0; i < 4; i++) out[Math.floor(rand() * Math.min(1024, out.length))] ^= 1 << Math.floor(rand() * 8);
    return out;
  },
  wrongWireType: (b, rand) => {
    // A varint field (ir_version, opset version...) re-tagged as length-delimited/fixed/group.
    const fields = topLevelFields(b.bytes);
    const field = pick(fields, rand);
    const out = b.bytes.slice();
    const tag = readVarint(out, field.tagAt).value;
    const wire = pick(
      [0, 1, 2, 3, 5].filter((w) => w !== field.wire),
      rand,
    );
    out.set(varint((tag & ~7) | wire).slice(0, 1), field.tagAt);
    return out;
  },
  hugeLength: (b, rand) => {
    // A length-delimited field (the graph, a string) claiming 2 GB.
    const fields = topLevelFields(b.bytes).filter((f) => f.lengthAt !== undefined);
    const f = pick(fields, rand);
    return concat(b.bytes.subarray(0, f.lengthAt!), varint(2 ** 31 + Math.floor(rand() * 1000)), b.bytes.subarray(f.dataAt));
  },
  hugeTensorDims: (b, rand) =>
    edited(b, (m) => {
      const init = pick(m.graph!.initializer!, rand);
      init.dims = [1e12, ...(init.dims ?? []).slice(1)];
    })(b, rand),
  hugeInputDims: (b, rand) =>
    edited(b, (m) => {
      const dims = m.graph!.input![0].type!.tensor_type!.shape!.dim!;
      dims[Math.floor(rand() * dims.length)] = { dim_value: 1e12 };
    })(b, rand),
  selfCycle: (b, rand) =>
    edited(b, (m) => {
      const node = pick(
        m.graph!.node.filter((n) => n.input.length > 0),
        rand,
      );
      node.input[0] = node.output[0];
    })(b, rand),
  twoNodeCycle: (b, rand) =>
    edited(b, (m) => {
      const nodes = m.graph!.node;
      const i = 1 + Math.floor(rand() * (nodes.length - 1));
      const earlier = nodes.slice(0, i).filter((n) => n.input.length > 0);
      if (earlier.length) pick(earlier, rand).input[0] = nodes[i].output[0];
    })(b, rand),
  danglingInput: (b, rand) =>
    edited(b, (m) => {
      const node = pick(
        m.graph!.node.filter((n) => n.input.length > 0),
        rand,
      );
      node.input[Math.floor(rand() * node.input.length)] = 'no_such_tensor';
    })(b, rand),
  missingInitializer: (b, rand) =>
    edited(b, (m) => {
      const inits = m.graph!.initializer!;
      inits.splice(Math.floor(rand() * inits.length), 1);
    })(b, rand),
  unknownOp: (b, rand) =>
    edited(b, (m) => {
      pick(m.graph!.node, rand).op_type = 'FrobnicateTensor';
    })(b, rand),
  unknownDomain: (b, rand) =>
    edited(b, (m) => {
      pick(m.graph!.node, rand).domain = 'com.example.nowhere';
    })(b, rand),
  externalDataOutside: (b, rand) =>
    edited(b, (m) => {
      const init = pick(
        m.graph!.initializer!.filter((t) => (t.dims ?? []).length > 0),
        rand,
      );
      delete init.raw_data;
      init.float_data = [];
      init.data_location = 1;
      init.external_data = [
        { key: 'location', value: pick(['../../etc/passwd', '/etc/passwd', '../../../../../../etc/shadow'], rand) },
        { key: 'length', value: '4096' },
      ];
    })(b, rand),
  danglingGraphOutput: (b, rand) =>
    edited(b, (m) => {
      m.graph!.output![0].name = 'not_produced_anywhere';
    })(b, rand),
  // Preprocessing (sidecar, metadata, labels) is read for images, not for .npy tensors: these feed a PNG.
  labelsPathInMetadata: (b, rand) => ({
    model: withMetadata(b, { labels: pick(OUTSIDE_PATHS, rand) }),
    input: PNG_INPUT,
  }),
  labelsPathInSidecar: (b, rand) => ({
    model: b.bytes,
    files: { [`${b.name}.convlens.json`]: JSON.stringify({ labels: pick(OUTSIDE_PATHS, rand) }) },
    input: PNG_INPUT,
  }),
  sidecarLinkedOutside: (b, rand) => ({
    model: b.bytes,
    symlinks: { [`${b.name}.convlens.json`]: pick(['/etc/passwd', '/dev/zero', '/proc/self/environ'], rand) },
    input: PNG_INPUT,
  }),
  labelsFileLinkedOutside: (b, rand) => ({
    model: b.bytes,
    files: { [`${b.name}.convlens.json`]: JSON.stringify({ labels: 'names.txt' }) },
    symlinks: { 'names.txt': pick(['/etc/passwd', '/dev/zero', '/etc/hostname'], rand) },
    input: PNG_INPUT,
  }),
  resizeTargetInMetadata: (b, rand) => {
    const huge = pick([20000, 2 ** 31 - 1, 1e15], rand);
    return { model: withMetadata(b, rand() < 0.5 ? { size: [huge, huge] } : { resize: 'shorter-side-crop', resizeTo: huge }), input: PNG_INPUT };
  },
  declaredInputDims: (b, rand) =>
    edited(b, (m) => {
      const dims = m.graph!.input![0].type!.tensor_type!.shape!.dim!;
      dims[1 + Math.floor(rand() * (dims.length - 1))] = { dim_value: pick([2 ** 31 - 1, 2 ** 53, -1, -(2 ** 40)], rand) };
    })(b, rand),
  controlFlow: (b, rand) => edited(b, (m) => wrapInControlFlow(m, pick(['If', 'If', 'Loop'], rand), rand() < 0.5))(b, rand),
  externalDataSymlink: (b, rand) => {
    const model = decodeModel(b.bytes);
    const init = pick(
      model.graph!.initializer!.filter((t) => (t.dims ?? []).length > 0 && t.raw_data),
      rand,
    );
    const length = init.raw_data!.length;
    delete init.raw_data;
    init.data_location = 1;
    init.external_data = [
      { key: 'location', value: 'weights.bin' },
      { key: 'length', value: String(length) },
    ];
    return { model: encodeModel(model), symlinks: { 'weights.bin': pick(['/etc/passwd', '/dev/zero', '/dev/urandom'], rand) } };
  },
  controlCharsInNames: (b, rand) =>
    edited(b, (m) => {
      const nasty = () => pick(['\x1b]52;c;cHduZWQ=\x07', '\x1b]0;owned\x07', '\x1b[2J', '\r\nfake line', '\u202e', '\x00', '__proto__', 'constructor'], rand);
      m.producer_name = `exporter${nasty()}`;
      for (const node of m.graph!.node) if (rand() < 0.3) node.name = `${node.name ?? ''}${nasty()}`;
      const classes = m.graph!.output![0].type?.tensor_type?.shape?.dim?.[1]?.dim_value ?? 1;
      m.metadata_props = [{ key: 'convlens.preprocess', value: JSON.stringify({ labels: Array.from({ length: classes }, (_, i) => `class ${i}${nasty()}`) }) }];
    })(b, rand),
  repeatedPngHeader: (b, rand) => ({ model: b.bytes, input: { name: 'image.png', bytes: hostilePng(rand) } }),
  hugeNpyShape: (b, rand) => {
    const dtype = pick(['|u1', '<f4', '<f8', '<i8'], rand);
    const shape = pick(['(1, 3, 100000, 100000)', '(1, 3, 2147483647, 2147483647)', '(9007199254740993,)', '(-1, 3, 64, 64)', '(1, 3, 64, 64, 64, 64, 64)'], rand);
    const header = `{'descr': '${dtype}', 'fortran_order': False, 'shape': ${shape}, }`.padEnd(117, ' ') + '\n';
    const bytes = concat([0x93], Buffer.from('NUMPY'), [1, 0], [header.length & 0xff, header.length >> 8], Buffer.from(header), new Uint8Array(64));
    return { model: b.bytes, input: { name: 'input.npy', bytes } };
  },
};

/** An image input, so that preprocessing (sidecar, metadata, labels) is resolved and read. */
const PNG_INPUT = { name: 'image.png', bytes: new Uint8Array(fs.readFileSync(path.join(ROOT, 'sample/images/star.png'))) };

/** The model with `convlens.preprocess` metadata set to `spec`. */
function withMetadata(b: Base, spec: object): Uint8Array {
  const m = decodeModel(b.bytes);
  m.metadata_props = [...(m.metadata_props ?? []).filter((p) => p.key !== 'convlens.preprocess'), { key: 'convlens.preprocess', value: JSON.stringify(spec) }];
  return encodeModel(m);
}

/** Files outside any model's folder that a hostile path may name: none may be read. */
const OUTSIDE_PATHS = ['/etc/passwd', '../../../../../../etc/passwd', '/etc/hostname', '/dev/zero', '/proc/self/environ', '..'];

/**
 * The model's whole graph moved into the branches of an If (on a constant or a data-dependent
 * condition) or the body of a one-trip Loop, so every tensor after it is produced by control flow.
 */
function wrapInControlFlow(m: ModelProto, op: 'If' | 'Loop', dataDependent: boolean): void {
  const graph = m.graph!;
  const output = graph.output![0];
  const inner = `${output.name}__inner`;
  const rename = (t: string) => (t === output.name ? inner : t);
  const branch = (name: string, extra: NodeProto[] = [], extraOutputs: GraphProto['output'] = []): GraphProto => ({
    name,
    node: [...extra, ...graph.node.map((n) => ({ ...n, input: n.input.map(rename), output: n.output.map(rename) }))],
    input: [],
    output: [...extraOutputs!, { ...output, name: inner }],
  });
  const input = graph.input![0].name;
  const boolTensor = (value: boolean) => ({ dims: [], data_type: DataType.BOOL, int32_data: [value ? 1 : 0] });
  const nodes: NodeProto[] = [];
  if (op === 'If') {
    if (dataDependent) {
      nodes.push({ op_type: 'ReduceSum', input: [input], output: ['__sum'], attribute: [{ name: 'keepdims', type: AttributeType.INT, i: 0 }] });
      nodes.push({
        op_type: 'Constant',
        input: [],
        output: ['__zero'],
        attribute: [{ name: 'value', type: AttributeType.TENSOR, t: { dims: [], data_type: DataType.FLOAT, float_data: [0] } }],
      });
      nodes.push({ op_type: 'Greater', input: ['__sum', '__zero'], output: ['__cond'] });
    } else {
      nodes.push({ op_type: 'Constant', input: [], output: ['__cond'], attribute: [{ name: 'value', type: AttributeType.TENSOR, t: boolTensor(true) }] });
    }
    nodes.push({
      op_type: 'If',
      input: ['__cond'],
      output: [output.name],
      attribute: [
        { name: 'then_branch', type: AttributeType.GRAPH, g: branch('then') },
        { name: 'else_branch', type: AttributeType.GRAPH, g: branch('else') },
      ],
    });
  } else {
    nodes.push({
      op_type: 'Constant',
      input: [],
      output: ['__trips'],
      attribute: [{ name: 'value', type: AttributeType.TENSOR, t: { dims: [], data_type: DataType.INT64, int64_data: [1] } }],
    });
    nodes.push({ op_type: 'Constant', input: [], output: ['__go'], attribute: [{ name: 'value', type: AttributeType.TENSOR, t: boolTensor(true) }] });
    const body = branch(
      'body',
      [{ op_type: 'Identity', input: ['__cond_in'], output: ['__cond_out'] }],
      [{ name: '__cond_out', type: { tensor_type: { elem_type: DataType.BOOL, shape: { dim: [] } } } }],
    );
    body.input = [
      { name: '__iter', type: { tensor_type: { elem_type: DataType.INT64, shape: { dim: [] } } } },
      { name: '__cond_in', type: { tensor_type: { elem_type: DataType.BOOL, shape: { dim: [] } } } },
    ];
    // A Loop's body outputs past the condition are scan outputs: one per trip, stacked in front.
    nodes.push({ op_type: 'Loop', input: ['__trips', '__go'], output: [`${output.name}__stacked`], attribute: [{ name: 'body', type: AttributeType.GRAPH, g: body }] });
    nodes.push({
      op_type: 'Constant',
      input: [],
      output: ['__axis'],
      attribute: [{ name: 'value', type: AttributeType.TENSOR, t: { dims: [1], data_type: DataType.INT64, int64_data: [0] } }],
    });
    nodes.push({ op_type: 'Squeeze', input: [`${output.name}__stacked`, '__axis'], output: [output.name] });
  }
  graph.node = nodes;
}

/** A PNG whose header chunks lie: a second IHDR, an enormous IHDR, or an interlaced inflation bomb. */
function hostilePng(rand: () => number): Uint8Array {
  const ihdr = (w: number, h: number, interlace: number) => {
    const d = Buffer.alloc(13);
    d.writeUInt32BE(w, 0);
    d.writeUInt32BE(h, 4);
    d[8] = 8; // bit depth
    d[9] = 2; // RGB
    d[12] = interlace;
    return pngChunk('IHDR', d);
  };
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const kind = pick(['second IHDR', 'huge IHDR', 'interlaced bomb'], rand);
  const zeros = (bytes: number) => zlib.deflateSync(Buffer.alloc(bytes), { level: 9 });
  const end = pngChunk('IEND', new Uint8Array(0));
  if (kind === 'second IHDR') return concat(signature, ihdr(1, 1, 0), ihdr(16000, 16000, 0), pngChunk('IDAT', zeros(4)), end);
  if (kind === 'huge IHDR') return concat(signature, ihdr(2 ** 31 - 1, 2 ** 31 - 1, 0), pngChunk('IDAT', zeros(4)), end);
  return concat(signature, ihdr(16000, 16000, 1), pngChunk('IDAT', zeros(64 << 20)), end);
}

interface Tally {
  tried: number;
  errors: number;
  successes: number;
  contained: number;
  unclear: string[];
  slow: string[];
}

/** Whether text carries content of /etc/passwd, /proc/self/environ or /etc/hostname. */
function leaks(text: string): boolean {
  return /root:[^:\n]*:0:0/.test(text) || /\bPATH=\//.test(text) || (HOSTNAME.length > 3 && text.includes(HOSTNAME));
}
const HOSTNAME = (() => {
  try {
    return fs.readFileSync('/etc/hostname', 'utf8').trim();
  } catch {
    return '';
  }
})();

/** An error a person can read: not empty, not a stack trace, not an object dump. */
function clearMessage(err: Error): boolean {
  const m = err.message ?? '';
  return m.trim().length > 0 && !/\n\s+at /.test(m) && !/^\[object /.test(m) && !/\.(cc|h):\d+/.test(m) && !/typed array length/.test(m);
}

async function withinLimit<T>(work: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took over ${MUTANT_TIME_LIMIT_MS / 1000} s`)), MUTANT_TIME_LIMIT_MS);
  });
  try {
    return await Promise.race([work, limit]);
  } finally {
    clearTimeout(timer);
  }
}

describe('reliability: fuzzed models through the compute worker', function () {
  this.timeout(0); // each mutant has its own time bound
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'convlens-fuzz-'));
  const bases: Base[] = [];
  let client: ComputeClient;

  before(() => {
    client = new ComputeClient(WORKER);
    const shapesInput = path.join(dir, 'shapes.input.npy');
    const random = seededRandom(SEED);
    fs.writeFileSync(shapesInput, formatNpy({ dtype: 'float32', dims: [1, 3, 64, 64], data: Float32Array.from({ length: 3 * 64 * 64 }, () => random() - 0.5) }));
    const sources: [string, string][] = [
      [path.join(ROOT, 'sample/shapes.onnx'), shapesInput],
      ...['misc_ops', 'bn_unfused', 'densenet_like', 'effnet_like'].map((n): [string, string] => [
        path.join(ROOT, `test/models/${n}.onnx`),
        path.join(ROOT, `test/models/${n}.input.npy`),
      ]),
    ];
    for (const [file, input] of sources) {
      if (!fs.existsSync(file)) continue;
      const bytes = new Uint8Array(fs.readFileSync(file)); // a plain array: Buffer.slice would not copy
      bases.push({ name: path.basename(file, '.onnx'), bytes, proto: decodeModel(bytes), input });
    }
  });
  after(async () => {
    await client.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** Runs one mutant through open, inspect, predict and Grad-CAM; returns how it ended. */
  async function exercise(modelPath: string, input: string, messages?: string[]): Promise<'error' | 'success' | 'crash'> {
    try {
      const view = await client.call('openModel', { modelPath, provider: 'cpu' });
      assert.ok(view.layers.length >= 0 && view.inputs.length > 0, 'an opened model describes its input');
      const image = await client.call('loadImage', { modelPath, imagePath: input });
      const top = await client.call('predict', { modelPath, imageId: image.id, topK: 1 });
      assert.ok(Array.isArray(top));
      for (const p of top) assert.ok(!leaks(p.label), `a label shows the content of a file outside the model's folder: ${JSON.stringify(p.label)}`);
      const e = await client.call('explain', { modelPath, imageId: image.id, method: 'gradcam', layer: 'auto', target: { kind: 'top' } });
      assert.ok(e.map.values.length === e.map.width * e.map.height);
      return 'success';
    } catch (err) {
      if (err instanceof assert.AssertionError) throw err;
      if (err instanceof WorkerCrashedError) return 'crash';
      messages?.push((err as Error).message);
      if (leaks((err as Error).message))
        throw new assert.AssertionError({ message: `an error shows the content of a file outside the model's folder: ${JSON.stringify((err as Error).message)}` });
      if (!clearMessage(err as Error)) throw Object.assign(new Error(`unclear error: ${JSON.stringify((err as Error).message)}`), { unclear: true });
      return 'error';
    } finally {
      await client.call('closeModel', { modelPath }).catch(() => undefined);
    }
  }

  it('runs every unmutated model end to end (so the mutants test something)', async () => {
    for (const base of bases) {
      const modelPath = path.join(dir, 'models', 'original', `${base.name}.onnx`);
      fs.mkdirSync(path.dirname(modelPath), { recursive: true });
      fs.writeFileSync(modelPath, base.bytes);
      const messages: string[] = [];
      assert.strictEqual(await exercise(modelPath, base.input, messages), 'success', `${base.name}: ${messages.join('; ')}`);
    }
  });

  it(`every mutant ends in a clear error or a valid result, and worker crashes are contained (${MUTANTS} mutants, seed ${SEED})`, async () => {
    assert.ok(bases.length > 0, 'the fuzz needs at least one model');
    const rand = seededRandom(SEED);
    const names = Object.keys(MUTATIONS);
    const tally: Tally = { tried: 0, errors: 0, successes: 0, contained: 0, unclear: [], slow: [] };
    const byMutation: Record<string, { error: number; success: number; crash: number }> = {};
    for (let i = 0; i < MUTANTS; i++) {
      const mutation = names[i % names.length];
      const base = bases[Math.floor(rand() * bases.length)];
      const label = `#${i} ${mutation} of ${base.name}`;
      let mutant: Mutant;
      try {
        const made = MUTATIONS[mutation](base, rand);
        mutant = made instanceof Uint8Array ? { model: made } : made;
      } catch (err) {
        throw new Error(`${label}: building the mutant failed: ${(err as Error).message}`);
      }
      const folder = path.join(dir, 'models', `m${i}`);
      const modelPath = path.join(folder, `${base.name}.onnx`);
      fs.mkdirSync(folder, { recursive: true });
      fs.writeFileSync(modelPath, mutant.model);
      for (const [name, content] of Object.entries(mutant.files ?? {})) fs.writeFileSync(path.join(folder, name), content);
      for (const [name, target] of Object.entries(mutant.symlinks ?? {})) fs.symlinkSync(target, path.join(folder, name));
      const input = mutant.input ? path.join(folder, mutant.input.name) : base.input;
      if (mutant.input) fs.writeFileSync(input, mutant.input.bytes);
      tally.tried++;
      let outcome: 'error' | 'success' | 'crash';
      try {
        const messages: string[] = [];
        outcome = await withinLimit(exercise(modelPath, input, messages), label);
        if (process.env.CONVLENS_FUZZ_VERBOSE) console.log(`        ${label}: ${outcome} ${messages.join('; ')}`);
      } catch (err) {
        if ((err as { unclear?: boolean }).unclear) tally.unclear.push(`${label}: ${(err as Error).message}`);
        else if (/took over/.test((err as Error).message)) {
          tally.slow.push(label);
          await client.dispose(); // a stuck worker is stopped; the next call starts a fresh one
        } else throw new Error(`${label}: ${(err as Error).message}`);
        continue;
      }
      if (outcome === 'crash') {
        // Contained only if the restarted worker answers the next request.
        const methods = await withinLimit(client.call('methods', {}), `${label}: the restarted worker`);
        assert.ok(methods.length > 0);
        tally.contained++;
      } else if (outcome === 'error') tally.errors++;
      else tally.successes++;
      byMutation[mutation] ??= { error: 0, success: 0, crash: 0 };
      byMutation[mutation][outcome]++;
      fs.rmSync(folder, { recursive: true, force: true });
    }
    console.log(
      `      fuzz: ${tally.tried} mutants tried, ${tally.errors} errors reported, ${tally.successes} successes, ${tally.contained} worker crashes contained, 0 uncontained crashes, ${tally.slow.length} over the time bound, ${tally.unclear.length} unclear messages`,
    );
    for (const [m, c] of Object.entries(byMutation)) console.log(`        ${m}: ${c.error} errors, ${c.success} successes, ${c.crash} contained crashes`);
    assert.deepStrictEqual(tally.unclear, [], 'every error is one clear sentence');
    assert.deepStrictEqual(tally.slow, [], `every mutant ends within ${MUTANT_TIME_LIMIT_MS / 1000} s`);
    assert.strictEqual(tally.tried, MUTANTS);
  });
});
