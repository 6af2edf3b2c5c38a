// Hostile models with control flow (issue #12, item 4): an If whose output used to be typed bool,
// so every gradient through it came out silently zero; a Loop whose gradient is refused by name;
// a model whose gradient really is zero everywhere, which every gradient method and the CLI must
// refuse rather than show as an empty map; the sanity check on constant maps; subgraph layers.
import { strict as assert } from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { explain } from '../../src/core/explain';
import { cascadingRandomization } from '../../src/core/inside/sanity-check';
import { ConvModel } from '../../src/core/model';
import { formatNpy } from '../../src/core/npy';
import { tensorToProto } from '../../src/core/onnx/initializers';
import { GraphProto, ModelProto, NodeProto, encodeModel } from '../../src/core/onnx/proto';
import { Tensor, float32 } from '../../src/core/tensor';
import { attr, node, separated, tensor, uniform, valueInfo } from './autodiff/harness';

const ROOT = path.resolve(__dirname, '../../..');
const INPUT_DIMS = [1, 3, 8, 8];

function branch(name: string, nodes: NodeProto[], output: string): GraphProto {
  return { name, node: nodes, input: [], output: [valueInfo(output, 'float32')], initializer: [] };
}

/** input → Conv → `middle` (nodes from 'feat' to 'mixed') → GlobalAveragePool → Flatten → Gemm → logits [1, 3]. */
function cnn(middle: NodeProto[], extraInitializers: Record<string, Tensor> = {}): ModelProto {
  const initializers: Record<string, Tensor> = {
    conv_w: uniform([4, 3, 3, 3], 1, -0.5, 0.5),
    conv_b: uniform([4], 2, -0.1, 0.1),
    fc_w: uniform([3, 4], 3),
    fc_b: uniform([3], 4, -0.1, 0.1),
    zero: tensor('float32', [], [0]),
    two: tensor('float32', [], [2]),
    ...extraInitializers,
  };
  return {
    ir_version: 8,
    opset_import: [{ domain: '', version: 13 }],
    graph: {
      name: 'hostile',
      node: [
        { ...node('Conv', ['input', 'conv_w', 'conv_b'], ['feat'], [attr.ints('pads', [1, 1, 1, 1])]), name: '/conv/Conv' },
        ...middle,
        node('GlobalAveragePool', ['mixed'], ['pooled']),
        node('Flatten', ['pooled'], ['flat']),
        { ...node('Gemm', ['flat', 'fc_w', 'fc_b'], ['logits'], [attr.int('transB', 1)]), name: '/fc/Gemm' },
      ],
      input: [valueInfo('input', 'float32', INPUT_DIMS)],
      output: [valueInfo('logits', 'float32')],
      initializer: Object.entries(initializers).map(([name, t]) => tensorToProto(name, t)),
    },
  };
}

/** mixed = If(ReduceSum(input) > 0) then 2·Relu(feat) else Sigmoid(feat). */
function ifModel(): ModelProto {
  return cnn([
    node('ReduceSum', ['input'], ['total'], [attr.int('keepdims', 0)]),
    node('Greater', ['total', 'zero'], ['cond']),
    {
      ...node('If', ['cond'], ['mixed']),
      name: '/choose/If',
      attribute: [
        attr.graph(
          'then_branch',
          branch('then', [{ ...node('Relu', ['feat'], ['then_relu']), name: '/choose/Relu' }, node('Mul', ['then_relu', 'two'], ['then_out'])], 'then_out'),
        ),
        attr.graph('else_branch', branch('else', [{ ...node('Sigmoid', ['feat'], ['else_out']), name: '/choose/Sigmoid' }], 'else_out')),
      ],
    },
  ]);
}

/** mixed = Floor(feat): the logits are piecewise constant in the input, so its gradient is exactly zero. */
function floorModel(): ModelProto {
  return cnn([node('Floor', ['feat'], ['mixed'])]);
}

/** mixed = Loop three times over v ← Relu(v)·feat, feat read from the outer scope. */
function loopModel(): ModelProto {
  const body: GraphProto = {
    name: 'body',
    node: [node('Identity', ['cond_in'], ['cond_out']), node('Relu', ['v_in'], ['v_relu']), node('Mul', ['v_relu', 'feat'], ['v_out'])],
    input: [valueInfo('i', 'int64', []), { name: 'cond_in', type: { tensor_type: { elem_type: 9, shape: { dim: [] } } } }, valueInfo('v_in', 'float32')],
    output: [{ name: 'cond_out', type: { tensor_type: { elem_type: 9, shape: { dim: [] } } } }, valueInfo('v_out', 'float32')],
  };
  return cnn([{ ...node('Loop', ['trips', 'keep_going', 'feat'], ['mixed']), name: '/repeat/Loop', attribute: [attr.graph('body', body)] }], {
    trips: { dtype: 'int64', dims: [], data: BigInt64Array.of(3n) },
    keep_going: { dtype: 'bool', dims: [], data: Uint8Array.of(1) },
  });
}

