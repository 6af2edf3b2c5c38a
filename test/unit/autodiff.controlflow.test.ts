// Gradients through control flow: If (the taken branch's vector-Jacobian product, built as an If
// in the backward graph) against central finite differences for both outcomes of the condition;
// Loop and Scan refused by name, never pruned to a zero gradient.
import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { buildGradientModel } from '../../src/core/autodiff/build';
import { computeGradients, seedForClass } from '../../src/core/autodiff/gradients';
import { ConvModel } from '../../src/core/model';
import { parseNpy } from '../../src/core/npy';
import { UnsupportedGradientError } from '../../src/core/autodiff/rule';
import { probeShapes } from '../../src/core/autodiff/shapes';
import { elementTypes } from '../../src/core/onnx/types';
import { DataType, GraphProto, NodeProto } from '../../src/core/onnx/proto';
import { tensorToProto } from '../../src/core/onnx/initializers';
import { Tensor } from '../../src/core/tensor';
import { GraphSpec, attr, checkGradients, makeModel, node, separated, tensor, valueInfo } from './autodiff/harness';

const scalarInt = (value: number): Tensor => ({ dtype: 'int64', dims: [], data: BigInt64Array.of(BigInt(value)) });
const boolScalar = (value: boolean): Tensor => ({ dtype: 'bool', dims: [], data: Uint8Array.of(value ? 1 : 0) });

function branch(name: string, nodes: NodeProto[], output: string, initializers: Record<string, Tensor> = {}): GraphProto {
  return {
    name,
    node: nodes,
    input: [],
    output: [valueInfo(output, 'float32')],
    initializer: Object.entries(initializers).map(([n, t]) => tensorToProto(n, t)),
  };
}

/**
 * y = If(ReduceSum(x) > 0) then x·x·w + w else tanh(x)·c, then z = y + x: the branches read x,
 * w and c from the outer scope; the then branch does not read c, the else branch not w.
 */
function ifModel(x: Tensor): GraphSpec {
  const thenBranch = branch(
    'then',
    [node('Mul', ['x', 'x'], ['then_sq']), node('Mul', ['then_sq', 'w'], ['then_scaled']), node('Add', ['then_scaled', 'w'], ['then_out'])],
    'then_out',
  );
  const elseBranch = branch(
    'else',
    [node('Tanh', ['x'], ['else_tanh']), node('Mul', ['else_tanh', 'c'], ['else_scaled']), node('Mul', ['else_scaled', 'half'], ['else_out'])],
    'else_out',
    { half: tensor('float32', [], [0.5]) },
  );
  return {
    opset: 13,
    nodes: [
      node('ReduceSum', ['x'], ['total'], [attr.int('keepdims', 0)]),
      node('Greater', ['total', 'zero'], ['cond']),
      { ...node('If', ['cond'], ['y']), name: '/choose/If', attribute: [attr.graph('then_branch', thenBranch), attr.graph('else_branch', elseBranch)] },
      node('Add', ['y', 'x'], ['z']),
    ],
    inputs: { x, w: separated([2, 3], 2, 1.5), c: separated([3], 3, 1.5) },
    initializers: { zero: tensor('float32', [], [0]) },
    output: 'z',
  };
}

/** x with values spread over [-2, 2] shifted so its sum is far (≥ 4) from 0 on the chosen side. */
function inputWithSum(sign: 1 | -1): Tensor {
  const x = separated([2, 3], 1, 2);
  const data = (x.data as Float32Array).map((v) => v + sign * 0.7);
  return { ...x, data };
}

