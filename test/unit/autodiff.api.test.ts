// The gradient engine's API: unsupported ops, rule overrides, batches of seeds, other input sizes
// on the same gradient model, intermediate outputs, request errors, seeds.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { buildGradientModel } from '../../src/core/autodiff/build';
import { GradientRequestError, UnsupportedGradientError, checkGradientGraph, computeGradients, deconvRelu, guidedRelu, seedForClass } from '../../src/core/autodiff/gradients';
import { probeShapes } from '../../src/core/autodiff/shapes';
import { ConvModel } from '../../src/core/model';
import { parseNpy } from '../../src/core/npy';
import { encodeModel } from '../../src/core/onnx/proto';
import { UnknownTensorError } from '../../src/core/onnx/surgery';
import { createSession, run } from '../../src/core/onnx/session';
import { Tensor, argmax, maxAbs } from '../../src/core/tensor';
import { describeReference, modelPath } from '../support/reference';
import { attr, makeModel, node, separated, tensor, uniform, withSymbolicShapes } from './autodiff/harness';
import { linearModel, randomTensor } from './explain/tiny-models';

const MODELS = path.resolve(__dirname, '../../../test/models');

function modelOf(spec: Parameters<typeof makeModel>[0]): ConvModel {
  return ConvModel.fromBytes(encodeModel(makeModel(spec)), { provider: 'cpu' });
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < b.length; i++) m = Math.max(m, Math.abs(Number(a[i]) - Number(b[i])));
  return m;
}

const weights = { w: uniform([2, 2, 3, 3], 1), w2: uniform([2, 2, 3, 3], 2) };

describe('autodiff: unsupported ops', () => {
  const spec = {
    opset: 13,
    nodes: [node('Conv', ['x', 'w'], ['c'], [attr.ints('pads', [1, 1, 1, 1])]), { ...node('Sin', ['c'], ['y']), name: '/a/b/Sin' }],
    inputs: { x: uniform([1, 2, 4, 4], 3) },
    initializers: { w: weights.w },
    output: 'y',
  };

  it('is found by building the gradient graph alone (what opening a large model checks)', async () => {
    const model = modelOf(spec);
    try {
      await assert.rejects(checkGradientGraph(model, { wrt: ['x'] }), (err: unknown) => err instanceof UnsupportedGradientError && err.opType === 'Sin');
      await checkGradientGraph(model, { wrt: ['x'], output: 'c' });
    } finally {
      await model.dispose();
    }
  });

  it('names the op and the node, and leaves the forward model working', async () => {
    const model = modelOf(spec);
    try {
      await assert.rejects(computeGradients(model, spec.inputs, { wrt: ['x'], seed: uniform([1, 2, 4, 4], 4) }), (err: unknown) => {
        assert.ok(err instanceof UnsupportedGradientError);
        assert.strictEqual(err.message, "gradient of op 'Sin' (node /a/b/Sin) is not supported");
        assert.strictEqual(err.opType, 'Sin');
        assert.strictEqual(err.nodeName, '/a/b/Sin');
        return true;
      });
      const forward = await model.run(spec.inputs);
      assert.deepStrictEqual(forward.y.dims, [1, 2, 4, 4]);
      const upstream = await computeGradients(model, spec.inputs, { wrt: ['x'], output: 'c', seed: uniform([1, 2, 4, 4], 5) });
      assert.ok(maxAbs(upstream.gradients.x.data as Float32Array) > 0, 'a gradient that does not cross the op still works');
    } finally {
      await model.dispose();
    }
  });

  it('ignores ops off the differentiated path (shape computations, side branches)', async () => {
    const model = makeModel({
      opset: 13,
      nodes: [
        node('Shape', ['x'], ['s']),
        node('Cast', ['s'], ['sf'], [attr.int('to', 1)]),
        node('Sin', ['sf'], ['unused']),
        node('Relu', ['x'], ['r']),
        node('Reshape', ['r', 's'], ['y']),
      ],
      inputs: { x: separated([2, 3], 6) },
      output: 'y',
    });
    const built = buildGradientModel(model, { wrt: ['x'], shapes: await probeShapes(model, { x: separated([2, 3], 6) }) });
    assert.ok(built.gradients.x);
  });

  it('names a data-dependent weight instead of differentiating it', async () => {
    const model = makeModel({
      opset: 13,
      nodes: [node('Conv', ['x', 'x'], ['y'])],
      inputs: { x: uniform([2, 2, 3, 3], 7) },
      output: 'y',
    });
    const shapes = await probeShapes(model, { x: uniform([2, 2, 3, 3], 7) });
    assert.throws(
      () => buildGradientModel(model, { wrt: ['x'], shapes }),
      /gradient of op 'Conv' \(node \/test\/Conv_y\) is not supported: its input 'x' depends on the differentiated tensors/,
    );
  });
});

