// Beyond 2-D images: a 1-D CNN on a signal [1, 2, 64] and a 3-D CNN on a video [1, 1, 4, 8, 8],
// exported from PyTorch by test/models/export_nd.py (Conv1d/BatchNorm1d/MaxPool1d/AdaptiveAvgPool1d,
// Conv3d/MaxPool3d/AdaptiveAvgPool3d). Their input gradients are checked against PyTorch's float64
// autograd, the ops they add to the 2-D tests against finite differences (1-D and 3-D Conv and
// MaxPool are in autodiff.conv and autodiff.pooling), and every registered
// method gives a map with the input's spatial shape or refuses by name in one sentence.
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { computeGradients, seedForClass } from '../../../src/core/autodiff/gradients';
import { explain, methodByName, methodNames } from '../../../src/core/explain';
import { gradCamRaw } from '../../../src/core/explain/gradcam';
import { OptionValue } from '../../../src/core/explain/types';
import { resizeBilinear, resizeLinear, resizeNearest, resizeNearestNd } from '../../../src/core/image/resize';
import { ConvModel } from '../../../src/core/model';
import { formatNpy, parseNpy } from '../../../src/core/npy';
import { ModelContext } from '../../../src/core/context';
import { renderMap } from '../../../src/core/render';
import { FloatTensor, float32 } from '../../../src/core/tensor';
import { attr, checkGradients, node, separated, uniform } from '../autodiff/harness';
import { assertClose } from '../../support/reference';

const MODELS_DIR = path.resolve(__dirname, '../../../../test/models');

function npy(file: string): FloatTensor {
  return parseNpy(new Uint8Array(fs.readFileSync(path.join(MODELS_DIR, file)))) as FloatTensor;
}

// Small settings so every method runs in a moment on tiny models; what is checked is the shape.
const QUICK: Record<string, Record<string, OptionValue>> = {
  'integrated-gradients': { steps: 8 },
  smoothgrad: { samples: 4 },
  rise: { masks: 40, cells: 2 },
  lime: { samples: 20 },
  'kernel-shap': { samples: 20 },
};

describe('autodiff: the ops of 1-D and 3-D CNNs against finite differences', () => {
  const bn = (dims: number[], seed: number) =>
    checkGradients({
      opset: 13,
      nodes: [node('BatchNormalization', ['x', 'scale', 'bias', 'mean', 'var'], ['y'], [attr.float('epsilon', 1e-3)])],
      inputs: { x: uniform(dims, seed, -1, 1, 'float64') },
      initializers: {
        scale: uniform([dims[1]], seed + 1, 0.5, 1.5, 'float64'),
        bias: uniform([dims[1]], seed + 2, -1, 1, 'float64'),
        mean: uniform([dims[1]], seed + 3, -1, 1, 'float64'),
        var: uniform([dims[1]], seed + 4, 0.5, 2, 'float64'),
      },
      output: 'y',
    });
  it('BatchNormalization on [N, C, L] and [N, C, T, H, W]', async () => {
    await bn([2, 3, 7], 20);
    await bn([1, 2, 3, 4, 5], 30);
  });
  it('GlobalAveragePool and GlobalMaxPool on [N, C, L] and [N, C, T, H, W]', async () => {
    for (const op of ['GlobalAveragePool', 'GlobalMaxPool']) {
      for (const dims of [
        [2, 3, 9],
        [1, 2, 3, 4, 5],
      ]) {
        // float32: onnxruntime has no float64 kernel for them; distinct values keep the maximum's place.
        await checkGradients({ opset: 13, nodes: [node(op, ['x'], ['y'])], inputs: { x: separated(dims, 40) }, output: 'y' });
      }
    }
  });
});

