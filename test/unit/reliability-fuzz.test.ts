// Fuzzed models through the real compute worker: every mutant of a real .onnx file (truncated,
// bit-flipped, wrong wire types, huge declared sizes, cyclic or dangling edges, missing
// initialisers, unknown ops and domains, external data outside the model's folder) must end in a
// clear one-sentence error or a valid result, within a time bound, never a crash of this process.
// A crashed worker is "contained" when the call reports WorkerCrashedError and the next call works.
// Seeded (mulberry32) so a failure replays; CONVLENS_FUZZ=<n> runs n mutants instead of the CI set,
// CONVLENS_FUZZ_VERBOSE=1 prints each mutant's outcome and message.
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { formatNpy } from '../../src/core/npy';
import { ModelProto, decodeModel, encodeModel } from '../../src/core/onnx/proto';
import { seededRandom } from '../../src/core/random';
import { ComputeClient, WorkerCrashedError } from '../../src/core/runtime/client';

const ROOT = path.resolve(__dirname, '../../..');
const WORKER = path.join(ROOT, 'out/src/core/runtime/worker.js');
const MUTANT_TIME_LIMIT_MS = 20_000;
const MUTANTS = Number(process.env.CONVLENS_FUZZ) || 300;
const SEED = 20261127;

interface Base { name: string; bytes: Uint8Array; proto: ModelProto; input: string }

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

type Mutation = (base: Base, rand: () => number) => Uint8Array;
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
    const wire = pick([0, 1, 2, 3, 5].filter((w) => w !== field.wire), rand);
    out.set(varint((tag & ~7) | wire).slice(0, 1), field.tagAt);
    return out;
  },
  hugeLength: (b, rand) => {
    // A length-delimited field (the graph, a string) claiming 2 GB.
    const fields = topLevelFields(b.bytes).filter((f) => f.lengthAt !== undefined);
    const f = pick(fields, rand);
    return concat(b.bytes.subarray(0, f.lengthAt!), varint(2 ** 31 + Math.floor(rand() * 1000)), b.bytes.subarray(f.dataAt));
  },
  hugeTensorDims: (b, rand) => edited(b, (m) => {
    const init = pick(m.graph!.initializer!, rand);
    init.dims = [1e12, ...(init.dims ?? []).slice(1)];
  })(b, rand),
  hugeInputDims: (b, rand) => edited(b, (m) => {
    const dims = m.graph!.input![0].type!.tensor_type!.shape!.dim!;
    dims[Math.floor(rand() * dims.length)] = { dim_value: 1e12 };
  })(b, rand),
  selfCycle: (b, rand) => edited(b, (m) => {
    const node = pick(m.graph!.node.filter((n) => n.input.length > 0), rand);
    node.input[0] = node.output[0];
  })(b, rand),
  twoNodeCycle: (b, rand) => edited(b, (m) => {
    const nodes = m.graph!.node;
    const i = 1 + Math.floor(rand() * (nodes.length - 1));
    const earlier = nodes.slice(0, i).filter((n) => n.input.length > 0);
    if (earlier.length) pick(earlier, rand).input[0] = nodes[i].output[0];
  })(b, rand),
  danglingInput: (b, rand) => edited(b, (m) => {
    const node = pick(m.graph!.node.filter((n) => n.input.length > 0), rand);
    node.input[Math.floor(rand() * node.input.length)] = 'no_such_tensor';
  })(b, rand),
  missingInitializer: (b, rand) => edited(b, (m) => {
    const inits = m.graph!.initializer!;
    inits.splice(Math.floor(rand() * inits.length), 1);
  })(b, rand),
  unknownOp: (b, rand) => edited(b, (m) => {
    pick(m.graph!.node, rand).op_type = 'FrobnicateTensor';
  })(b, rand),
  unknownDomain: (b, rand) => edited(b, (m) => {
    pick(m.graph!.node, rand).domain = 'com.example.nowhere';
  })(b, rand),
  externalDataOutside: (b, rand) => edited(b, (m) => {
    const init = pick(m.graph!.initializer!.filter((t) => (t.dims ?? []).length > 0), rand);
    delete init.raw_data;
    init.float_data = [];
    init.data_location = 1;
    init.external_data = [{ key: 'location', value: pick(['../../etc/passwd', '/etc/passwd', '../../../../../../etc/shadow'], rand) }, { key: 'length', value: '4096' }];
  })(b, rand),
  danglingGraphOutput: (b, rand) => edited(b, (m) => {
    m.graph!.output![0].name = 'not_produced_anywhere';
  })(b, rand),
};

interface Tally { tried: number; errors: number; successes: number; contained: number; unclear: string[]; slow: string[] }

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
      ...['misc_ops', 'bn_unfused', 'densenet_like', 'effnet_like'].map((n): [string, string] => [path.join(ROOT, `test/models/${n}.onnx`), path.join(ROOT, `test/models/${n}.input.npy`)]),
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
      const e = await client.call('explain', { modelPath, imageId: image.id, method: 'gradcam', layer: 'auto', target: { kind: 'top' } });
      assert.ok(e.map.values.length === e.map.width * e.map.height);
      return 'success';
    } catch (err) {
      if (err instanceof assert.AssertionError) throw err;
      if (err instanceof WorkerCrashedError) return 'crash';
      messages?.push((err as Error).message);
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
      let bytes: Uint8Array;
      try {
        bytes = MUTATIONS[mutation](base, rand);
      } catch (err) {
        throw new Error(`${label}: building the mutant failed: ${(err as Error).message}`);
      }
      const modelPath = path.join(dir, 'models', `m${i}`, `${base.name}.onnx`);
      fs.mkdirSync(path.dirname(modelPath), { recursive: true });
      fs.writeFileSync(modelPath, bytes);
      tally.tried++;
      let outcome: 'error' | 'success' | 'crash';
      try {
        const messages: string[] = [];
        outcome = await withinLimit(exercise(modelPath, base.input, messages), label);
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
      fs.rmSync(path.dirname(modelPath), { recursive: true, force: true });
    }
    console.log(`      fuzz: ${tally.tried} mutants tried, ${tally.errors} errors reported, ${tally.successes} successes, ${tally.contained} worker crashes contained, 0 uncontained crashes, ${tally.slow.length} over the time bound, ${tally.unclear.length} unclear messages`);
    for (const [m, c] of Object.entries(byMutation)) console.log(`        ${m}: ${c.error} errors, ${c.success} successes, ${c.crash} contained crashes`);
    assert.deepStrictEqual(tally.unclear, [], 'every error is one clear sentence');
    assert.deepStrictEqual(tally.slow, [], `every mutant ends within ${MUTANT_TIME_LIMIT_MS / 1000} s`);
    assert.strictEqual(tally.tried, MUTANTS);
  });
});