describe('autodiff: rule overrides (Guided Backpropagation, deconvnet)', () => {
  // y = w ⊙ relu(x): dy/d(relu out) = seed·w, so every rule's result is known in closed form.
  const x = tensor('float32', [1, 6], [-2, -1, 0.5, 1, 2, 3]);
  const w = tensor('float32', [6], [1, -1, 1, -1, 2, -2]);
  const seed = tensor('float32', [1, 6], [1, 1, 1, 1, 1, -1]);
  const spec = { opset: 13, nodes: [node('Relu', ['x'], ['r']), node('Mul', ['r', 'w'], ['y'])], inputs: { x }, initializers: { w }, output: 'y' };
  const upstream = Array.from(seed.data as Float32Array, (s, i) => s * (w.data as Float32Array)[i]);
  const positive = (i: number) => (x.data as Float32Array)[i] > 0;
  const expected = {
    plain: upstream.map((g, i) => (positive(i) ? g : 0)),
    guided: upstream.map((g, i) => (positive(i) ? Math.max(g, 0) : 0)),
    deconv: upstream.map((g) => Math.max(g, 0)),
  };

  it('swaps the ReLU rule; each rule set gets its own cached gradient model', async () => {
    const model = modelOf(spec);
    try {
      const grad = async (overrides?: Parameters<typeof computeGradients>[2]['overrides']) =>
        (await computeGradients(model, { x }, { wrt: ['x'], seed, overrides })).gradients.x.data as Float32Array;
      assert.strictEqual(maxDiff(await grad(), expected.plain), 0);
      assert.strictEqual(maxDiff(await grad({ Relu: guidedRelu }), expected.guided), 0);
      assert.strictEqual(maxDiff(await grad({ Relu: deconvRelu }), expected.deconv), 0);
      assert.strictEqual(maxDiff(await grad(), expected.plain), 0);
    } finally {
      await model.dispose();
    }
  });
});

describe('autodiff: batches of seeds', () => {
  const file = path.join(MODELS, 'effnet_like.onnx');
  const pinned = path.join(MODELS, 'misc_ops.onnx');
  const available = fs.existsSync(file) && fs.existsSync(pinned);

  function rows(t: Tensor, n: number, seedBase: number): Tensor {
    const one = t.data.length;
    const data = new Float32Array(one * n);
    for (let i = 0; i < n; i++) data.set(uniform(t.dims, seedBase + i, -2, 2).data as Float32Array, i * one);
    return { dtype: 'float32', dims: [n, ...t.dims.slice(1)], data };
  }

  async function checkRowsMatchSingleRuns(modelFile: string) {
    const model = ConvModel.load(modelFile, { provider: 'cpu' });
    try {
      const input = parseNpy(fs.readFileSync(modelFile.replace(/\.onnx$/, '.input.npy')));
      const batch = rows(input, 3, 10);
      const classes = [1, 4, 7];
      const batched = await computeGradients(model, { input: batch }, { wrt: ['input'], seed: seedForClass([3, 10], classes) });
      const perRow = input.data.length;
      for (let i = 0; i < 3; i++) {
        const one = { ...input, data: (batch.data as Float32Array).slice(i * perRow, (i + 1) * perRow) };
        const single = await computeGradients(model, { input: one }, { wrt: ['input'], seed: seedForClass([1, 10], classes[i]) });
        const row = (batched.gradients.input.data as Float32Array).slice(i * perRow, (i + 1) * perRow);
        assert.ok(maxDiff(row, single.gradients.input.data as Float32Array) <= 1e-5 * maxAbs(row), `row ${i}`);
        assert.ok(maxDiff((batched.outputs.logits.data as Float32Array).slice(i * 10, i * 10 + 10), single.outputs.logits.data as Float32Array) < 1e-4);
      }
    } finally {
      await model.dispose();
    }
  }

  it('one run with N inputs and N seed rows equals N single runs (dynamic batch)', function () {
    if (!available) this.skip();
    return checkRowsMatchSingleRuns(file);
  });

  it('a model whose batch is pinned by a Reshape to a constant shape runs batches with it freed, with the same results', async function () {
    if (!available) this.skip();
    const model = ConvModel.load(pinned, { provider: 'cpu' });
    try {
      assert.strictEqual(await model.supportsBatch(), true);
      assert.strictEqual(model.batchVariantKey(), 'dynamic+freed');
    } finally {
      await model.dispose();
    }
    return checkRowsMatchSingleRuns(pinned);
  });
});