describe('resampling maps of any rank', () => {
  it('linear in 1-D is torch F.interpolate(mode=linear, align_corners=False): half-pixel centres clamped at the edges', () => {
    // src = (dst + 0.5)·2/4 − 0.5 = −0.25, 0.25, 0.75, 1.25 → clamped to 0, 0.25, 0.75, 1 of [0, 1].
    assert.deepStrictEqual(Array.from(resizeLinear([0, 1], [2], [4])), [0, 0.25, 0.75, 1]);
    // align_corners=True: src = dst·(2 − 1)/(3 − 1).
    assert.deepStrictEqual(Array.from(resizeLinear([0, 1], [2], [3], true)), [0, 0.5, 1]);
  });
  it('in 2-D it is resizeBilinear (cv2 INTER_LINEAR); in 3-D it is separable (trilinear)', () => {
    const map = uniform([5, 7], 60).data as Float32Array;
    assertClose(resizeLinear(map, [5, 7], [16, 9]), resizeBilinear(map, 5, 7, 16, 9), 1e-6, '2-D linear');
    const t = [0, 1, 3];
    const h = [2, -1];
    const w = [1, 4];
    const outer = Float32Array.from({ length: 12 }, (_, i) => t[Math.floor(i / 4)] * h[Math.floor(i / 2) % 2] * w[i % 2]);
    const [ut, uh, uw] = [resizeLinear(t, [3], [5]), resizeLinear(h, [2], [3]), resizeLinear(w, [2], [4])];
    const expected = Float32Array.from({ length: 60 }, (_, i) => ut[Math.floor(i / 12)] * uh[Math.floor(i / 4) % 3] * uw[i % 4]);
    assertClose(resizeLinear(outer, [3, 2, 2], [5, 3, 4]), expected, 1e-6, 'trilinear of a separable map');
  });
  it('nearest of any rank is resizeNearest in 2-D', () => {
    const map = uniform([3, 5], 61).data as Float32Array;
    assert.deepStrictEqual(Array.from(resizeNearestNd(map, [3, 5], [7, 11])), Array.from(resizeNearest(map, 3, 5, 7, 11)));
  });
});

describe('pictures of 1-D and 3-D maps', () => {
  it("a signal's map is a strip as wide as the signal; a video's frames stand side by side", () => {
    const signal = float32([5], [0, 0.25, 0.5, 0.75, 1]);
    const strip = renderMap(signal, undefined);
    assert.strictEqual(strip.width, 5);
    const row = (y: number) => Array.from(strip.rgba.subarray(y * 5 * 4, (y + 1) * 5 * 4));
    for (let y = 1; y < strip.height; y++) assert.deepStrictEqual(row(y), row(0));
    const video = float32(
      [3, 2, 4],
      Array.from({ length: 24 }, (_, i) => i / 23),
    );
    const picture = renderMap(video, undefined);
    assert.deepStrictEqual([picture.width, picture.height], [12, 2]);
    for (let t = 0; t < 3; t++) {
      const frame = renderMap(float32([2, 4], (video.data as Float32Array).slice(t * 8, (t + 1) * 8)), undefined);
      for (let y = 0; y < 2; y++) {
        assert.deepStrictEqual(
          Array.from(picture.rgba.subarray((y * 12 + t * 4) * 4, (y * 12 + t * 4 + 4) * 4)),
          Array.from(frame.rgba.subarray(y * 16, (y + 1) * 16)),
          `frame ${t} row ${y}`,
        );
      }
    }
  });
});

