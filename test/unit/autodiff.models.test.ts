// Input gradients of small PyTorch-exported models (test/models: BatchNorm unfused, Sigmoid·Mul,
// Concat-heavy, AveragePool, Pad, miscellaneous ops at opsets 13 and 17) against PyTorch
// autograd: max |ours - torch| ≤ 1e-3 × max |torch|. Each model is listed by its <name>.json.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { computeGradients, seedForClass } from '../../src/core/autodiff/gradients';
import { ConvModel } from '../../src/core/model';
import { parseNpy } from '../../src/core/npy';
import { Tensor } from '../../src/core/tensor';
import { assertClose } from '../support/reference';

const MODELS = path.resolve(__dirname, '../../../test/models');

interface ModelCase {
  name: string;
  input: string;
  output: string;
  target: number;
}

function cases(): ModelCase[] {
  if (!fs.existsSync(MODELS)) return [];
  return fs
    .readdirSync(MODELS)
    .filter((f) => f.endsWith('.json') && fs.existsSync(path.join(MODELS, f.replace(/\.json$/, '.grad_input.npy'))))
    .map((f) => ({ name: f.replace(/\.json$/, ''), ...JSON.parse(fs.readFileSync(path.join(MODELS, f), 'utf8')) }));
}

const npy = (file: string): Tensor => parseNpy(fs.readFileSync(path.join(MODELS, file)));

describe('autodiff: PyTorch-exported test models', () => {
  const found = cases();
  if (found.length === 0) {
    it(`SKIPPED: no test models with gradients in ${MODELS}`, function () {
      this.skip();
    });
  }
  for (const c of found) {
    it(`${c.name}: grad_input and logits match PyTorch`, async () => {
      const model = ConvModel.load(path.join(MODELS, `${c.name}.onnx`), { provider: 'cpu' });
      try {
        const logits = npy(`${c.name}.logits.npy`);
        const { gradients, outputs } = await computeGradients(
          model,
          { [c.input]: npy(`${c.name}.input.npy`) },
          {
            wrt: [c.input],
            output: c.output,
            seed: seedForClass(logits.dims, c.target),
          },
        );
        assertClose(outputs[c.output].data as Float32Array, logits.data as Float32Array, 1e-3, `${c.name} logits`);
        const expected = npy(`${c.name}.grad_input.npy`);
        assert.deepStrictEqual(gradients[c.input].dims, expected.dims);
        assertClose(gradients[c.input].data as Float32Array, expected.data as Float32Array, 1e-3, `${c.name} grad_input`);
      } finally {
        await model.dispose();
      }
    });
  }
});
