// npm run bench: speed as ratios to baselines measured in the same run (a plain forward pass on
// the same session, the recorded PyTorch times of ../shared/reference, and the peers timed in the
// same run by bench/peers.py and bench/peers-methods.py: Captum, pytorch-grad-cam). Nothing here asserts.
// `npm run bench -- --quick` measures fewer repetitions and skips the slowest methods;
// `npm run bench -- --gradient` measures only forward+backward against forward (and the gradient
// session's memory) on the reference models' chelsea cases, for autodiff work;
// `--only models,first-call` runs only those parts (models, dataset, dataset-map, responsiveness,
// numerics, graph-layout, first-call; and architectures, other torchvision classifiers against
// their peers, which runs only when named or with `--architectures a,b`), `--methods
// scorecam,occlusion` only those methods (in the model table and the first calls) and `--models
// resnet18` only those reference models. The machine
// may be shared: each ratio to the forward pass uses forward passes timed alternately with the
// method, so both see the same load.
import * as fs from 'fs';
import * as path from 'path';
import { computeGradients } from '../src/core/autodiff/gradients';
import { explain } from '../src/core/explain';
import { resolveTarget, seedFor } from '../src/core/explain/target';
import { ConvModel } from '../src/core/model';
import { hugePagesValue, relaunchWithHugePages } from '../src/core/onnx/huge-pages';
import { Tensor } from '../src/core/tensor';
import { benchDataset } from './dataset';
import { benchGraphLayout } from './graph-layout';
import { benchDatasetMap } from './dataset-map';
import { gradientMemory } from './memory';
import { METHOD_PEER_COMPUTATIONS, PEERS_HUGE_PAGES, PeerRun, PeerTime, timeMethodPeers, timePeers } from './peers';
import { benchNumerics } from './numerics';
import { benchResponsiveness } from './responsiveness';
import { REFERENCE_DIR, ReferenceCase, loadManifest, loadTensor, referenceAvailable } from '../test/support/reference';
import { benchFirstCalls } from './first-call';
import { DEFAULT_ARCHITECTURES, benchArchitectures } from './architectures';

const quick = process.argv.includes('--quick');
const gradientOnly = process.argv.includes('--gradient');

/** The comma-separated values of `--flag a,b` (or `--flag=a,b`); undefined when the flag is absent. */
function listFlag(flag: string): string[] | undefined {
  const args = process.argv.slice(2);
  const i = args.findIndex((a) => a === flag || a.startsWith(`${flag}=`));
  if (i < 0) return undefined;
  const value = args[i].includes('=') ? args[i].slice(flag.length + 1) : args[i + 1];
  return (value ?? '').split(',').filter(Boolean);
}

const PARTS = ['models', 'dataset', 'dataset-map', 'responsiveness', 'numerics', 'graph-layout', 'first-call', 'architectures'];
const onlyParts = listFlag('--only');
const onlyMethods = listFlag('--methods');
const onlyModels = listFlag('--models');
const architectures = listFlag('--architectures');
for (const part of onlyParts ?? []) if (!PARTS.includes(part)) throw new Error(`--only takes ${PARTS.join(', ')}; got '${part}'`);
// Other architectures take minutes of peers' time: they run only when asked for.
const runs = (part: string) => (part === 'architectures' ? !!architectures || !!onlyParts?.includes(part) : !onlyParts || onlyParts.includes(part));
const REPEATS = quick ? 3 : 10;

