// npm run bench:profile: where the time of a forward+backward pass goes, per op type, from
// onnxruntime's profiler (SessionOptions.enableProfiling) on the reference models, or another
// (`--model`): the forward session and the gradient session (wrt the input, seeded at the
// reference class or the top one) side by side.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as ort from 'onnxruntime-node';
import { buildGradientModel } from '../src/core/autodiff/build';
import { probeShapeSets } from '../src/core/autodiff/shapes';
import { ConvModel } from '../src/core/model';
import { encodeModel } from '../src/core/onnx/proto';
import { seedFor } from '../src/core/explain/target';
import { Random } from '../src/core/random';
import { Tensor, argmax, float32, sizeOf } from '../src/core/tensor';
import { REFERENCE_DIR, loadManifest, loadTensor, referenceAvailable } from '../test/support/reference';

interface ProfileEvent {
  cat: string;
  name: string;
  dur: number;
  args?: { op_name?: string; output_type_shape?: Record<string, number[]>[] };
}

// `--nodes N`: also list the N slowest nodes of the gradient session (name, op, output shape);
// `--save DIR`: write onnxruntime's optimised forward and gradient models there (to see which
// nodes its NCHWc transformer rewrote and where it put layout reorders).
const args = process.argv.slice(2);
const flag = (name: string): string | undefined => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
const TOP_NODES = Number(flag('--nodes') ?? 0);
// `--runs N`: profiled runs per session after one warm-up (10 by default).
const RUNS = Number(flag('--runs') ?? 10);
const SAVE_DIR = flag('--save');
// `--threads N`: onnxruntime's intra-op threads (its default otherwise); 1 gives steadier figures on a shared machine.
const THREADS = Number(flag('--threads') ?? 0);
// `--batch N`: profile at batch N (1 by default), as Integrated Gradients and SmoothGrad run their points.
const BATCH = Number(flag('--batch') ?? 1);
// `--model FILE.onnx`: profile that model instead of the reference ones, on a seeded normal input
// of its input's size, seeded at its top class.
const MODEL = flag('--model');

/** Microseconds per op type over the profiled runs (after one warm-up), and the median run time. */
async function profile(
  bytes: Uint8Array,
  feeds: Record<string, ort.Tensor>,
  outputs: string[],
  prefix: string,
  saveTo?: string,
): Promise<{ byOp: Map<string, number>; byNode: Map<string, { op: string; us: number; shape: string }>; runMs: number }> {
  const session = await ort.InferenceSession.create(bytes, {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
    enableProfiling: true,
    profileFilePrefix: prefix,
    logSeverityLevel: 3,
    ...(THREADS > 0 ? { intraOpNumThreads: THREADS } : {}),
    ...(saveTo ? { optimizedModelFilePath: saveTo } : {}),
  });
  await session.run(feeds, outputs);
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const start = performance.now();
    await session.run(feeds, outputs);
    times.push(performance.now() - start);
  }
  const file = (session as unknown as { endProfiling(): string }).endProfiling?.();
  await session.release();
  const profileFile =
    file ??
    fs
      .readdirSync(path.dirname(prefix))
      .map((f) => path.join(path.dirname(prefix), f))
      .find((f) => f.startsWith(prefix));
  const events = JSON.parse(fs.readFileSync(profileFile as string, 'utf8')) as ProfileEvent[];
  // Each node's fastest run (its first, the warm-up, left out): on a shared machine other
  // processes only ever slow a kernel down, so the minimum over runs is the steadiest estimate of
  // its own cost, and their sum that of an unloaded run.
  const runs = new Map<string, { op: string; shape: string; us: number[] }>();
  for (const e of events) {
    if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time')) continue;
    const node = e.name.slice(0, -'_kernel_time'.length);
    const shape = (e.args?.output_type_shape ?? []).map((o) => JSON.stringify(Object.values(o)[0])).join(' ');
    const seen = runs.get(node) ?? { op: e.args?.op_name ?? '?', shape, us: [] };
    seen.us.push(e.dur);
    runs.set(node, seen);
  }
  const byOp = new Map<string, number>();
  const byNode = new Map<string, { op: string; us: number; shape: string }>();
  for (const [node, r] of runs) {
    const us = Math.min(...(r.us.length > 1 ? r.us.slice(1) : r.us));
    byNode.set(node, { op: r.op, us, shape: r.shape });
    byOp.set(r.op, (byOp.get(r.op) ?? 0) + us);
  }
  times.sort((a, b) => a - b);
  return { byOp, byNode, runMs: times[Math.floor(RUNS / 2)] };
}

/** The models to profile: the reference ones on their cat (those named, or all), or `--model`'s. */
async function cases(): Promise<{ name: string; model: ConvModel; input: Tensor; target: number }[]> {
  if (MODEL) {
    const model = ConvModel.load(MODEL, { provider: 'cpu' });
    const random = new Random(0);
    const dims = model.inputDims();
    const input = float32(
      dims,
      Float32Array.from({ length: sizeOf(dims) }, () => random.normal()),
    );
    const scores = (await model.run({ [model.input.name]: input }))[model.summary().outputs[0].name].data as Float32Array;
    return [{ name: path.basename(MODEL, '.onnx'), model, input, target: argmax(scores) }];
  }
  if (!referenceAvailable()) throw new Error(`reference data not found at ${REFERENCE_DIR}`);
  const only = args.filter((a, i) => !a.startsWith('--') && !args[i - 1]?.startsWith('--'));
  return loadManifest()
    .cases.filter((x) => x.image === 'chelsea' && (only.length === 0 || only.includes(x.model)))
    .map((c) => ({ name: c.model, model: ConvModel.load(path.join(REFERENCE_DIR, c.onnx), { provider: 'cpu' }), input: loadTensor(c, 'input'), target: c.target_class }));
}

