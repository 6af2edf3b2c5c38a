// Access to ../shared/reference (ground truth from PyTorch, pytorch-grad-cam and Captum).
// When the folder is absent, suites that need it are skipped with a message saying so.
import * as fs from 'fs';
import * as path from 'path';
import { ExplainContext } from '../../src/core/explain/types';
import { ConvModel } from '../../src/core/model';
import { FloatTensor } from '../../src/core/tensor';

export const REFERENCE_DIR = process.env.CONVLENS_REFERENCE ?? path.resolve(__dirname, '../../../../shared/reference');

export interface ReferenceCase {
  model: string;
  onnx: string;
  image: string;
  dir: string;
  target_class: number;
  target_layer_tensor: string;
  tensors: Record<string, number[]>;
  torch_cpu_seconds_2_threads: Record<string, number>;
}

export interface ReferenceManifest {
  settings: Record<string, unknown> & { preprocess: { size: number[]; mean: number[]; std: number[] } };
  cases: ReferenceCase[];
}

export function referenceAvailable(): boolean {
  return fs.existsSync(path.join(REFERENCE_DIR, 'manifest.json'));
}

export function loadManifest(): ReferenceManifest {
  return JSON.parse(fs.readFileSync(path.join(REFERENCE_DIR, 'manifest.json'), 'utf8'));
}

export function modelPath(c: ReferenceCase): string {
  return path.join(REFERENCE_DIR, c.onnx);
}

export function loadTensor(c: ReferenceCase, name: string): FloatTensor {
  const bytes = fs.readFileSync(path.join(REFERENCE_DIR, c.dir, `${name}.f32`));
  const data = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  return { dtype: 'float32', dims: c.tensors[name], data };
}

/**
 * The model of a case (CPU), loaded on first use and shared by the calling suite's tests; the suite
 * disposes them when it ends. Call it in the suite's body.
 */
export function referenceModels(): (c: ReferenceCase) => ConvModel {
  const models = new Map<string, ConvModel>();
  after(async () => {
    for (const m of models.values()) await m.dispose();
  });
  return (c) => {
    const file = modelPath(c);
    if (!models.has(file)) models.set(file, ConvModel.load(file, { provider: 'cpu' }));
    return models.get(file)!;
  };
}

/** What an explanation of a case is asked for: its input, its target class and its target layer. */
export function referenceContext(model: ConvModel, c: ReferenceCase): ExplainContext {
  return { model, input: loadTensor(c, 'input'), target: { kind: 'class', index: c.target_class }, layer: c.target_layer_tensor };
}

/**
 * Declares a suite over the reference cases; when the folder is absent the suite is one skipped
 * test whose title says so (mocha prints it as pending), never a silent pass.
 */
export function describeReference(title: string, body: (manifest: ReferenceManifest) => void): void {
  describe(title, function () {
    if (!referenceAvailable()) {
      it(`SKIPPED: reference data not found at ${REFERENCE_DIR} (set CONVLENS_REFERENCE)`, function () {
        console.warn(`  ! ${title}: reference data absent at ${REFERENCE_DIR}; these checks did not run`);
        this.skip();
      });
      return;
    }
    body(loadManifest());
  });
}

/** max |a - b| ≤ rtol × max |b|, the tolerance the reference README states. */
export function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, rtol: number, what: string): void {
  if (actual.length !== expected.length) throw new Error(`${what}: ${actual.length} values, reference has ${expected.length}`);
  let maxDiff = 0;
  let maxRef = 0;
  for (let i = 0; i < expected.length; i++) {
    maxDiff = Math.max(maxDiff, Math.abs(actual[i] - expected[i]));
    maxRef = Math.max(maxRef, Math.abs(expected[i]));
  }
  if (!(maxDiff <= rtol * maxRef)) {
    throw new Error(`${what}: max abs difference ${maxDiff.toExponential(3)} exceeds ${rtol} × max|ref| = ${(rtol * maxRef).toExponential(3)}`);
  }
}

/** max |a - b| ≤ atol. */
export function assertAbsClose(actual: ArrayLike<number>, expected: ArrayLike<number>, atol: number, what: string): void {
  if (actual.length !== expected.length) throw new Error(`${what}: ${actual.length} values, reference has ${expected.length}`);
  let maxDiff = 0;
  for (let i = 0; i < expected.length; i++) maxDiff = Math.max(maxDiff, Math.abs(actual[i] - expected[i]));
  if (!(maxDiff <= atol)) throw new Error(`${what}: max abs difference ${maxDiff.toFixed(4)} exceeds ${atol}`);
}

/** The Grad-CAM family by ConvLens name and pytorch-grad-cam class (camraw_<Class>, cam_<Class>). */
export const GRADIENT_CAMS: [string, string][] = [
  ['gradcam', 'GradCAM'],
  ['gradcam++', 'GradCAMPlusPlus'],
  ['xgradcam', 'XGradCAM'],
  ['hirescam', 'HiResCAM'],
  ['layercam', 'LayerCAM'],
];

/** Median of |a − b| over the elements. */
export function medianAbsDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const d = Float64Array.from({ length: b.length }, (_, i) => Math.abs(a[i] - b[i])).sort();
  return d[d.length >> 1];
}