async function seconds(fn: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await fn();
  return (performance.now() - start) / 1000;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

/**
 * Median wall times, in seconds, of `fn` and of the plain forward pass over `repeats` alternating
 * runs after one warm-up of each (three forward passes per run when `fn` runs once).
 */
async function timeAgainstForward(fn: () => Promise<unknown>, forward: () => Promise<unknown>, repeats = REPEATS): Promise<{ seconds: number; forward: number }> {
  await fn();
  await forward();
  const own: number[] = [];
  const plain: number[] = [];
  for (let i = 0; i < repeats; i++) {
    own.push(await seconds(fn));
    for (let k = 0; k < (repeats === 1 ? 3 : 1); k++) plain.push(await seconds(forward));
  }
  return { seconds: median(own), forward: median(plain) };
}

// peerKey: the computation bench/peers.py (Captum) or bench/peers-methods.py (pytorch-grad-cam,
// Captum's Occlusion) times in the same run; goal: the speed-up over it that issue #14 asks for.
const METHODS: { name: string; torchKey?: string; peerKey?: string; goal?: number; slow?: boolean; options?: Record<string, number | string | number[]> }[] = [
  { name: 'gradcam', torchKey: 'GradCAM_s', peerKey: 'GradCAM', goal: 1 },
  { name: 'gradcam++', torchKey: 'GradCAMPlusPlus_s' },
  { name: 'xgradcam', torchKey: 'XGradCAM_s' },
  { name: 'hirescam', torchKey: 'HiResCAM_s' },
  { name: 'layercam', torchKey: 'LayerCAM_s' },
  { name: 'eigencam', torchKey: 'EigenCAM_s' },
  { name: 'scorecam', torchKey: 'ScoreCAM_s', peerKey: 'ScoreCAM', goal: 3, slow: true },
  { name: 'ablationcam', torchKey: 'AblationCAM_s', peerKey: 'AblationCAM', goal: 20, slow: true },
  { name: 'saliency' },
  { name: 'integrated-gradients', torchKey: 'IntegratedGradients_s', peerKey: 'IntegratedGradients', goal: 2, options: { steps: 32, method: 'riemann_trapezoid' } },
  { name: 'smoothgrad', peerKey: 'SmoothGrad', goal: 2, options: { samples: 25, stdev: 1 } },
  { name: 'occlusion', torchKey: 'Occlusion_s', peerKey: 'Occlusion', goal: 3, slow: true, options: { window: [3, 32, 32], strides: [3, 16, 16] } },
];

function pad(s: string | number, n: number): string {
  return String(s).padStart(n);
}

async function benchModel(c: ReferenceCase, results: Record<string, unknown>[]): Promise<void> {
  const model = ConvModel.load(path.join(REFERENCE_DIR, c.onnx), { provider: 'auto' });
  const input: Tensor = loadTensor(c, 'input');
  const feeds = { input };
  const torch = c.torch_cpu_seconds_2_threads;
  try {
    const runtime = await model.baseSession();
    const runForward = () => model.run(feeds);
    const { target, output } = await resolveTarget(model, input, { kind: 'class', index: c.target_class });
    const seed = seedFor(target, output.dims, 1);
    const request = { wrt: ['input', c.target_layer_tensor], seed };
    const peers: PeerRun = gradientOnly ? { note: 'not run (--gradient)' } : timePeers([c.model]);
    const peer = peers.times?.[c.model];
    const methods = gradientOnly ? [] : METHODS.filter((m) => (onlyMethods ? onlyMethods.includes(m.name) : !(m.slow && (quick || c.image !== 'chelsea'))));
    const methodPeerKeys = methods.map((m) => m.peerKey).filter((k): k is string => !!k && METHOD_PEER_COMPUTATIONS.includes(k));
    const methodPeers = methodPeerKeys.length > 0 ? timeMethodPeers(c.model, methodPeerKeys) : undefined;
    const live: Record<string, PeerTime> = { ...peer, ...methodPeers?.times };
    const { seconds: backward, forward } = await timeAgainstForward(() => computeGradients(model, feeds, request), runForward);
    // The forward pass back to back, no other session between: a forward pass much slower between
    // gradient runs means the sessions' threads contend (onnxruntime's spinning, session.ts).
    const alone: number[] = [];
    for (let i = 0; i < REPEATS; i++) alone.push(await seconds(runForward));
    const memory = gradientMemory(c);
    console.log(
      `\n${c.model} (${c.image}) on ${runtime.provider.toUpperCase()}: forward ${(forward * 1000).toFixed(1)} ms between gradient runs, ${(median(alone) * 1000).toFixed(1)} ms back to back (PyTorch ${(torch.forward_s * 1000).toFixed(1)} ms)`,
    );
    console.log(
      `  forward+backward ${(backward * 1000).toFixed(1)} ms = ${(backward / forward).toFixed(2)}× forward (goal ≤ 2.00×; PyTorch forward+backward ${((torch.forward_s + torch.backward_s) * 1000).toFixed(1)} ms recorded${peer ? `, ${(peer.forward_backward.seconds * 1000).toFixed(1)} ms = ${(peer.forward_backward.seconds / peer.forward.seconds).toFixed(2)}× its forward in this run` : ''})`,
    );
    if (!gradientOnly) console.log(`  peers: ${peers.note}${methodPeers ? `; ${methodPeers.note}` : ''}`);
    console.log(
      `  gradient session (fresh process, CPU): +${memory.gradientMiB.toFixed(0)} MiB resident after garbage collection over ${memory.forwardMiB.toFixed(0)} MiB with the forward session; peak ${memory.peakMiB.toFixed(0)} MiB`,
    );
    results.push({
      model: c.model,
      image: c.image,
      provider: runtime.provider,
      forward_s: forward,
      forward_back_to_back_s: median(alone),
      forward_backward_s: backward,
      backward_ratio: backward / forward,
      peers: peer,
      peers_note: peers.note,
      gradient_session_MiB: memory.gradientMiB,
      forward_session_rss_MiB: memory.forwardMiB,
      peak_rss_MiB: memory.peakMiB,
      torch_forward_s: torch.forward_s,
      torch_backward_s: torch.backward_s,
    });
    if (gradientOnly) return;
    console.log(
      `  ${'method'.padEnd(22)} ${pad('ms', 9)} ${pad('× forward', 10)} ${pad('PyTorch ms', 11)} ${pad('speed-up', 9)}${Object.keys(live).length > 0 ? `  ${pad('peer ms', 10)} ${pad('speed-up', 9)}  goal` : ''}`,
    );
    for (const m of methods) {
      const ctx = { model, input, target: { kind: 'class' as const, index: c.target_class }, layer: c.target_layer_tensor };
      const timed = await timeAgainstForward(() => explain(m.name, ctx, m.options ?? {}), runForward, m.slow ? 1 : REPEATS);
      const { seconds } = timed;
      const torchSeconds = m.torchKey ? torch[m.torchKey] : undefined;
      const peerTime = m.peerKey ? live[m.peerKey] : undefined;
      console.log(
        `  ${m.name.padEnd(22)} ${pad((seconds * 1000).toFixed(1), 9)} ${pad((seconds / timed.forward).toFixed(2), 10)} ${pad(torchSeconds ? (torchSeconds * 1000).toFixed(1) : '—', 11)} ${pad(torchSeconds ? `${(torchSeconds / seconds).toFixed(2)}×` : '—', 9)}${peerColumns(peerTime, seconds, m.goal)}`,
      );
      results.push({
        model: c.model,
        image: c.image,
        method: m.name,
        seconds,
        forward_s: timed.forward,
        forward_ratio: seconds / timed.forward,
        torch_seconds: torchSeconds,
        speedup_vs_torch: torchSeconds ? torchSeconds / seconds : undefined,
        peer_seconds: peerTime?.seconds,
        speedup_vs_peer: peerTime ? peerTime.seconds / seconds : undefined,
        goal: m.goal,
      });
    }
  } finally {
    await model.dispose();
  }
}

/** This run's peer time (its later calls) and our speed-up over it, next to the goal where there is one. */
function peerColumns(live: PeerTime | undefined, seconds: number, goal: number | undefined): string {
  if (!live) return '';
  return `  ${pad((live.seconds * 1000).toFixed(1), 10)} ${pad(`${(live.seconds / seconds).toFixed(2)}×`, 9)}  ${goal ? `≥ ${goal}×` : ''}`;
}

async function main(): Promise<void> {
  const results: Record<string, unknown>[] = [];
  console.log(
    `ConvLens benchmark (${quick ? 'quick' : 'full'}; medians of ${REPEATS} runs after a warm-up, × forward against forward passes timed alternately with them; PyTorch times recorded in the reference manifest on a machine like this one with 2 threads, and the peers (Captum, pytorch-grad-cam) timed in this run where Debian's PyTorch is installed)`,
  );
  const tunables = process.env.GLIBC_TUNABLES ?? '';
  console.log(
    `Memory: our processes ${hugePagesValue(process.env) === '1' ? "with glibc's transparent huge pages, as the CLI and the compute worker run" : 'without huge pages'} (GLIBC_TUNABLES=${tunables || 'unset'}); the peers ${PEERS_HUGE_PAGES ? 'with them too (--peers-huge-pages)' : 'without, as a user runs them (--peers-huge-pages: with)'}`,
  );
  if (!runs('models')) {
    // Only other parts asked for.
  } else if (referenceAvailable()) {
    const cases = loadManifest().cases.filter((x) => !onlyModels || onlyModels.includes(x.model));
    for (const c of quick || gradientOnly ? cases.filter((x) => x.image === 'chelsea') : cases) await benchModel(c, results);
  } else {
    console.log(`reference data not found at ${REFERENCE_DIR}: model and method benchmarks skipped`);
  }
  if (gradientOnly) return writeResults(results);
  if (runs('dataset')) results.push(...(await benchDataset(quick)));
  if (runs('dataset-map')) results.push(...(await benchDatasetMap(quick)));
  if (runs('responsiveness')) results.push(...(await benchResponsiveness(quick)));
  if (runs('numerics')) results.push(...(await benchNumerics(quick)));
  if (runs('graph-layout')) results.push(...(await benchGraphLayout(quick)));
  if (runs('first-call')) results.push(...(await benchFirstCalls(quick, onlyMethods ?? [])));
  if (runs('architectures')) results.push(...(await benchArchitectures(architectures ?? DEFAULT_ARCHITECTURES)));
  writeResults(results);
}

function writeResults(results: Record<string, unknown>[]): void {
  fs.mkdirSync('bench-results', { recursive: true });
  const file = path.join('bench-results', `bench-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  fs.writeFileSync(file, JSON.stringify(results, null, 2));
  console.log(`\nresults written to ${file}`);
}

// The bench runs as the CLI and the compute worker do, its child processes included.
relaunchWithHugePages()
  .then((code) => (code === undefined ? main() : void (process.exitCode = code)))
  .catch((err) => {
    console.error(`bench failed: ${(err as Error).stack}`);
    process.exitCode = 1;
  });