/** An input whose sum is ≥ 10 away from 0 on the chosen side of the If's condition. */
function inputWithSign(sign: 1 | -1): Tensor {
  const x = separated(INPUT_DIMS, 7, 1);
  return { ...x, data: (x.data as Float32Array).map((v) => v + sign * 0.1) };
}

const open = (proto: ModelProto) => ConvModel.fromBytes(encodeModel(proto), { provider: 'cpu' });
const target = { kind: 'class' as const, index: 1 };
const maxAbs = (t: Tensor) => Array.from(t.data as Float32Array).reduce((m, v) => Math.max(m, Math.abs(v)), 0);

describe('hostile models: control flow and zero gradients (issue #12)', () => {
  it('lists the If, and the nodes of its branches under it, with probed shapes and marked not probe-able', async () => {
    const model = open(ifModel());
    try {
      const layers = await model.layers();
      const names = layers.map((l) => l.name);
      assert.ok(names.includes('/choose/If'), `the If is listed: ${names.join(', ')}`);
      const relu = layers.find((l) => l.name === '/choose/If/then_branch/choose/Relu');
      assert.ok(relu, `the then branch's Relu is listed under the If: ${names.join(', ')}`);
      assert.equal(relu.parent, '/choose/If');
      assert.deepEqual(relu.outputs, [{ name: 'then_relu', shape: [1, 4, 8, 8], probeable: false }]);
      assert.ok(layers.some((l) => l.name === '/choose/If/else_branch/choose/Sigmoid'));
      assert.equal(layers.find((l) => l.name === '/choose/If')?.outputs[0].probeable, undefined);
    } finally {
      await model.dispose();
    }
  });

  it('saliency and Grad-CAM at the If output work for both outcomes of the condition', async () => {
    const model = open(ifModel());
    try {
      for (const sign of [1, -1] as const) {
        const input = inputWithSign(sign);
        const saliency = await explain('saliency', { model, input, target });
        assert.ok(maxAbs(saliency.raw) > 0, `saliency is not all zero (sum of the input ${sign > 0 ? '> 0' : '< 0'})`);
        const cam = await explain('gradcam', { model, input, target, layer: 'mixed' });
        assert.equal(cam.layer, 'mixed');
      }
    } finally {
      await model.dispose();
    }
  });

  it('refuses a gradient that is zero everywhere in every gradient method, with one sentence', async () => {
    const model = open(floorModel());
    try {
      for (const method of ['saliency', 'integrated-gradients', 'gradcam']) {
        await assert.rejects(explain(method, { model, input: inputWithSign(1), target, layer: 'feat' }), (err: Error) => {
          assert.match(err.message, /^the gradient of class 1 of 'logits' with respect to '(input|feat)' is zero everywhere: /, method);
          assert.ok(!err.message.includes('\n'));
          return true;
        });
      }
    } finally {
      await model.dispose();
    }
  });

  it('refuses the gradient through a Loop by op and node, while gradient-free methods still work', async () => {
    const model = open(loopModel());
    try {
      await assert.rejects(explain('saliency', { model, input: inputWithSign(1), target }), { message: "gradient of op 'Loop' (node /repeat/Loop) is not supported" });
      const occlusion = await explain('occlusion', { model, input: inputWithSign(1), target }, { window: [2], strides: [2] });
      assert.ok(maxAbs(occlusion.raw) > 0);
    } finally {
      await model.dispose();
    }
  });

  it('the gradient command exits non-zero with one line for a zero gradient, and works through an If', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'convlens-controlflow-'));
    try {
      const inputFile = path.join(dir, 'input.npy');
      fs.writeFileSync(inputFile, formatNpy(inputWithSign(-1)));
      const cli = (proto: ModelProto, name: string) => {
        const file = path.join(dir, name);
        fs.writeFileSync(file, encodeModel(proto));
        return spawnSync(process.execPath, [path.join(ROOT, 'bin/convlens.js'), 'gradient', file, inputFile, '--wrt', 'input', '--target', '1'], { encoding: 'utf8' });
      };
      const refused = cli(floorModel(), 'floor.onnx');
      assert.notEqual(refused.status, 0);
      const lines = refused.stderr.trim().split('\n');
      assert.equal(lines.length, 1, refused.stderr);
      assert.match(lines[0], /^convlens gradient: the gradient of class 1 of 'logits' with respect to 'input' is zero everywhere: /);
      const through = cli(ifModel(), 'if.onnx');
      assert.equal(through.status, 0, through.stderr);
      assert.match(through.stdout, /∂ logits\[1\].* \/ ∂ input: \[1, 3, 8, 8\], max \|grad\| [1-9]/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("the sanity check fails, with the reason, when the trained model's maps are constant", async () => {
    const model = open(ifModel());
    try {
      const result = await cascadingRandomization(model, async () => [float32([8, 8])], { seed: 1 });
      assert.equal(result.passed, false);
      assert.match(result.verdict, /^no evidence: the trained model's map for input 1 is constant \(every value 0\)/);
    } finally {
      await model.dispose();
    }
  });
});
