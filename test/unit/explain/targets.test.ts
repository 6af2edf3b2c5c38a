// Targets (src/core/explain/target.ts): each kind's backward seed is the gradient of its score
// (central differences, on hand-made output rows and through small models in batches, where
// non-linear seeds differ per row); detection decoding and NMS on hand-made heads; the
// command-line forms and their one-sentence errors; every method explains every kind of target.
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { decodeDetections, detectionHead, intersectionOverUnion, nonMaxSuppression } from '../../../src/core/detection';
import { explain, methodByName, methodNames } from '../../../src/core/explain';
import { gradientsFor } from '../../../src/core/explain/gradients';
import { TargetFiles, parseTarget, planTarget, readMaskFile, resolveTarget, seedFor, targetScores } from '../../../src/core/explain/target';
import { ExplainContext, ResolvedTarget, Target } from '../../../src/core/explain/types';
import { encodePng } from '../../../src/core/image/overlay';
import { ConvModel } from '../../../src/core/model';
import { formatNpy } from '../../../src/core/npy';
import { Tensor, float32 } from '../../../src/core/tensor';
import { buildModel, ints, node, randomTensor } from './tiny-models';

/** Central difference of the target's score along each element of `row` (float64 arithmetic on a float32 row). */
function scoreDifferences(target: ResolvedTarget, dims: number[], row: Float32Array, h: number): Float64Array {
  const fd = new Float64Array(row.length);
  for (let i = 0; i < row.length; i++) {
    const pair = new Float32Array(2 * row.length);
    pair.set(row, 0);
    pair.set(row, row.length);
    pair[i] += h;
    pair[row.length + i] -= h;
    const [up, down] = targetScores(float32([2, ...dims.slice(1)], pair), target);
    fd[i] = (up - down) / (pair[i] - pair[row.length + i]);
  }
  return fd;
}

const yoloHead = { layout: 'yolo' as const, boxes: 3, classes: 2, sigmoid: true };
const detected = { anchor: 1, class: 1, score: 0, box: [0, 0, 1, 1] as [number, number, number, number] };

const ROW_CASES: { name: string; dims: number[]; target: ResolvedTarget }[] = [
  { name: 'class', dims: [1, 5], target: { kind: 'class', index: 2, output: 'o' } },
  { name: 'difference', dims: [1, 5], target: { kind: 'difference', a: 1, b: 3, output: 'o' } },
  { name: 'probability', dims: [1, 5], target: { kind: 'probability', index: 2, output: 'o' } },
  { name: 'region', dims: [1, 3, 2, 2], target: { kind: 'region', class: 1, mask: float32([2, 2], [1, 0, 0.5, 1]), predicted: false, output: 'o' } },
  { name: 'box, YOLO logits (σ(obj) · σ(cls))', dims: [1, 3, 7], target: { kind: 'box', index: 0, detected, head: yoloHead, output: 'o' } },
  { name: 'box, YOLO probabilities (obj · cls)', dims: [1, 3, 7], target: { kind: 'box', index: 0, detected, head: { ...yoloHead, sigmoid: false }, output: 'o' } },
  {
    name: 'box, separate scores (σ(score))',
    dims: [1, 3, 2],
    target: { kind: 'box', index: 0, detected, head: { layout: 'scores', boxes: 3, classes: 2, sigmoid: true }, output: 'o' },
  },
  { name: 'similarity', dims: [1, 5], target: { kind: 'similarity', reference: Float32Array.from([0.3, -1, 0.5, 2, 0.1]), output: 'o' } },
  { name: 'element', dims: [1, 2, 3], target: { kind: 'element', index: [1, 2], flat: 5, output: 'o' } },
];

