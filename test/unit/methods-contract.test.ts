// The contract every registered explanation method keeps, checked for each one the registry
// lists (no list of names here, as Captum's test config iterates over its attribution methods):
// the map is input-sized and in [0, 1]; the raw result has the shape its kind declares
// (src/core/explain/types.ts, Explanation.raw); another class gives another map unless the method
// says it ignores the target; a run whose signal is aborted rejects with CancelledError. On the
// sample model (sample/shapes.onnx: 4 shapes, a GAP + linear head) so each method runs in seconds.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { FLAG_ALIASES, flagOf, optionFlags } from '../../src/cli/commands/explain-flags';
import { ModelContext } from '../../src/core/context';
import { explain, methodByName, methodNames, methodView } from '../../src/core/explain';
import { CancelledError } from '../../src/core/cancel';
import type { Tensor } from '../../src/core/tensor';

const ROOT = path.resolve(__dirname, '../../..');
const MODEL = path.join(ROOT, 'sample/shapes.onnx');
const IMAGE = path.join(ROOT, 'sample/images/star.png');

describe('explanation methods: the contract of every registered method', function () {
  let ctx: ModelContext;
  let input: Tensor;

  before(function () {
    if (!fs.existsSync(MODEL)) this.skip();
    ctx = ModelContext.open(MODEL, { provider: 'cpu' });
    input = ctx.loadInput(IMAGE).tensor;
  });
  after(async () => {
    await ctx?.model.dispose();
  });

  it('the registry lists methods, each with a view the webview can be sent', () => {
    assert.ok(methodNames().length > 0);
    for (const name of methodNames()) {
      const view = methodView(methodByName(name));
      assert.deepStrictEqual(JSON.parse(JSON.stringify(view)), view, `${name}: the view survives postMessage (plain JSON)`);
      for (const o of view.options)
        assert.ok(
          o.description.length > 0 && (o.type !== 'choice' || o.choices?.includes(String(o.default))),
          `${name}: option ${o.name} is described and its default is a choice`,
        );
    }
  });

  it('every option of every method has a command-line flag (from its OptionSpec), old flag names are aliases', () => {
    const flags = optionFlags();
    for (const name of methodNames()) {
      for (const o of methodByName(name).options) assert.strictEqual(flags.get(flagOf(o.name))?.name, o.name, `${name}: --${flagOf(o.name)} sets ${o.name}`);
    }
    for (const [alias, flag] of Object.entries(FLAG_ALIASES)) assert.strictEqual(flags.get(alias), flags.get(flag), `--${alias} is --${flag}`);
    assert.strictEqual(flags.get('ig-method')?.name, 'method', "--ig-method sets integrated gradients' method (--method names the explanation method)");
  });

  for (const name of methodNames()) {
    describe(name, () => {
      const run = (target: { kind: 'class'; index: number | 'top' }, signal?: AbortSignal, progress?: () => void) =>
        explain(name, { model: ctx.model, input, target, layer: 'auto', signal, progress });

      it('gives an input-sized map in [0, 1], a raw result of its declared shape, and another map for another class', async () => {
        const method = methodByName(name);
        const [, , height, width] = input.dims;
        const top = await run({ kind: 'class', index: 'top' });
        assert.deepStrictEqual(top.map.dims, [height, width]);
        const values = top.map.data as Float32Array;
        assert.ok(
          values.every((v) => v >= 0 && v <= 1),
          `${name}: map values in [0, 1]`,
        );
        assert.ok(
          values.some((v) => v > 0),
          `${name}: the map is not blank`,
        );
        if (method.kind === 'cam') {
          // A CAM's raw map is at its layer's resolution: [1, h, w] with the layer's h × w.
          const layer = (await ctx.model.run({ [ctx.model.input.name]: input }, [top.layer!]))[top.layer!];
          assert.deepStrictEqual(top.raw.dims, [1, ...layer.dims.slice(2)], `${name}: raw at ${top.layer}`);
        } else {
          // Input attributions are input-shaped as Captum returns them; a per-pixel one (RISE) is [1, H, W].
          const perPixel = top.raw.dims.length === 3 && top.raw.dims[0] === 1 && top.raw.dims[1] === height && top.raw.dims[2] === width;
          assert.ok(perPixel || JSON.stringify(top.raw.dims) === JSON.stringify(input.dims), `${name}: raw [${top.raw.dims}] is input-shaped or per pixel`);
        }
        assert.strictEqual(top.target.kind, 'class');
        const other = (top.target.kind === 'class' ? top.target.index + 1 : 0) % 4;
        const second = await run({ kind: 'class', index: other });
        assert.deepStrictEqual(second.target, { ...top.target, index: other });
        const a = top.map.data as Float32Array;
        const b = second.map.data as Float32Array;
        const largest = a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);
        // Two classes of a trained 4-way head weigh the features differently; 0.05 is far above float noise.
        if (method.targetIndependent) assert.ok(largest < 1e-6, `${name} says it ignores the target (max difference ${largest})`);
        else assert.ok(largest > 0.05, `${name}: class ${other} gives another map (max difference ${largest})`);
      });

      it('can be cancelled: aborted before the run or at its first progress report, it rejects with CancelledError', async () => {
        const before = new AbortController();
        before.abort();
        await assert.rejects(run({ kind: 'class', index: 'top' }, before.signal), CancelledError);
        const during = new AbortController();
        await assert.rejects(
          run({ kind: 'class', index: 'top' }, during.signal, () => during.abort()),
          CancelledError,
        );
      });
    });
  }
});