describe("autodiff: 'top' seeds", () => {
  const weights = randomTensor([5, 2 * 4 * 4], 61);
  const batch = randomTensor([6, 2, 4, 4], 62, 3);
  for (const pinned of [false, true]) {
    it(`computed in the gradient run, equal the one-hot seed at each row's largest output${pinned ? ' (batch pinned: row by row)' : ''}`, async () => {
      const model = linearModel(weights, [2, 4, 4], { batch: pinned ? 'fixed' : 'dynamic' });
      try {
        const top = await computeGradients(model, { input: batch }, { wrt: ['input'], seed: 'top' });
        const logits = top.outputs.logits.data as Float32Array;
        const classes = Array.from({ length: 6 }, (_, i) => argmax(logits, i * 5, 5));
        assert.ok(new Set(classes).size > 1, `the rows should have different top classes to prove anything (${classes})`);
        const explicit = await computeGradients(model, { input: batch }, { wrt: ['input'], seed: seedForClass([6, 5], classes) });
        assert.strictEqual(maxDiff(top.gradients.input.data as Float32Array, explicit.gradients.input.data as Float32Array), 0);
      } finally {
        await model.dispose();
      }
    });
  }
});

describe('autodiff: other input sizes on the same gradient model', () => {
  const file = path.join(MODELS, 'effnet_like.onnx');

  it('built at 32×32 (probed shapes), run at 37×41: equals a gradient model built at 37×41', async function () {
    if (!fs.existsSync(file)) this.skip();
    const model = ConvModel.load(file, { provider: 'cpu' });
    try {
      const big = { input: uniform([1, 3, 37, 41], 11, -2, 2) };
      const seed = seedForClass([1, 10], 3);
      await computeGradients(model, { input: uniform([1, 3, 32, 32], 12) }, { wrt: ['input'], seed });
      const reused = await computeGradients(model, big, { wrt: ['input'], seed });
      const relaxed = withSymbolicShapes(model.proto);
      const fresh = buildGradientModel(relaxed, { wrt: ['input'], shapes: await probeShapes(relaxed, big) });
      const session = await createSession(encodeModel(fresh.model), 'cpu');
      const direct = (await run(session, { ...big, [fresh.seed]: seed }, [fresh.gradients.input]))[fresh.gradients.input];
      await session.session.release();
      assert.deepStrictEqual(reused.gradients.input.dims, [1, 3, 37, 41]);
      assert.ok(maxDiff(reused.gradients.input.data as Float32Array, direct.data as Float32Array) <= 1e-6 * maxAbs(direct.data as Float32Array));
    } finally {
      await model.dispose();
    }
  });
});

describeReference('autodiff: resnet18 at 160×160 on the gradient model built at 224×224', (manifest) => {
  const c = manifest.cases.find((k) => k.model === 'resnet18') as (typeof manifest.cases)[number];

  it('matches central differences of the logit along single input coordinates', async function () {
    this.timeout(300000);
    const model = ConvModel.load(modelPath(c), { provider: 'cpu' });
    try {
      const seed = seedForClass([1, 1000], c.target_class);
      await computeGradients(model, { input: uniform([1, 3, 224, 224], 13, -2, 2) }, { wrt: ['input'], seed });
      const x = uniform([1, 3, 160, 160], 14, -2, 2);
      const { gradients } = await computeGradients(model, { input: x }, { wrt: ['input'], seed });
      assert.deepStrictEqual(gradients.input.dims, [1, 3, 160, 160]);
      const g = gradients.input.data as Float32Array;
      // The coordinates with the largest gradients, where a central difference is well above float noise.
      const top = Array.from(g.keys())
        .sort((a, b) => Math.abs(g[b]) - Math.abs(g[a]))
        .slice(0, 6);
      // The model declares 224×224; a copy with symbolic dims gives the forward values at 160×160.
      const forward = await createSession(encodeModel(withSymbolicShapes(model.proto)), 'cpu');
      const logit = async (i: number, delta: number) => {
        const data = (x.data as Float32Array).slice();
        data[i] += delta;
        return (await run(forward, { input: { ...x, data } }, ['logits'])).logits.data[c.target_class] as number;
      };
      const step = 1e-2;
      try {
        for (const i of top) {
          const numeric = ((await logit(i, step)) - (await logit(i, -step))) / (2 * step);
          assert.ok(Math.abs(numeric - g[i]) <= 0.02 * Math.abs(g[i]), `input[${i}]: analytic ${g[i]}, numeric ${numeric}`);
        }
      } finally {
        await forward.session.release();
      }
    } finally {
      await model.dispose();
    }
  });
});