describe('targets: the seed of each kind is the gradient of its score', () => {
  for (const c of ROW_CASES) {
    it(`${c.name}: seed within 1e-3 × max|seed| + 1e-4 of central differences (h = 1e-2) on a row`, () => {
      const row = randomTensor(c.dims, 7).data;
      const seed = seedFor(c.target, c.dims, 1, float32(c.dims, row)).data as Float32Array;
      // Float32 rows: the step is exact in float32, the difference rounds at 1e-7 / h ≈ 1e-5; curvature adds O(h²).
      const fd = scoreDifferences(c.target, c.dims, row, 1e-2);
      const scale = seed.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      assert.ok(scale > 0, 'the seed is not zero');
      for (let i = 0; i < row.length; i++) assert.ok(Math.abs(seed[i] - fd[i]) <= 1e-3 * scale + 1e-4, `element ${i}: seed ${seed[i]}, central difference ${fd[i]}`);
    });
  }
});

/** Conv 3×3 (pad 1) → Tanh → Conv 1×1: a smooth map [N, 3, 6, 6] → [N, classes, 6, 6]. */
function segmenter(classes = 3): ConvModel {
  return buildModel({
    nodes: [
      node('Conv', ['input', 'w1', 'b1'], ['conv1'], [ints('kernel_shape', [3, 3]), ints('pads', [1, 1, 1, 1])]),
      node('Tanh', ['conv1'], ['features']),
      node('Conv', ['features', 'w2', 'b2'], ['logits'], [ints('kernel_shape', [1, 1])]),
    ],
    initializers: { w1: randomTensor([4, 3, 3, 3], 1, 0.5), b1: randomTensor([4], 2, 0.1), w2: randomTensor([classes, 4, 1, 1], 3), b2: randomTensor([classes], 4, 0.1) },
    input: ['N', 3, 6, 6],
    output: ['N', classes, 6, 6],
  });
}

/** The segmenter's features pooled and projected: [N, 3, 6, 6] → [N, 5] (a classifier or an embedding). */
function classifier(): ConvModel {
  return buildModel({
    nodes: [
      node('Conv', ['input', 'w1', 'b1'], ['conv1'], [ints('kernel_shape', [3, 3]), ints('pads', [1, 1, 1, 1])]),
      node('Tanh', ['conv1'], ['features']),
      node('GlobalAveragePool', ['features'], ['pooled']),
      node('Flatten', ['pooled'], ['flat']),
      node('Gemm', ['flat', 'W', 'b'], ['logits'], [{ name: 'transB', type: 2, i: 1 }]),
    ],
    initializers: { w1: randomTensor([4, 3, 3, 3], 5, 0.5), b1: randomTensor([4], 6, 0.1), W: randomTensor([5, 4], 7, 2), b: randomTensor([5], 8, 0.1) },
    input: ['N', 3, 6, 6],
    output: ['N', 5],
  });
}

/** A YOLO-style raw head: Conv 1×1 to 4 + 1 + 2 channels per position, as [N, 36 boxes, 7]. */
function yoloModel(): ConvModel {
  const shape: Tensor = { dtype: 'int64', dims: [3], data: BigInt64Array.from([0n, 7n, 36n]) };
  return buildModel({
    nodes: [
      node('Conv', ['input', 'w1', 'b1'], ['conv1'], [ints('kernel_shape', [3, 3]), ints('pads', [1, 1, 1, 1])]),
      node('Tanh', ['conv1'], ['features']),
      node('Conv', ['features', 'w2', 'b2'], ['head'], [ints('kernel_shape', [1, 1])]),
      node('Reshape', ['head', 'shape'], ['flat']),
      node('Transpose', ['flat'], ['logits'], [ints('perm', [0, 2, 1])]),
    ],
    initializers: { w1: randomTensor([4, 3, 3, 3], 9, 0.5), b1: randomTensor([4], 10, 0.1), w2: randomTensor([7, 4, 1, 1], 11, 2), b2: randomTensor([7], 12, 0.5), shape },
    input: ['N', 3, 6, 6],
    output: ['N', 36, 7],
  });
}

