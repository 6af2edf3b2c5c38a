// Peer times measured in the same benchmark run: bench/peers.py times Captum (IntegratedGradients,
// NoiseTunnel smoothgrad) and a plain PyTorch forward and forward+backward, and
// bench/peers-methods.py pytorch-grad-cam's GradCAM, ScoreCAM and AblationCAM and Captum's
// Occlusion, under Debian's PyTorch, 2 threads, on the torchvision architectures of the reference
// models. Without PyTorch or the peers' sources the benchmark falls back to the reference
// manifest's recorded times, and says so.
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

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

export function timePeers(models: string[]): PeerRun {
  if (!fs.existsSync(path.join(PEERS_DIR, 'captum'))) return { note: `peers not found at ${PEERS_DIR}: recorded PyTorch times only` };
  try {
    execFileSync(PYTHON, ['-c', 'import torch, torchvision'], { stdio: 'ignore' });
  } catch {
    return { note: `Debian's PyTorch (${PYTHON} with torch and torchvision) is not installed: recorded PyTorch times only` };
  }
  const out = execFileSync(PYTHON, [SCRIPT, ...models], { encoding: 'utf8', env: { ...process.env, PYTHONPATH: PEERS_DIR }, maxBuffer: 1 << 20 });
  const parsed = JSON.parse(out) as Record<string, unknown> & { torch: string; threads: number };
  const times: Record<string, Record<string, PeerTime>> = {};
  for (const model of models) times[model] = parsed[model] as Record<string, PeerTime>;
  return { times, note: `Captum and PyTorch ${parsed.torch} timed in this run, ${parsed.threads} threads (first calls timed apart)` };
}

/**
 * pytorch-grad-cam's and Captum's perturbation and CAM methods on `model` (computations: GradCAM,
 * ScoreCAM, AblationCAM, Occlusion), each timed on its first call and later ones.
 */
export function timeMethodPeers(model: string, computations: string[]): { times?: Record<string, PeerTime>; note: string } {
  if (!fs.existsSync(path.join(PEERS_DIR, 'pytorch_grad_cam'))) return { note: `peers not found at ${PEERS_DIR}` };
  try {
    execFileSync(PYTHON, ['-c', 'import torch, torchvision, captum'], { stdio: 'ignore', env: { ...process.env, PYTHONPATH: PEERS_DIR } });
  } catch {
    return { note: `Debian's PyTorch (${PYTHON} with torch, torchvision and the peers' dependencies) is not installed` };
  }
  const out = execFileSync(PYTHON, [METHODS_SCRIPT, model, ...computations], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
    env: { ...process.env, PYTHONPATH: PEERS_DIR },
    maxBuffer: 1 << 20,
  });
  const parsed = JSON.parse(out) as Record<string, unknown> & { torch: string; threads: number };
  return { times: parsed[model] as Record<string, PeerTime>, note: `pytorch-grad-cam and Captum under PyTorch ${parsed.torch}, ${parsed.threads} threads, timed in this run` };
}