describe('autodiff: outputs, wrt and requests', () => {
  const spec = {
    opset: 13,
    nodes: [node('Conv', ['x', 'w'], ['c'], [attr.ints('pads', [1, 1, 1, 1])]), node('Relu', ['c'], ['r']), node('Conv', ['r', 'w2'], ['y'], [attr.ints('pads', [1, 1, 1, 1])])],
    inputs: { x: uniform([1, 2, 5, 5], 15) },
    initializers: weights,
    output: 'y',
  };

  it('returns the forward values of intermediate wrt tensors and of an intermediate output', async () => {
    const model = modelOf(spec);
    try {
      const seed = uniform([1, 2, 5, 5], 16);
      const { gradients, outputs } = await computeGradients(model, spec.inputs, { wrt: ['x', 'r'], output: 'c', seed });
      const forward = await model.run(spec.inputs, ['c', 'r']);
      assert.deepStrictEqual(Array.from(outputs.c.data as Float32Array), Array.from(forward.c.data as Float32Array));
      assert.deepStrictEqual(Array.from(outputs.x.data as Float32Array), Array.from(spec.inputs.x.data as Float32Array));
      assert.ok(outputs.y, 'the model outputs are returned too');
      assert.strictEqual(maxAbs(gradients.r.data as Float32Array), 0, "'r' lies after the output 'c': zero gradient");
      const same = await computeGradients(model, spec.inputs, { wrt: ['c'], output: 'c', seed });
      assert.deepStrictEqual(Array.from(same.gradients.c.data as Float32Array), Array.from(seed.data as Float32Array), 'the gradient of the output itself is the seed');
    } finally {
      await model.dispose();
    }
  });

  it('refuses unknown tensors with suggestions, integer tensors, seeds of the wrong shape, and opsets before 7', async () => {
    const model = modelOf(spec);
    try {
      const seed = uniform([1, 2, 5, 5], 17);
      await assert.rejects(
        computeGradients(model, spec.inputs, { wrt: ['rr'], seed }),
        (err: unknown) => err instanceof UnknownTensorError && /did you mean 'r'/.test(err.message),
      );
      await assert.rejects(
        computeGradients(model, spec.inputs, { wrt: ['x'], seed: uniform([2, 2, 5, 5], 18) }),
        (err: unknown) => err instanceof GradientRequestError && /2 rows but the input batch has 1/.test(err.message),
      );
      await assert.rejects(computeGradients(model, spec.inputs, { wrt: ['x'], seed: uniform([1, 50], 18) }), /has 2 dimensions|has 4 dimensions/);
      await assert.rejects(computeGradients(model, {}, { wrt: ['x'], seed }), /needs an input named 'x'/);
    } finally {
      await model.dispose();
    }
    const shaped = makeModel({ ...spec, nodes: [...spec.nodes, node('Shape', ['y'], ['s'])], output: 's', outputType: 'int64' });
    const shapes = await probeShapes(shaped, spec.inputs);
    assert.throws(() => buildGradientModel(shaped, { wrt: ['x'], output: 's', shapes }), /tensor 's' is not floating-point/);
    const old = { ...makeModel(spec), opset_import: [{ domain: '', version: 6 }] };
    assert.throws(() => buildGradientModel(old, { wrt: ['x'], shapes }), /need ONNX opset 11 or later, and opset 6 is too old to convert/);
  });

  it('seedForClass puts a one in each row', () => {
    assert.deepStrictEqual(Array.from(seedForClass([2, 3], 1).data as Float32Array), [0, 1, 0, 0, 1, 0]);
    assert.deepStrictEqual(Array.from(seedForClass([2, 3], [2, 0]).data as Float32Array), [0, 0, 1, 1, 0, 0]);
    assert.throws(() => seedForClass([2, 3], [1]), /1 class indices were given for 2 rows/);
    assert.throws(() => seedForClass([1, 3], 3), /class index 3 is outside \[0, 3\)/);
  });
});
