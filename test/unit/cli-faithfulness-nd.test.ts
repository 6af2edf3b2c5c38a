// `convlens faithfulness` on a signal (sample/signal1d.onnx, a .npy and a WAV): deletion and
// insertion along the samples (it refused any input but an image), the curves' areas equal to the
// core's on the same map.
import * as assert from 'assert';
import { spawnSync } from 'child_process';
import * as path from 'path';
import { ModelContext } from '../../src/core/context';
import { explain } from '../../src/core/explain';
import { deletionInsertion } from '../../src/core/explain/faithfulness';

const ROOT = path.resolve(__dirname, '../../..');
const CLI = path.join(ROOT, 'out/src/cli/main.js');
const MODEL = path.join(ROOT, 'sample/signal1d.onnx');

interface Row {
  method: string;
  deletionAuc: number;
  insertionAuc: number;
  deletion: { fractions: number[]; scores: number[] };
}

describe('CLI faithfulness on a 1-D input', function () {
  this.timeout(120000);

  for (const file of ['chirp-0.npy', 'chirp-1.wav']) {
    it(`${file}: deletion and insertion along the samples, the core's areas; deletion below insertion for Grad-CAM`, async () => {
      const input = path.join(ROOT, 'sample/signals', file);
      const run = spawnSync(process.execPath, [CLI, 'faithfulness', MODEL, input, '--method', 'gradcam', '--steps', '16', '--json'], { encoding: 'utf8' });
      assert.strictEqual(run.status, 0, run.stderr);
      const [row] = JSON.parse(run.stdout) as Row[];
      assert.strictEqual(row.method, 'gradcam');
      assert.strictEqual(row.deletion.fractions.length, 17);
      assert.ok(row.deletionAuc < row.insertionAuc, JSON.stringify([row.deletionAuc, row.insertionAuc]));
      const ctx = ModelContext.open(MODEL, { provider: 'cpu' });
      try {
        const tensor = ctx.loadInput(input).tensor;
        const explainContext = { model: ctx.model, input: tensor, target: { kind: 'class' as const, index: 'top' as const } };
        const e = await explain('gradcam', explainContext, {});
        assert.deepStrictEqual(e.map.dims.slice(-1), [256]);
        const f = await deletionInsertion(explainContext, e.map, { steps: 16 });
        // The same computation in another process: equal to rounding of the JSON numbers.
        assert.ok(Math.abs(f.deletion.normalizedAuc - row.deletionAuc) < 1e-12 && Math.abs(f.insertion.normalizedAuc - row.insertionAuc) < 1e-12);
      } finally {
        await ctx.dispose();
      }
    });
  }
});