const MODEL_CASES: { name: string; model: () => ConvModel; target: Target }[] = [
  { name: 'region (linear seed)', model: segmenter, target: { kind: 'region', class: 1, mask: 'predicted' } },
  { name: 'probability', model: classifier, target: { kind: 'probability', index: 3 } },
  { name: 'similarity', model: classifier, target: { kind: 'similarity', reference: Float32Array.from([1, -0.5, 0.2, 0.7, -1]) } },
  { name: 'box, YOLO logits', model: yoloModel, target: { kind: 'box', index: 0, detection: { sigmoid: true, minScore: 0 } } },
  { name: 'element', model: classifier, target: { kind: 'element', index: [4] } },
];

describe('targets: gradients through small models, one batch of different inputs', () => {
  for (const c of MODEL_CASES) {
    it(`${c.name}: each row's ∂score/∂input · v within 2e-3 × |g||v| of central differences of the score (ε = 1e-2)`, async () => {
      const model = c.model();
      try {
        const input = randomTensor([1, 3, 6, 6], 20);
        const ctx: ExplainContext = { model, input, target: c.target };
        const plan = await planTarget(model, input, c.target);
        const rows = 3;
        const batch = randomTensor([rows, 3, 6, 6], 21);
        const { gradients } = await gradientsFor(ctx, plan, batch, ['input']);
        const g = gradients.input.data as Float32Array;
        const v = randomTensor([1, 3, 6, 6], 22).data;
        const size = v.length;
        const eps = 1e-2;
        const shifted = float32([2 * rows, 3, 6, 6]);
        for (let r = 0; r < rows; r++) {
          for (let i = 0; i < size; i++) {
            shifted.data[2 * r * size + i] = batch.data[r * size + i] + eps * v[i];
            shifted.data[(2 * r + 1) * size + i] = batch.data[r * size + i] - eps * v[i];
          }
        }
        const resolved = plan.target.kind === 'top' ? assert.fail('planned') : plan.target;
        const scores = targetScores((await model.run({ input: shifted }))[resolved.output], resolved);
        for (let r = 0; r < rows; r++) {
          const gr = g.subarray(r * size, (r + 1) * size);
          const directional = gr.reduce((s, x, i) => s + x * v[i], 0);
          const fd = (scores[2 * r] - scores[2 * r + 1]) / (2 * eps);
          const scale = Math.hypot(...gr) * Math.hypot(...v);
          assert.ok(scale > 0, `row ${r}: the gradient is not zero`);
          assert.ok(Math.abs(directional - fd) <= 2e-3 * scale, `row ${r}: g·v = ${directional}, central difference ${fd}`);
        }
      } finally {
        await model.dispose();
      }
    });
  }
});

/**
 * An SSD-style head with separate outputs: 'boxes' [N, 36, 4] (x1, y1, x2, y2 around each of the
 * 6×6 positions, size from two channels) and 'scores' [N, 36, 2] (logits).
 */
function ssdModel(): ConvModel {
  const shape = (c: bigint): Tensor => ({ dtype: 'int64', dims: [3], data: BigInt64Array.from([0n, c, 36n]) });
  return buildModel({
    nodes: [
      node('Conv', ['input', 'w1', 'b1'], ['conv1'], [ints('kernel_shape', [3, 3]), ints('pads', [1, 1, 1, 1])]),
      node('Tanh', ['conv1'], ['features']),
      node('Conv', ['features', 'wb', 'bb'], ['box_map'], [ints('kernel_shape', [1, 1])]),
      node('Reshape', ['box_map', 'shape4'], ['box_flat']),
      node('Transpose', ['box_flat'], ['boxes'], [ints('perm', [0, 2, 1])]),
      node('Conv', ['features', 'ws', 'bs'], ['score_map'], [ints('kernel_shape', [1, 1])]),
      node('Reshape', ['score_map', 'shape2'], ['score_flat']),
      node('Transpose', ['score_flat'], ['scores'], [ints('perm', [0, 2, 1])]),
    ],
    initializers: {
      w1: randomTensor([4, 3, 3, 3], 13, 0.5),
      b1: randomTensor([4], 14, 0.1),
      wb: randomTensor([4, 4, 1, 1], 15, 4),
      bb: float32([4], [0, 0, 8, 8]),
      ws: randomTensor([2, 4, 1, 1], 16, 2),
      bs: randomTensor([2], 17, 0.5),
      shape4: shape(4n),
      shape2: shape(2n),
    },
    input: ['N', 3, 6, 6],
    outputs: { boxes: ['N', 36, 4], scores: ['N', 36, 2] },
  });
}

