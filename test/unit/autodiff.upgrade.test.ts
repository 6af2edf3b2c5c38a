// Models of opsets 7–10 are converted to opset 11 before differentiation. The finite differences
// run the ORIGINAL model, so a conversion that changed what an op computes would fail here.
import * as assert from 'assert';
import { upgradeToOpset11 } from '../../src/core/autodiff/upgrade';
import { encodeModel } from '../../src/core/onnx/proto';
import { createSession, run } from '../../src/core/onnx/session';
import { Tensor } from '../../src/core/tensor';
import { attr, checkGradients, GraphSpec, makeModel, node, separated, tensor, uniform } from './autodiff/harness';

const floats = (values: number[]): Tensor => tensor('float32', [values.length], values);

async function sameForward(spec: GraphSpec): Promise<void> {
  const original = makeModel(spec);
  const outputs = await Promise.all(
    [original, upgradeToOpset11(original)].map(async (m) => {
      const session = await createSession(encodeModel(m), 'cpu');
      try {
        return (await run(session, spec.inputs, [spec.output]))[spec.output];
      } finally {
        await session.session.release();
      }
    }),
  );
  assert.deepStrictEqual(outputs[1].dims, outputs[0].dims);
  assert.deepStrictEqual(Array.from(outputs[1].data as Float32Array), Array.from(outputs[0].data as Float32Array));
}

async function check(spec: GraphSpec): Promise<void> {
  await sameForward(spec);
  await checkGradients(spec);
}

describe('autodiff: models of opsets 7 to 10', () => {
  it('Clip with min/max attributes (ReLU6 at opset 9) and with one bound', async () => {
    await check({ opset: 9, nodes: [node('Clip', ['x'], ['y'], [attr.float('min', 0), attr.float('max', 6)])], inputs: { x: separated([2, 3, 4], 1, 8) }, output: 'y' });
    await check({ opset: 10, nodes: [node('Clip', ['x'], ['y'], [attr.float('max', 0.5)])], inputs: { x: separated([2, 3, 4], 2) }, output: 'y' });
  });
  it('Pad and Slice with attributes (opset 9)', async () => {
    await check({
      opset: 9,
      nodes: [node('Pad', ['x'], ['y'], [attr.ints('pads', [0, 0, 1, 2, 0, 0, 2, 0]), attr.float('value', 0.5)])],
      inputs: { x: uniform([1, 2, 3, 4], 3) },
      output: 'y',
    });
    await check({
      opset: 9,
      nodes: [node('Slice', ['x'], ['y'], [attr.ints('starts', [1, -3]), attr.ints('ends', [3, 100]), attr.ints('axes', [1, 2])])],
      inputs: { x: uniform([2, 4, 5], 4) },
      output: 'y',
    });
  });
  it('Upsample (scales attribute at opset 7, input at opset 9) and Resize-10, nearest and linear', async () => {
    const x = uniform([1, 2, 3, 4], 5);
    await check({
      opset: 7,
      nodes: [node('Upsample', ['x'], ['y'], [attr.string('mode', 'nearest'), { name: 'scales', type: 6, floats: [1, 1, 2, 2] }])],
      inputs: { x },
      output: 'y',
    });
    for (const mode of ['nearest', 'linear']) {
      await check({
        opset: 9,
        nodes: [node('Upsample', ['x', 'scales'], ['y'], [attr.string('mode', mode)])],
        inputs: { x },
        initializers: { scales: floats([1, 1, 2, 3]) },
        output: 'y',
      });
      await check({
        opset: 10,
        nodes: [node('Resize', ['x', 'scales'], ['y'], [attr.string('mode', mode)])],
        inputs: { x },
        initializers: { scales: floats([1, 1, 2.5, 2]) },
        output: 'y',
      });
    }
  });
  it('BatchNormalization with spatial=1 (opset 7) and TopK with a k attribute off the differentiated path', async () => {
    await check({
      opset: 7,
      nodes: [node('BatchNormalization', ['x', 's', 'b', 'm', 'v'], ['y'], [attr.int('spatial', 1)])],
      inputs: { x: uniform([2, 3, 2, 2], 6) },
      initializers: { s: uniform([3], 7, 0.5, 1.5), b: uniform([3], 8), m: uniform([3], 9), v: uniform([3], 10, 0.5, 2) },
      output: 'y',
    });
    await check({
      opset: 9,
      nodes: [
        node('TopK', ['x'], ['values', 'indices'], [attr.int('k', 2)]),
        node('Cast', ['indices'], ['f'], [attr.int('to', 1)]),
        node('Relu', ['x'], ['r']),
        node('Add', ['r', 'f'], ['y']),
      ],
      inputs: { x: separated([3, 2], 11) },
      output: 'y',
    });
  });
  it('refuses opsets older than 7', () => {
    const old = makeModel({ opset: 6, nodes: [node('Relu', ['x'], ['y'])], inputs: { x: uniform([2], 12) }, output: 'y' });
    assert.throws(() => upgradeToOpset11(old), /opset 6 is too old to convert/);
  });
});
