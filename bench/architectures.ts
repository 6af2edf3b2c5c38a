// The issue's goals on torchvision classifiers other than the reference models (`npm run bench --
// --only architectures`, `--architectures a,b` to choose; not part of the default run, its peers
// take minutes): bench/architectures.py exports each architecture (seeded random weights) and times
// pytorch-grad-cam's GradCAM and AblationCAM and Captum's IntegratedGradients on the same model
// object; ours run on the exported model in a fresh process per architecture (first calls as a
// freshly opened model meets them: the shape probe and every session counted; onnxruntime's start
// is not, as the peers' import of torch is not), on the layer the peers explain and the class
// PyTorch predicts.
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { explain } from '../src/core/explain';
import { ConvModel } from '../src/core/model';
import { PeerTime, runPeerScript, startRuntime } from './peers';

export const DEFAULT_ARCHITECTURES = ['efficientnet_b0', 'mobilenet_v3_small', 'shufflenet_v2_x1_0', 'regnet_y_400mf', 'densenet121'];
const SCRIPT = path.resolve(__dirname, '../../bench/architectures.py');

// method: ours; peer: bench/architectures.py's computation; goal: issue #14's speed-up over it.
const COMPUTATIONS = [
  { method: 'gradcam', peer: 'GradCAM', goal: 1, repeats: 5 },
  { method: 'ablationcam', peer: 'AblationCAM', goal: 20, repeats: 1 },
  { method: 'integrated-gradients', peer: 'IntegratedGradients', goal: 2, repeats: 1, options: { steps: 32, method: 'riemann_trapezoid' } },
  { method: 'occlusion', peer: 'Occlusion', goal: 3, repeats: 1, options: { window: [3, 32, 32], strides: [3, 16, 16] } },
];

interface Exported {
  torch: string;
  threads: number;
  target: number;
  layer_tensor: string;
  times: Record<string, PeerTime>;
}

async function timed(fn: () => Promise<unknown>, repeats: number): Promise<PeerTime> {
  let start = performance.now();
  await fn();
  const first_s = (performance.now() - start) / 1000;
  const later: number[] = [];
  for (let i = 0; i < repeats; i++) {
    start = performance.now();
    await fn();
    later.push((performance.now() - start) / 1000);
  }
  later.sort((a, b) => a - b);
  return { first_s, seconds: later.length > 0 ? later[Math.floor(later.length / 2)] : first_s };
}

/** In the child: the exported model's first and later calls of each computation, and its forward pass. */
async function child(modelPath: string, inputPath: string, target: number, layer: string): Promise<void> {
  const bytes = fs.readFileSync(inputPath);
  const input = { dtype: 'float32' as const, dims: [1, 3, 224, 224], data: new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4) };
  startRuntime();
  const model = ConvModel.load(modelPath, { provider: 'auto' });
  try {
    const ctx = { model, input, target: { kind: 'class' as const, index: target }, layer };
    const times: Record<string, PeerTime> = {};
    for (const c of COMPUTATIONS) times[c.peer] = await timed(() => explain(c.method, ctx, c.options ?? {}), c.repeats);
    times.forward = await timed(() => model.run({ [model.input.name]: input }), 10);
    process.stdout.write(`${JSON.stringify({ provider: (await model.baseSession()).provider, times })}\n`);
  } finally {
    await model.dispose();
  }
}

export async function benchArchitectures(names: string[]): Promise<Record<string, unknown>[]> {
  console.log(
    `\nOther architectures (torchvision, seeded random weights, exported to ONNX; the peers on the same model under Debian's PyTorch, 2 threads; ours in a fresh process each; first call / later calls, × the peer's):`,
  );
  const results: Record<string, unknown>[] = [];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'convlens-bench-architectures-'));
  try {
    for (const name of names) {
      const run = runPeerScript(SCRIPT, [name, dir], { folder: 'pytorch_grad_cam', modules: 'torch, torchvision, captum, onnx' });
      if ('note' in run) {
        console.log(`  ${run.note}: other architectures skipped`);
        break;
      }
      const peer = run.parsed as unknown as Exported;
      const out = execFileSync(
        process.execPath,
        [__filename, 'child', path.join(dir, `${name}.onnx`), path.join(dir, `${name}.input.f32`), String(peer.target), peer.layer_tensor],
        {
          encoding: 'utf8',
          maxBuffer: 1 << 20,
        },
      );
      const ours = JSON.parse(out.trim().split('\n').pop() as string) as { provider: string; times: Record<string, PeerTime> };
      console.log(
        `  ${name} on ${ours.provider.toUpperCase()} at '${peer.layer_tensor}', forward ${(ours.times.forward.seconds * 1000).toFixed(1)} ms (PyTorch ${(peer.times.forward.seconds * 1000).toFixed(1)} ms):`,
      );
      for (const c of COMPUTATIONS) {
        const [o, p] = [ours.times[c.peer], peer.times[c.peer]];
        const ratio = (a: number, b: number) => `${(b / a).toFixed(2)}×`;
        console.log(
          `    ${c.method.padEnd(22)} first ${o.first_s.toFixed(3)} s against ${p.first_s.toFixed(3)} s = ${ratio(o.first_s, p.first_s).padStart(8)}; later ${o.seconds.toFixed(3)} s against ${p.seconds.toFixed(3)} s = ${ratio(o.seconds, p.seconds).padStart(8)}  (goal ≥ ${c.goal}×)`,
        );
        results.push({ architecture: name, method: c.method, ours: o, peer: p, first_speedup: p.first_s / o.first_s, speedup: p.seconds / o.seconds, goal: c.goal });
      }
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return results;
}

if (require.main === module && process.argv[2] === 'child') {
  const [modelPath, inputPath, target, layer] = process.argv.slice(3);
  child(modelPath, inputPath, Number(target), layer).catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