async function main(): Promise<void> {
  if (SAVE_DIR) fs.mkdirSync(SAVE_DIR, { recursive: true });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'convlens-profile-'));
  for (const c of await cases()) {
    const { model, input } = c;
    const name = model.input.name;
    // The model as its sessions take it: with its batch-pinning Reshapes freed where the probe
    // freed them and its rows stay independent, else as declared (which runs one input at a time).
    const takesBatch = await model.batchedSessions();
    if (BATCH > 1 && !(await model.supportsBatch())) throw new Error(`${c.name} does not take a batch: profile it without --batch`);
    const proto = takesBatch ? model.batchedProto() : model.proto;
    const [shapes, batchShapes] = await probeShapeSets(
      proto,
      [{ [name]: input }, ...(takesBatch ? [{ [name]: { ...input, dims: [2, ...input.dims.slice(1)], data: new Float32Array(input.data.length * 2) } }] : [])],
      model.activationLimit.bytes,
    );
    const built = buildGradientModel(proto, { wrt: [name], shapes, batchShapes });
    const outputName = model.summary().outputs[0].name;
    const seed = seedFor({ kind: 'class', index: c.target, output: outputName }, shapes.get(outputName) as number[], BATCH);
    const batched = new Float32Array(input.data.length * BATCH);
    for (let i = 0; i < BATCH; i++) batched.set(input.data as Float32Array, i * input.data.length);
    const x = new ort.Tensor('float32', batched, [BATCH, ...input.dims.slice(1)]);
    const saved = (kind: string) => (SAVE_DIR ? path.join(SAVE_DIR, `${c.name}-${kind}.onnx`) : undefined);
    const fwd = await profile(encodeModel(proto), { [name]: x }, [outputName], path.join(dir, `${c.name}-forward`), saved('forward'));
    const grad = await profile(
      encodeModel(built.model),
      { [name]: x, [built.seed]: new ort.Tensor('float32', seed.data as Float32Array, seed.dims) },
      [built.gradients[name]],
      path.join(dir, `${c.name}-gradient`),
      saved('gradient'),
    );
    const kernelSum = (r: typeof fwd) => [...r.byNode.values()].reduce((a, n) => a + n.us, 0) / 1000;
    console.log(
      `\n${c.name}: forward ${fwd.runMs.toFixed(1)} ms, gradient ${grad.runMs.toFixed(1)} ms (${(grad.runMs / fwd.runMs).toFixed(2)}×) median wall times; sums of the nodes' fastest kernel times: forward ${kernelSum(fwd).toFixed(1)} ms, gradient ${kernelSum(grad).toFixed(1)} ms (${(kernelSum(grad) / kernelSum(fwd)).toFixed(2)}×); fastest kernel ms per op type:`,
    );
    const ops = [...new Set([...fwd.byOp.keys(), ...grad.byOp.keys()])].sort((a, b) => (grad.byOp.get(b) ?? 0) - (grad.byOp.get(a) ?? 0));
    for (const op of ops)
      console.log(`  ${op.padEnd(24)} forward ${((fwd.byOp.get(op) ?? 0) / 1000).toFixed(2).padStart(7)}  gradient ${((grad.byOp.get(op) ?? 0) / 1000).toFixed(2).padStart(7)}`);
    // The forward nodes inside the gradient session, timed in the same runs as its backward nodes,
    // so a loaded machine slows both alike (emitted backward nodes are named …/grad/…; the layout
    // reorders onnxruntime inserts are counted as backward, most serve the backward).
    let forwardPart = 0;
    let total = 0;
    for (const [name, n] of grad.byNode) {
      total += n.us;
      if (!name.includes('/grad/') && !/^Reorder(Input|Output)/.test(name)) forwardPart += n.us;
    }
    console.log(
      `  inside the gradient session: kernel time ${(total / 1000).toFixed(1)} ms = ${(total / forwardPart).toFixed(2)}× its forward nodes' ${(forwardPart / 1000).toFixed(1)} ms`,
    );
    if (TOP_NODES > 0) {
      console.log(`  slowest ${TOP_NODES} nodes of the gradient session, ms per run:`);
      const nodes = [...grad.byNode.entries()].sort((a, b) => b[1].us - a[1].us).slice(0, TOP_NODES);
      for (const [name, n] of nodes) console.log(`    ${(n.us / 1000).toFixed(2).padStart(6)}  ${n.op.padEnd(16)} ${name}  ${n.shape}`);
    }
    await model.dispose();
  }
  fs.rmSync(dir, { recursive: true, force: true });
}

main().catch((err) => {
  console.error(`profile failed: ${(err as Error).stack}`);
  process.exitCode = 1;
});