describe('detection: decoding and non-maximum suppression', () => {
  // Three YOLO candidates (cx, cy, w, h, obj, cls0, cls1): 0 and 1 overlap (IoU 80 / 120 = 2/3) with class 1, 2 is apart with class 0.
  const row = Float32Array.from([10, 10, 10, 10, 0.9, 0.1, 0.8, 12, 10, 10, 10, 0.8, 0.2, 0.7, 40, 40, 8, 8, 0.6, 0.9, 0.1]);
  const head = detectionHead([1, 3, 7], undefined, false);

  it('reads the layout from the dims and names a wrong one in a sentence', () => {
    assert.deepStrictEqual(head, { layout: 'yolo', boxes: 3, classes: 2, sigmoid: false });
    assert.match(String(detectionHead([1, 3, 4], undefined, false)), /YOLO-style detection output is \[N, boxes, 4 \+ 1 \+ classes\]; got \[1, 3, 4\]/);
    assert.deepStrictEqual(detectionHead([1, 3, 2], [1, 3, 4], true), { layout: 'scores', boxes: 3, classes: 2, sigmoid: true });
    assert.match(String(detectionHead([1, 3, 2], [1, 4, 4], false)), /separate detection outputs/);
  });

  it('scores obj × best class, boxes as corners, and drops those under the score threshold', () => {
    if (typeof head === 'string') assert.fail(head);
    const found = decodeDetections(row, head, 0.5);
    assert.deepStrictEqual(
      found.map((d) => [d.anchor, d.class]),
      [
        [0, 1],
        [1, 1],
        [2, 0],
      ],
    );
    assert.ok(Math.abs(found[0].score - 0.72) < 1e-6 && Math.abs(found[1].score - 0.56) < 1e-6 && Math.abs(found[2].score - 0.54) < 1e-6);
    assert.deepStrictEqual(found[2].box, [36, 36, 44, 44]);
    assert.deepStrictEqual(
      decodeDetections(row, head, 0.55).map((d) => d.anchor),
      [0, 1],
    );
  });

  it('IoU of hand-computed boxes', () => {
    assert.strictEqual(intersectionOverUnion([0, 0, 10, 10], [5, 0, 15, 10]), 50 / 150);
    assert.strictEqual(intersectionOverUnion([0, 0, 10, 10], [10, 0, 20, 10]), 0);
  });

  it('NMS per class: an overlapping box of the same class above the IoU threshold goes, another class stays', () => {
    if (typeof head === 'string') assert.fail(head);
    const found = decodeDetections(row, head, 0);
    assert.deepStrictEqual(
      nonMaxSuppression(found, 0.5).map((d) => d.anchor),
      [0, 2],
    );
    assert.deepStrictEqual(
      nonMaxSuppression(found, 0.7).map((d) => d.anchor),
      [0, 1, 2],
      'IoU 2/3 is under 0.7',
    );
    const otherClass = found.map((d) => (d.anchor === 1 ? { ...d, class: 0 } : d));
    assert.deepStrictEqual(
      nonMaxSuppression(otherClass, 0.5).map((d) => d.anchor),
      [0, 1, 2],
    );
  });

  it('separate boxes and scores outputs: the boxes are read as (x1, y1, x2, y2)', () => {
    const scores = Float32Array.from([0.2, 0.7, 0.9, 0.1]);
    const boxes = Float32Array.from([0, 0, 4, 4, 10, 10, 20, 30]);
    const h = detectionHead([1, 2, 2], [1, 2, 4], false);
    if (typeof h === 'string') assert.fail(h);
    const found = nonMaxSuppression(decodeDetections(scores, h, 0.25, boxes), 0.45);
    assert.deepStrictEqual(
      found.map((d) => [d.anchor, d.class, d.box]),
      [
        [1, 0, [10, 10, 20, 30]],
        [0, 1, [0, 0, 4, 4]],
      ],
    );
  });

  it('separate outputs: the box target scores the scores output, its boxes read from the boxes output, the gradient matches central differences', async () => {
    const model = ssdModel();
    try {
      const input = randomTensor([1, 3, 6, 6], 20);
      const target: Target = { kind: 'box', index: 0, output: 'scores', detection: { boxes: 'boxes', sigmoid: true, minScore: 0, iou: 0.3 } };
      const { target: resolved, output } = await resolveTarget(model, input, target);
      assert.ok(resolved.kind === 'box' && resolved.head.layout === 'scores');
      const outputs = await model.run({ input });
      const at = resolved.detected.anchor * 4;
      assert.deepStrictEqual(resolved.detected.box, Array.from((outputs.boxes.data as Float32Array).subarray(at, at + 4)));
      assert.ok(Math.abs(targetScores(output, resolved)[0] - resolved.detected.score) < 1e-6);
      const ctx: ExplainContext = { model, input, target };
      const g = (await gradientsFor(ctx, await planTarget(model, input, target), input, ['input'])).gradients.input.data as Float32Array;
      const v = randomTensor([1, 3, 6, 6], 22).data;
      const eps = 1e-2;
      const shifted = float32([2, 3, 6, 6], [...input.data.map((x, i) => x + eps * v[i]), ...input.data.map((x, i) => x - eps * v[i])] as number[]);
      const [up, down] = targetScores((await model.run({ input: shifted })).scores, resolved);
      const directional = g.reduce((s, x, i) => s + x * v[i], 0);
      assert.ok(
        Math.abs(directional - (up - down) / (2 * eps)) <= 2e-3 * Math.hypot(...g) * Math.hypot(...v),
        `g·v = ${directional}, central difference ${(up - down) / (2 * eps)}`,
      );
      await assert.rejects(
        resolveTarget(model, input, { ...target, detection: { boxes: 'scores' } }),
        /separate detection outputs must be boxes \[N, B, 4\] and scores \[N, B, C\]/,
      );
    } finally {
      await model.dispose();
    }
  });

  it('a box target is resolved to the chosen kept box; an index past them is refused with the range', async () => {
    const model = yoloModel();
    try {
      const input = randomTensor([1, 3, 6, 6], 20);
      const boxAt = async (index: number) => {
        const { target, output } = await resolveTarget(model, input, { kind: 'box', index, detection: { sigmoid: true, minScore: 0 } });
        return target.kind === 'box' ? { target, output } : assert.fail(target.kind);
      };
      const [first, second] = [await boxAt(0), await boxAt(1)];
      assert.ok(first.target.detected.score >= second.target.detected.score, 'boxes are numbered by decreasing score');
      assert.ok(Math.abs(targetScores(first.output, first.target)[0] - first.target.detected.score) < 1e-6, 'the target scores the chosen box');
      await assert.rejects(
        resolveTarget(model, input, { kind: 'box', index: 999, detection: { sigmoid: true, minScore: 0 } }),
        /^ExplainError: box 999 is out of range: \d+ boxes were detected \(0 to \d+\)$/,
      );
      await assert.rejects(resolveTarget(model, input, { kind: 'box', index: 0, detection: { sigmoid: true, minScore: 2 } }), /no box scores 2 or more/);
      await assert.rejects(resolveTarget(model, input, { kind: 'box', index: 0, detection: { iou: 1.5 } }), /^ExplainError: the NMS IoU threshold is between 0 and 1, got 1.5$/);
    } finally {
      await model.dispose();
    }
  });
});