describe('autodiff: If', () => {
  it('types the If output from its branches (float, not the bool condition)', () => {
    const types = elementTypes(makeModel(ifModel(inputWithSum(1))).graph as GraphProto);
    assert.equal(types.get('y'), DataType.FLOAT);
    assert.equal(types.get('then_sq'), DataType.FLOAT);
  });

  // A step of 1e-2 changes ReduceSum(x) by 1e-2, far from flipping a sum of magnitude ≥ 4.
  for (const [sign, taken] of [
    [1, 'then'],
    [-1, 'else'],
  ] as const) {
    it(`matches finite differences when the ${taken} branch is taken, with zeros for what it does not read`, async () => {
      const spec = ifModel(inputWithSum(sign));
      const sum = (spec.inputs.x.data as Float32Array).reduce((a, b) => a + b, 0);
      assert.ok(sign * sum >= 4, `the input's sum ${sum} is on the ${taken} side`);
      const result = await checkGradients(spec);
      const unread = taken === 'then' ? 'c' : 'w';
      assert.ok(
        Array.from(result.analytic[unread].data as Float32Array).every((v) => v === 0),
        `∂z/∂${unread} is zero when the ${taken} branch is taken`,
      );
      const read = taken === 'then' ? 'w' : 'c';
      assert.ok(Array.from(result.analytic[read].data as Float32Array).some((v) => v !== 0));
    });
  }

  it('differentiates an If nested in a branch, and an If whose branch reads an intermediate tensor', async () => {
    const inner = (sign: number) => ({
      ...node('If', ['inner_cond'], [`inner_out_${sign > 0 ? 'a' : 'b'}`]),
      attribute: [
        attr.graph('then_branch', branch('inner_then', [node('Sigmoid', ['h'], [`inner_sig_${sign}`])], `inner_sig_${sign}`)),
        attr.graph('else_branch', branch('inner_else', [node('Neg', ['h'], [`inner_neg_${sign}`])], `inner_neg_${sign}`)),
      ],
    });
    const outerThen = branch('outer_then', [inner(1), node('Mul', ['inner_out_a', 'x'], ['outer_then_out'])], 'outer_then_out');
    const outerElse = branch('outer_else', [inner(-1), node('Add', ['inner_out_b', 'x'], ['outer_else_out'])], 'outer_else_out');
    const spec = (x: Tensor): GraphSpec => ({
      opset: 13,
      nodes: [
        node('Exp', ['x'], ['h']),
        node('ReduceSum', ['x'], ['total'], [attr.int('keepdims', 0)]),
        node('Greater', ['total', 'zero'], ['outer_cond']),
        node('Less', ['total', 'five'], ['inner_cond']),
        { ...node('If', ['outer_cond'], ['y']), attribute: [attr.graph('then_branch', outerThen), attr.graph('else_branch', outerElse)] },
      ],
      inputs: { x },
      initializers: { zero: tensor('float32', [], [0]), five: tensor('float32', [], [5]) },
      output: 'y',
    });
    for (const sign of [1, -1] as const) await checkGradients(spec(inputWithSum(sign)));
  });
});

/** A Loop running trip_count times over v ← v·x (x read from the outer scope). */
function loopModel(): GraphSpec {
  const body: GraphProto = {
    name: 'body',
    node: [node('Identity', ['cond_in'], ['cond_out']), node('Mul', ['v_in', 'x'], ['v_out'])],
    input: [
      { name: 'i', type: { tensor_type: { elem_type: DataType.INT64, shape: { dim: [] } } } },
      { name: 'cond_in', type: { tensor_type: { elem_type: DataType.BOOL, shape: { dim: [] } } } },
      valueInfo('v_in', 'float32'),
    ],
    output: [{ name: 'cond_out', type: { tensor_type: { elem_type: DataType.BOOL, shape: { dim: [] } } } }, valueInfo('v_out', 'float32')],
  };
  return {
    opset: 13,
    nodes: [{ ...node('Loop', ['trips', 'keep_going', 'v0'], ['v_final']), name: '/repeat/Loop', attribute: [attr.graph('body', body)] }],
    inputs: { x: separated([3], 4, 1) },
    initializers: { trips: scalarInt(3), keep_going: boolScalar(true), v0: tensor('float32', [3], [1, 1, 1]) },
    output: 'v_final',
  };
}