for (const name of ['signal1d', 'video3d']) {
  describe(`explanations of ${name} (exported by test/models/export_nd.py)`, () => {
    const info = JSON.parse(fs.readFileSync(path.join(MODELS_DIR, `${name}.json`), 'utf8'));
    const input = npy(`${name}.input.npy`);
    const spatial = input.dims.slice(2);
    let model: ConvModel;
    before(() => {
      model = ConvModel.load(path.join(MODELS_DIR, `${name}.onnx`), { provider: 'cpu' });
    });
    after(() => model.dispose());
    const ctx = () => ({ model, input, target: { kind: 'class' as const, index: info.target as number } });

    it('logits and ∂logit/∂input match PyTorch (float64 autograd) within 1e-4 × max|ref|', async () => {
      const { gradients, outputs } = await computeGradients(model, { input }, { wrt: ['input'], seed: seedForClass(npy(`${name}.logits.npy`).dims, info.target) });
      assertClose(outputs.logits.data as Float32Array, npy(`${name}.logits.npy`).data, 1e-4, 'logits');
      assertClose(gradients.input.data as Float32Array, npy(`${name}.grad_input.npy`).data, 1e-4, 'grad_input');
    });

    it('loads its .npy input, with or without the batch axis, through the model context', async () => {
      const context = ModelContext.open(path.join(MODELS_DIR, `${name}.onnx`));
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'convlens-nd-'));
      try {
        const loaded = context.loadInput(path.join(MODELS_DIR, `${name}.input.npy`));
        assert.deepStrictEqual(loaded.tensor.dims, input.dims);
        const unbatched = path.join(dir, 'unbatched.npy');
        fs.writeFileSync(unbatched, formatNpy({ ...input, dims: input.dims.slice(1) }));
        assert.deepStrictEqual(Array.from(context.loadInput(unbatched).tensor.data), Array.from(input.data));
      } finally {
        fs.rmSync(dir, { recursive: true });
        await context.model.dispose();
      }
    });

    it('the auto layer is the last activation before the pooling, read channels-first', async () => {
      const e = await explain('gradcam', ctx());
      assert.strictEqual(e.layer, model.graph.node.find((n) => n.op_type === 'GlobalAveragePool')!.input[0]);
      assert.strictEqual(e.raw.dims.length, 1 + spatial.length);
      assert.ok(
        e.notes.some((n) => n.includes(spatial.length === 1 ? "'linear'" : "'trilinear'")),
        e.notes.join('\n'),
      );
    });

    it('cam equals Grad-CAM × positions (global average pooling and a linear head), at the layer Grad-CAM of the gradients', async () => {
      const camResult = await explain('cam', ctx());
      const layer = camResult.layer!;
      const { gradients, outputs } = await computeGradients(model, { input }, { wrt: [layer], seed: seedForClass([1, npy(`${name}.logits.npy`).dims[1]], info.target) });
      const grad = gradCamRaw(outputs[layer], gradients[layer]);
      const positions = grad.data.length;
      assertClose(
        camResult.raw.data as Float32Array,
        (grad.data as Float32Array).map((v) => v * positions),
        1e-4,
        'CAM vs Grad-CAM',
      );
    });

    for (const method of methodNames()) {
      it(`${method}: a map of the input's spatial shape in [0, 1], or a refusal by name`, async function () {
        this.timeout(120000);
        const options = QUICK[method] ?? {};
        const usesSuperpixels = method === 'lime' || method === 'kernel-shap';
        if (usesSuperpixels) {
          await assert.rejects(
            explain(method, ctx(), options),
            (err: Error) => err.name === 'ExplainError' && /SLIC superpixels/.test(err.message) && /use occlusion or RISE/.test(err.message) && !err.message.includes('\n'),
          );
          return;
        }
        const e = await explain(method, ctx(), options);
        assert.deepStrictEqual(e.map.dims, spatial, `${method} map`);
        const values = e.map.data as Float32Array;
        assert.ok(
          values.every((v) => v >= 0 && v <= 1),
          `${method}: map outside [0, 1]`,
        );
        assert.ok(
          values.some((v) => v > 0),
          `${method}: an empty map`,
        );
        const kind = methodByName(method).kind;
        if (kind === 'gradient' || method === 'occlusion') assert.deepStrictEqual(e.raw.dims, input.dims, `${method} raw`);
        else assert.deepStrictEqual(e.raw.dims.slice(0, 1), [1]);
      });
    }
  });
}