describe('targets: command-line forms', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'convlens-targets-'));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const files: TargetFiles = {
    mask: (file) => readMaskFile(file),
    embedding: async () => Float32Array.from([1, 2, 3]),
  };

  it('reads each kind', async () => {
    assert.deepStrictEqual(await parseTarget(undefined, files), { kind: 'class', index: 'top', output: undefined });
    assert.deepStrictEqual(await parseTarget('7', files), { kind: 'class', index: 7, output: undefined });
    assert.deepStrictEqual(await parseTarget('class:7', files, { versus: '2', output: 'o' }), { kind: 'difference', a: 7, b: 2, output: 'o' });
    assert.deepStrictEqual(await parseTarget('prob:top', files), { kind: 'probability', index: 'top', output: undefined });
    assert.deepStrictEqual(await parseTarget('region:predicted,3', files), { kind: 'region', class: 3, mask: 'predicted', output: undefined });
    assert.deepStrictEqual(await parseTarget('box:2', files), { kind: 'box', index: 2, output: undefined });
    assert.deepStrictEqual(await parseTarget('similarity:ref.png', files), { kind: 'similarity', reference: Float32Array.from([1, 2, 3]), output: undefined });
    assert.deepStrictEqual(await parseTarget('output:value[]', files), { kind: 'element', index: [], output: 'value' });
    assert.deepStrictEqual(await parseTarget('output:boxes[0, 3]', files), { kind: 'element', index: [0, 3], output: 'boxes' });
  });

  it('reads a PNG mask (white is 1) and a .npy mask', async () => {
    const rgba = new Uint8Array(2 * 3 * 4).fill(255);
    rgba.fill(0, 0, 4);
    fs.writeFileSync(path.join(dir, 'mask.png'), encodePng(rgba, 3, 2));
    const target = await parseTarget(`region:${path.join(dir, 'mask.png')},1`, files);
    assert.ok(target.kind === 'region' && target.mask !== 'predicted');
    assert.deepStrictEqual(target.mask.dims, [2, 3]);
    assert.deepStrictEqual(Array.from(target.mask.data as Float32Array), [0, 1, 1, 1, 1, 1]);
    fs.writeFileSync(path.join(dir, 'mask.npy'), formatNpy(float32([1, 2, 2], [0, 0.5, 1, 1])));
    const fromNpy = await parseTarget(`region:${path.join(dir, 'mask.npy')},0`, files);
    assert.ok(fromNpy.kind === 'region' && fromNpy.mask !== 'predicted');
    assert.deepStrictEqual(
      [fromNpy.mask.dims, Array.from(fromNpy.mask.data as Float32Array)],
      [
        [2, 2],
        [0, 0.5, 1, 1],
      ],
    );
  });

  it('says in one sentence what is wrong', async () => {
    await assert.rejects(parseTarget('logit:3', files), /^ExplainError: unknown target kind 'logit'; --target takes class:K\|top \| prob:K\|top \| region:/);
    await assert.rejects(parseTarget('class:-1', files), /the class must be a non-negative integer, got '-1'/);
    await assert.rejects(parseTarget('region:mask.png', files), /a region target is region:MASK.png,K or region:predicted,K/);
    await assert.rejects(parseTarget(`region:${path.join(dir, 'absent.png')},1`, files), (err: Error) => /absent\.png/.test(err.message) && !err.message.includes('\n'));
    await assert.rejects(parseTarget('prob:2', files, { versus: '1' }), /--versus needs --target class:K/);
    const model = segmenter();
    try {
      const input = randomTensor([1, 3, 6, 6], 20);
      const plan = (target: Target) => planTarget(model, input, target);
      await assert.rejects(plan({ kind: 'region', class: 0, mask: float32([5, 5]) }), /^ExplainError: the mask is 5×5 but output 'logits' has 6×6 positions per class$/);
      await assert.rejects(plan({ kind: 'region', class: 3, mask: 'predicted' }), /class 3 is out of range: output 'logits' has 3 classes \(0 to 2\)/);
      await assert.rejects(plan({ kind: 'class', index: 200 }), /class 200 is out of range: output 'logits' has 108 scores per image \(0 to 107\)/);
      await assert.rejects(plan({ kind: 'element', index: [0, 6, 0] }), /index 6 is out of range for dimension 2 of output 'logits' \(0 to 5\)/);
      await assert.rejects(plan({ kind: 'element', index: [0] }), /needs 3 indices after the batch dimension, got 1/);
      await assert.rejects(plan({ kind: 'similarity', reference: new Float32Array(4) }), /the reference embedding has 4 values but output 'logits' has 108 per image/);
      await assert.rejects(
        plan({ kind: 'region', class: 0, mask: float32([6, 6], new Float32Array(36).fill(NaN)) }),
        /^ExplainError: the mask has values that are not finite numbers$/,
      );
      await assert.rejects(plan({ kind: 'box', index: 0 }), /YOLO-style detection output/);
    } finally {
      await model.dispose();
    }
  });
});

