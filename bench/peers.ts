// Peer times measured in the same benchmark run: bench/peers.py times Captum (IntegratedGradients,
// NoiseTunnel smoothgrad) and a plain PyTorch forward and forward+backward, and
// bench/peers-methods.py pytorch-grad-cam's GradCAM, ScoreCAM and AblationCAM and Captum's
// Occlusion, under Debian's PyTorch, 2 threads, on the torchvision architectures of the reference
// models. Without PyTorch or the peers' sources the benchmark falls back to the reference
// manifest's recorded times, and says so. The peers run as a user runs them, without the huge pages
// our processes give themselves (src/core/onnx/huge-pages.ts); `--peers-huge-pages` gives them the same.
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { withoutHugePages } from '../src/core/onnx/huge-pages';

export interface PeerTime {
  /** The first call, timed apart. */
  first_s: number;
  /** Median of the later calls. */
  seconds: number;
}

export interface PeerRun {
  /** model → computation (forward, forward_backward, IntegratedGradients, SmoothGrad) → time; undefined when not run. */
  times?: Record<string, Record<string, PeerTime>>;
  /** Which PyTorch ran them, or why they did not run. */
  note: string;
}

const PYTHON = '/usr/bin/python3';
const PEERS_DIR = process.env.CONVLENS_PEERS ?? path.resolve(__dirname, '../../../shared/peers');
const SCRIPT = path.resolve(__dirname, '../../bench/peers.py');
const METHODS_SCRIPT = path.resolve(__dirname, '../../bench/peers-methods.py');

/** What bench/peers-methods.py times (the rest of the peers are bench/peers.py's). */
export const METHOD_PEER_COMPUTATIONS = ['GradCAM', 'ScoreCAM', 'AblationCAM', 'Occlusion'];

/**
 * onnxruntime's environment (its native library's global state, which onnxruntime-node makes inside
 * the first session's creation in a process: `initOrt`), started on its own. A peer's process has
 * imported torch before its first call is timed, so a first call of ours is timed after this:
 * each side's runtime start stays outside its first call.
 */
export function startRuntime(): void {
  (require('onnxruntime-node/dist/binding') as { initOrt: () => void }).initOrt();
}

/** Whether the peers run with glibc's huge pages, as our processes do (`--peers-huge-pages`). */
export const PEERS_HUGE_PAGES = process.argv.includes('--peers-huge-pages');

/** The environment of the peers' processes: ../shared/peers on PYTHONPATH; glibc's huge-page tunable left out unless PEERS_HUGE_PAGES. */
function peersEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, PYTHONPATH: PEERS_DIR };
  return PEERS_HUGE_PAGES ? env : withoutHugePages(env);
}

/**
 * Runs a peers script under Debian's PyTorch with ../shared/peers on PYTHONPATH and parses its
 * JSON; or says why it cannot run (no peers' sources, or PyTorch or their dependencies missing).
 */
export function runPeerScript(
  script: string,
  args: string[],
  needs: { folder: string; modules: string },
): { parsed: Record<string, unknown> & { torch: string; threads: number } } | { note: string } {
  if (!fs.existsSync(path.join(PEERS_DIR, needs.folder))) return { note: `peers not found at ${PEERS_DIR}` };
  const env = peersEnv();
  try {
    execFileSync(PYTHON, ['-c', `import ${needs.modules}`], { stdio: 'ignore', env });
  } catch {
    return { note: `Debian's PyTorch (${PYTHON} with ${needs.modules.split(', ').join(', ')} and the peers' dependencies) is not installed` };
  }
  const out = execFileSync(PYTHON, [script, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], env, maxBuffer: 1 << 20 });
  return { parsed: JSON.parse(out) as Record<string, unknown> & { torch: string; threads: number } };
}

export function timePeers(models: string[]): PeerRun {
  const run = runPeerScript(SCRIPT, models, { folder: 'captum', modules: 'torch, torchvision' });
  if ('note' in run) return { note: `${run.note}: recorded PyTorch times only` };
  const times: Record<string, Record<string, PeerTime>> = {};
  for (const model of models) times[model] = run.parsed[model] as Record<string, PeerTime>;
  return { times, note: `Captum and PyTorch ${run.parsed.torch} timed in this run, ${run.parsed.threads} threads (first calls timed apart)` };
}

/**
 * pytorch-grad-cam's and Captum's perturbation and CAM methods on `model` (computations: some of
 * METHOD_PEER_COMPUTATIONS), each timed on its first call and later ones.
 */
export function timeMethodPeers(model: string, computations: string[]): { times?: Record<string, PeerTime>; note: string } {
  const run = runPeerScript(METHODS_SCRIPT, [model, ...computations], { folder: 'pytorch_grad_cam', modules: 'torch, torchvision, captum' });
  if ('note' in run) return run;
  return {
    times: run.parsed[model] as Record<string, PeerTime>,
    note: `pytorch-grad-cam and Captum under PyTorch ${run.parsed.torch}, ${run.parsed.threads} threads, timed in this run`,
  };
}
