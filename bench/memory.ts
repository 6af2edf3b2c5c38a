// The memory a gradient (augmented) session adds, measured in a fresh child process per model, so
// models loaded and freed earlier in the benchmark cannot make the difference negative. The child
// loads the model and runs one forward pass, collects garbage and reads its resident set size
// (RSS); then it builds the gradient model for the input and the target layer, creates its session
// and runs it once, collects garbage and reads RSS again. The difference is what stays resident
// for the gradient model: its session (weights and the buffers of one run), the built model and
// the probed shapes. The child's peak RSS is reported too: it includes the transient shape probe.
import { execFileSync } from 'child_process';
import * as path from 'path';
import { computeGradients } from '../src/core/autodiff/gradients';
import { seedFor } from '../src/core/explain/target';
import { ConvModel } from '../src/core/model';
import { REFERENCE_DIR, ReferenceCase, loadTensor } from '../test/support/reference';

export interface GradientMemory {
  /** RSS after loading the model and one forward pass, MiB. */
  forwardMiB: number;
  /** RSS that the gradient session adds and keeps (after garbage collection), MiB. */
  gradientMiB: number;
  /** The child's peak RSS up to the end of the first gradient run (shape probe included), MiB. */
  peakMiB: number;
}

const MiB = 2 ** 20;

/** Runs the measurement for one reference case in a child process (node --expose-gc). */
export function gradientMemory(c: ReferenceCase): GradientMemory {
  const out = execFileSync(process.execPath, ['--expose-gc', __filename, JSON.stringify(c)], { encoding: 'utf8', env: process.env });
  return JSON.parse(out.trim().split('\n').pop() as string) as GradientMemory;
}

function settledRss(): number {
  (globalThis as { gc?: () => void }).gc?.();
  return process.memoryUsage().rss;
}

async function child(c: ReferenceCase): Promise<void> {
  const model = ConvModel.load(path.join(REFERENCE_DIR, c.onnx), { provider: 'cpu' });
  const input = loadTensor(c, 'input');
  const output = (await model.run({ input }))[model.summary().outputs[0].name];
  const before = settledRss();
  const seed = seedFor({ kind: 'class', index: c.target_class, output: model.summary().outputs[0].name }, output.dims, 1);
  await computeGradients(model, { input }, { wrt: ['input', c.target_layer_tensor], seed });
  const after = settledRss();
  const peak = process.resourceUsage().maxRSS * 1024;
  const result: GradientMemory = { forwardMiB: before / MiB, gradientMiB: (after - before) / MiB, peakMiB: peak / MiB };
  await model.dispose();
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

if (require.main === module) {
  child(JSON.parse(process.argv[2]) as ReferenceCase).catch((err) => {
    process.stderr.write(`${(err as Error).stack}\n`);
    process.exitCode = 1;
  });
}
