// Attention maps and rollout on the reference ViT (../shared/reference, manifest-tasks.json,
// vit_tiny: 4 encoder layers, 3 heads, 1 + 14×14 tokens): torchvision's MultiheadAttention exports
// as MatMul/Softmax/Reshape/Transpose, [heads, T, T] per image. The rollout is checked against the
// definition computed here in float64, from the probabilities the model's own Softmax nodes give.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { attentionLayers, attentionMaps, attentionRollout, fuseHeads, queryMap, tokenGrid } from '../../src/core/inside/attention';
import { ConvModel } from '../../src/core/model';
import { REFERENCE_DIR, ReferenceCase, assertClose, loadTensor, modelPath } from '../support/reference';

const TASKS_MANIFEST = path.join(REFERENCE_DIR, 'manifest-tasks.json');

function vitCase(): (ReferenceCase & { task: string }) | undefined {
  if (!fs.existsSync(TASKS_MANIFEST)) return undefined;
  return JSON.parse(fs.readFileSync(TASKS_MANIFEST, 'utf8')).cases.find((c: ReferenceCase & { task: string }) => c.task === 'vit' && c.model === 'vit_tiny');
}

describe('attention rollout on the reference ViT (vit_tiny)', () => {
  const c = vitCase();
  if (!c) {
    it(`SKIPPED: the vit_tiny case is not at ${TASKS_MANIFEST} (set CONVLENS_REFERENCE)`, function () {
      console.warn(`  ! vit_tiny attention: ${TASKS_MANIFEST} absent or without vit_tiny; these checks did not run`);
      this.skip();
    });
    return;
  }
  let model: ConvModel;
  before(() => {
    model = ConvModel.load(modelPath(c), { provider: 'cpu' });
  });
  after(() => model.dispose());

  it("finds the 4 encoder layers' softmax(q kᵀ / √d), 3 heads over 197 tokens (class token + 14×14 patches)", async () => {
    const layers = await attentionLayers(model);
    assert.strictEqual(layers.length, 4, layers.map((l) => l.node).join(', '));
    for (const l of layers) {
      assert.strictEqual(l.heads, 3);
      assert.strictEqual(l.tokens, 197);
    }
    assert.deepStrictEqual(tokenGrid(197, [224, 224]), { prefix: 1, rows: 14, cols: 14 });
  });

  it('rolls out the layers as Π rownorm(mean_h P_l + I), and lays the class token out on the 14×14 grid', async () => {
    const maps = await attentionMaps(model, loadTensor(c, 'input'));
    assert.strictEqual(maps.length, 4);
    const t = 197;
    for (const m of maps) {
      assert.deepStrictEqual(m.probabilities.dims, [3, t, t]);
      const row = m.probabilities.data.subarray(5 * t, 6 * t);
      assert.ok(Math.abs(row.reduce((a, b) => a + b, 0) - 1) < 1e-5, 'a query row of probabilities sums to 1');
    }
    // The definition, in float64: R = Â_4 · Â_3 · Â_2 · Â_1 with Â = rownorm(fuse(P) + I).
    let rollout: Float64Array | undefined;
    for (const m of maps) {
      const fused = fuseHeads(m.probabilities, 'mean');
      const a = Float64Array.from(fused, (v, i) => v + (Math.floor(i / t) === i % t ? 1 : 0));
      for (let r = 0; r < t; r++) {
        const sum = a.subarray(r * t, (r + 1) * t).reduce((x, y) => x + y, 0);
        for (let k = 0; k < t; k++) a[r * t + k] /= sum;
      }
      if (!rollout) {
        rollout = a;
        continue;
      }
      const next = new Float64Array(t * t);
      for (let i = 0; i < t; i++) for (let k = 0; k < t; k++) for (let j = 0; j < t; j++) next[i * t + j] += a[i * t + k] * rollout[k * t + j];
      rollout = next;
    }
    const ours = attentionRollout(
      maps.map((m) => m.probabilities),
      'mean',
    );
    assertClose(ours.data, rollout!, 1e-5, 'rollout');
    const cls = queryMap(ours, tokenGrid(t, [224, 224]));
    assert.deepStrictEqual(cls.dims, [14, 14]);
    assertClose(cls.data, rollout!.subarray(1, t), 1e-5, "the class token's row over the patches");
  });
});