/** Small values of the options that set a method's amount of work, where it has them. */
const QUICK: Record<string, number> = { steps: 4, samples: 8, masks: 16, batch: 8, segments: 8 };

describe('targets: every method explains every kind of target', function () {
  const cases: { name: string; model: () => ConvModel; layer: string; target: Target }[] = [
    { name: 'region (predicted mask)', model: segmenter, layer: 'features', target: { kind: 'region', class: 1, mask: 'predicted' } },
    { name: 'probability', model: classifier, layer: 'features', target: { kind: 'probability', index: 'top' } },
    { name: 'similarity', model: classifier, layer: 'features', target: { kind: 'similarity', reference: Float32Array.from([1, -0.5, 0.2, 0.7, -1]) } },
    { name: 'box', model: yoloModel, layer: 'features', target: { kind: 'box', index: 0, detection: { sigmoid: true, minScore: 0 } } },
    { name: 'element', model: classifier, layer: 'features', target: { kind: 'element', index: [2] } },
  ];
  for (const c of cases) {
    it(`${c.name}: a finite input-sized map from each method (CAM, which needs a class's row of a linear head, refuses in a sentence)`, async () => {
      const model = c.model();
      try {
        const input = randomTensor([1, 3, 6, 6], 20);
        for (const name of methodNames()) {
          const options = Object.fromEntries(
            methodByName(name)
              .options.filter((o) => o.name in QUICK)
              .map((o) => [o.name, QUICK[o.name]]),
          );
          const run = explain(name, { model, input, target: c.target, layer: c.layer }, options);
          if (name === 'cam') {
            // Without a GAP + linear head (the segmenter, the YOLO head) CAM says so first.
            await assert.rejects(
              run,
              /^ExplainError: (CAM weighs channels by the linear head's row of a class, which a \w+ target does not have|cam needs the layer to be followed by global average pooling)/,
            );
            continue;
          }
          const e = await run;
          assert.deepStrictEqual(e.map.dims, [6, 6], name);
          assert.strictEqual(e.target.kind, c.target.kind, name);
          assert.ok(e.notes.length > 0 && (e.map.data as Float32Array).every((v) => v >= 0 && v <= 1), name);
        }
      } finally {
        await model.dispose();
      }
    });
  }
});

describe('targets: a similarity reference must have a direction', () => {
  it('a similarity target refuses a zero or non-finite reference embedding', async () => {
    const model = classifier();
    try {
      const input = randomTensor([1, 3, 6, 6], 20);
      await assert.rejects(
        planTarget(model, input, { kind: 'similarity', reference: new Float32Array(5) }),
        /^ExplainError: the reference embedding is zero: a cosine to it is undefined$/,
      );
      await assert.rejects(planTarget(model, input, { kind: 'similarity', reference: new Float32Array(5).fill(Infinity) }), /not finite numbers$/);
    } finally {
      await model.dispose();
    }
  });
});
