import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { DatasetError } from '../../src/core/dataset/errors';
import { findClassifierHead } from '../../src/core/dataset/head';
import { GraphProto, decodeModel } from '../../src/core/onnx/proto';
import { REFERENCE_DIR, describeReference } from '../support/reference';

describeReference('dataset: the classifier head of the reference models', () => {
  const headOf = (name: string) => findClassifierHead(decodeModel(fs.readFileSync(path.join(REFERENCE_DIR, `${name}.onnx`))).graph as GraphProto);

  it('finds the Gemm after global pooling in resnet18 and mobilenet_v2', () => {
    assert.deepStrictEqual(headOf('resnet18'), { output: 'logits', penultimate: '/Flatten_output_0', opType: 'Gemm' });
    assert.deepStrictEqual(headOf('mobilenet_v2'), { output: 'logits', penultimate: '/Flatten_output_0', opType: 'Gemm' });
  });

  it("finds SqueezeNet's 1×1 convolution classifier behind its ReLU and global pooling", () => {
    assert.deepStrictEqual(headOf('squeezenet1_1'), { output: 'logits', penultimate: '/features/features.12/Concat_output_0', opType: 'Conv' });
  });
});

describe('dataset: a model without a linear head', () => {
  it('says to name the penultimate tensor', () => {
    const graph: GraphProto = {
      node: [{ op_type: 'Conv', name: 'c', input: ['x', 'w'], output: ['y'], attribute: [{ name: 'kernel_shape', ints: [3, 3] }] }],
      input: [{ name: 'x' }],
      output: [{ name: 'y' }],
      initializer: [{ name: 'w' }],
    } as unknown as GraphProto;
    assert.throws(() => findClassifierHead(graph), DatasetError);
    assert.throws(() => findClassifierHead(graph), /name the penultimate tensor explicitly/);
  });
});