/** A Scan summing the rows of x into a running state. */
function scanModel(): GraphSpec {
  const body: GraphProto = {
    name: 'scan_body',
    node: [node('Add', ['s_in', 'row'], ['s_out']), node('Identity', ['s_out'], ['row_out'])],
    input: [valueInfo('s_in', 'float32'), valueInfo('row', 'float32')],
    output: [valueInfo('s_out', 'float32'), valueInfo('row_out', 'float32')],
  };
  return {
    opset: 13,
    nodes: [{ ...node('Scan', ['s0', 'x'], ['s_final', 'partial_sums']), name: '/accumulate/Scan', attribute: [attr.graph('body', body), attr.int('num_scan_inputs', 1)] }],
    inputs: { x: separated([4, 3], 5, 1) },
    initializers: { s0: tensor('float32', [3], [0, 0, 0]) },
    output: 's_final',
  };
}

async function gradientError(spec: GraphSpec): Promise<unknown> {
  const model = makeModel(spec);
  const shapes = await probeShapes(model, spec.inputs);
  try {
    buildGradientModel(model, { wrt: ['x'], output: spec.output, shapes });
  } catch (err) {
    return err;
  }
  return undefined;
}

describe('autodiff: Loop and Scan', () => {
  it('types Loop and Scan outputs from their bodies', () => {
    assert.equal(elementTypes(makeModel(loopModel()).graph as GraphProto).get('v_final'), DataType.FLOAT);
    const scanTypes = elementTypes(makeModel(scanModel()).graph as GraphProto);
    assert.equal(scanTypes.get('s_final'), DataType.FLOAT);
    assert.equal(scanTypes.get('partial_sums'), DataType.FLOAT);
  });

  it('refuses the gradient through a Loop that reads x from the outer scope, by op and node', async () => {
    const err = await gradientError(loopModel());
    assert.ok(err instanceof UnsupportedGradientError, `refused: ${err}`);
    assert.equal(err.message, "gradient of op 'Loop' (node /repeat/Loop) is not supported");
  });

  it('refuses the gradient through a Scan over x, by op and node', async () => {
    const err = await gradientError(scanModel());
    assert.ok(err instanceof UnsupportedGradientError, `refused: ${err}`);
    assert.equal(err.message, "gradient of op 'Scan' (node /accumulate/Scan) is not supported");
  });
});

const CONTROL_FLOW_MODELS = path.resolve(__dirname, '../../../test/models/controlflow');

describe('autodiff: If exported by PyTorch (torch.jit.script, data-dependent branch)', () => {
  // gated_if.onnx: logits = fc(mean(2·relu(conv x) if Σx > 0 else sigmoid(conv x))); references from
  // torch.autograd (test/models/controlflow/export_controlflow.py).
  for (const branchTaken of ['then', 'else']) {
    it(`matches torch.autograd's d logits[0, 1] / d input when the ${branchTaken} branch is taken`, async () => {
      const npy = (file: string) => parseNpy(fs.readFileSync(path.join(CONTROL_FLOW_MODELS, file)));
      const model = ConvModel.load(path.join(CONTROL_FLOW_MODELS, 'gated_if.onnx'), { provider: 'cpu' });
      try {
        const { gradients } = await computeGradients(model, { input: npy(`gated_if.input_${branchTaken}.npy`) }, { wrt: ['input'], seed: seedForClass([1, 3], 1) });
        const reference = npy(`gated_if.grad_${branchTaken}.npy`).data as Float32Array;
        const ours = gradients.input.data as Float32Array;
        let maxDiff = 0;
        let maxRef = 0;
        reference.forEach((r, i) => {
          maxDiff = Math.max(maxDiff, Math.abs(r - ours[i]));
          maxRef = Math.max(maxRef, Math.abs(r));
        });
        // Both sides sum the same few float32 products in different orders: ~1e-7 relative each.
        assert.ok(maxRef > 0 && maxDiff <= 1e-5 * maxRef, `max |ours - torch| = ${maxDiff} vs max |torch| = ${maxRef}`);
      } finally {
        await model.dispose();
      }
    });
  }
});
