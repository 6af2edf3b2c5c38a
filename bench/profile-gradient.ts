// npm run bench:profile: where the time of a forward+backward pass goes, per op type, from
// onnxruntime's profiler (SessionOptions.enableProfiling) on the reference models: the forward
// session and the gradient session (wrt the input, seeded at the reference class) side by side.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as ort from 'onnxruntime-node';
import { buildGradientModel } from '../src/core/autodiff/build';
import { probeShapeSets } from '../src/core/autodiff/shapes';
import { ConvModel } from '../src/core/model';
import { encodeModel } from '../src/core/onnx/proto';
import { withDynamicBatch } from '../src/core/onnx/surgery';
import { seedFor } from '../src/core/explain/target';
import { REFERENCE_DIR, loadManifest, loadTensor, referenceAvailable } from '../test/support/reference';

const RUNS = 10;

interface ProfileEvent {
  cat: string;
  name: string;
  dur: number;
  args?: { op_name?: string };
}

/** Microseconds per op type over the profiled runs (after one warm-up), and the median run time. */
async function profile(bytes: Uint8Array, feeds: Record<string, ort.Tensor>, outputs: string[], prefix: string): Promise<{ byOp: Map<string, number>; runMs: number }> {
  const session = await ort.InferenceSession.create(bytes, {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
    enableProfiling: true,
    profileFilePrefix: prefix,
    logSeverityLevel: 3,
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
  const byOp = new Map<string, number>();
  for (const e of events) {
    if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time')) continue;
    const op = e.args?.op_name ?? '?';
    byOp.set(op, (byOp.get(op) ?? 0) + e.dur / (RUNS + 1));
  }
  times.sort((a, b) => a - b);
  return { byOp, runMs: times[Math.floor(RUNS / 2)] };
}

async function main(): Promise<void> {
  if (!referenceAvailable()) throw new Error(`reference data not found at ${REFERENCE_DIR}`);
  const only = process.argv.slice(2);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'convlens-profile-'));
  for (const c of loadManifest().cases.filter((x) => x.image === 'chelsea' && (only.length === 0 || only.includes(x.model)))) {
    const model = ConvModel.load(path.join(REFERENCE_DIR, c.onnx), { provider: 'cpu' });
    const input = loadTensor(c, 'input');
    const proto = withDynamicBatch(model.proto);
    const [shapes, batchShapes] = await probeShapeSets(
      proto,
      [{ input }, { input: { ...input, dims: [2, ...input.dims.slice(1)], data: new Float32Array(input.data.length * 2) } }],
      model.activationLimit.bytes,
    );
    const built = buildGradientModel(proto, { wrt: ['input'], shapes, batchShapes });
    const outputName = model.summary().outputs[0].name;
    const seed = seedFor({ kind: 'class', index: c.target_class, output: outputName }, shapes.get(outputName) as number[], 1);
    const x = new ort.Tensor('float32', input.data as Float32Array, input.dims);
    const fwd = await profile(encodeModel(proto), { input: x }, [outputName], path.join(dir, `${c.model}-forward`));
    const grad = await profile(
      encodeModel(built.model),
      { input: x, [built.seed]: new ort.Tensor('float32', seed.data as Float32Array, seed.dims) },
      [built.gradients.input],
      path.join(dir, `${c.model}-gradient`),
    );
    console.log(`\n${c.model}: forward ${fwd.runMs.toFixed(1)} ms, gradient ${grad.runMs.toFixed(1)} ms (${(grad.runMs / fwd.runMs).toFixed(2)}×), kernel ms per run by op type:`);
    const ops = [...new Set([...fwd.byOp.keys(), ...grad.byOp.keys()])].sort((a, b) => (grad.byOp.get(b) ?? 0) - (grad.byOp.get(a) ?? 0));
    for (const op of ops)
      console.log(`  ${op.padEnd(24)} forward ${((fwd.byOp.get(op) ?? 0) / 1000).toFixed(2).padStart(7)}  gradient ${((grad.byOp.get(op) ?? 0) / 1000).toFixed(2).padStart(7)}`);
    await model.dispose();
  }
  fs.rmSync(dir, { recursive: true, force: true });
}

main().catch((err) => {
  console.error(`profile failed: ${(err as Error).stack}`);
  process.exitCode = 1;
});
