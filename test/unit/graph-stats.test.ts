// The graph view's statistics (src/core/graph/stats.ts) against their definitions, streamed in
// groups within the activation limit with the same results as one run, and the graph job through
// the real worker on the sample model (sample/shapes.onnx): layout without overlaps, an edge per
// tensor read, statistics equal to each layer's output read on its own.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import * as ort from 'onnxruntime-node';
import { PNG } from 'pngjs';
import { graphStructure } from '../../src/core/graph/layout';
import { graphStats, outputBounds, tensorStats } from '../../src/core/graph/stats';
import { ConvModel } from '../../src/core/model';
import { DataType, GraphProto, NodeProto } from '../../src/core/onnx/proto';
import { ComputeClient } from '../../src/compute/client';
import { Tensor } from '../../src/core/tensor';
import { type GraphView, parseWebviewMessage } from '../../src/protocol';

const ROOT = path.resolve(__dirname, '../../..');
const WORKER = path.join(ROOT, 'out/src/compute/worker.js');
const MODEL = path.join(ROOT, 'sample/shapes.onnx');
const IMAGE = path.join(ROOT, 'sample/images/star.png');

const f32 = (dims: number[], values: number[]): Tensor => ({ dtype: 'float32', dims, data: Float32Array.from(values) });

/** Mean, max and zero fraction of a tensor by the plain definitions, in float64. */
function reference(t: Tensor): { mean: number; max: number; zeroFraction: number } {
  const values = Array.from(t.data as Float32Array);
  return { mean: values.reduce((a, b) => a + b, 0) / values.length, max: Math.max(...values), zeroFraction: values.filter((v) => v === 0).length / values.length };
}

describe('graph statistics', () => {
  it('gives mean, max, zero fraction and dead channels (no positive value in any item) of [N, C, ...]', () => {
    // [2 items, 2 channels, 1, 2]: channel 0 is ≤ 0 in both items; channel 1 is positive in item 0 only.
    const t = f32([2, 2, 1, 2], [-1, 0, /**/ 0, 2, /**/ 0, -3, /**/ -1, 0]);
    const s = tensorStats(t);
    assert.deepStrictEqual({ mean: s.mean, max: s.max, zeroFraction: s.zeroFraction }, reference(t));
    assert.strictEqual(s.channels, 2);
    assert.strictEqual(s.dead, 1);
    assert.strictEqual(s.saturated, undefined, 'an unbounded op has no saturation');
  });

  it('counts channels saturated at a bound everywhere (within 1e-3 of the range), a dead one at 0 included', () => {
    // Sigmoid-like bounds [0, 1]: channel 0 at 1, 1, 0 and 0 (within 1e-3); channel 1 has 0.5 inside; channel 2 is all 0.
    const t = f32([1, 3, 2, 2], [1, 0.9995, 0.0004, 0, /**/ 1, 0.5, 1, 1, /**/ 0, 0, 0, 0]);
    const s = tensorStats(t, [0, 1]);
    assert.strictEqual(s.saturated, 2);
    assert.strictEqual(s.dead, 1);
  });

  it('thumbnails the mean over channels, box-averaged to at most 32 px a side', () => {
    const [c, h, w] = [3, 64, 40];
    const values = Array.from({ length: c * h * w }, (_, i) => Math.sin(i * 0.37));
    const s = tensorStats(f32([1, c, h, w], values));
    const thumb = s.thumbnail!;
    assert.deepStrictEqual([thumb.width, thumb.height], [20, 32]);
    // Cell (row 5, column 7) averages input rows 10–11, columns 14–15, over the channels.
    let sum = 0;
    for (let k = 0; k < c; k++) for (const y of [10, 11]) for (const x of [14, 15]) sum += values[(k * h + y) * w + x];
    assert.ok(Math.abs(thumb.values[5 * 20 + 7] - sum / 12) < 1e-6);
  });

  it('the protocol takes a graph request with or without an image id, and refuses other params', () => {
    const request = (params: unknown) => parseWebviewMessage({ type: 'request', requestId: 'r1', kind: 'graph', params });
    assert.ok(request({}));
    assert.ok(request({ imageId: 'img-3' }));
    assert.strictEqual(request({ imageId: '../model.onnx' }), undefined);
    assert.strictEqual(request({ imageId: 3 }), undefined);
    assert.strictEqual(request(undefined), undefined);
  });

  it('takes the bounds of Sigmoid, Tanh, HardSigmoid and Clip (attributes or initializers), none for Relu', () => {
    const graph: GraphProto = {
      name: 'g',
      node: [],
      input: [],
      output: [],
      initializer: [
        { name: 'lo', data_type: DataType.FLOAT, dims: [], float_data: [0] },
        { name: 'hi', data_type: DataType.FLOAT, dims: [], float_data: [6] },
      ],
    };
    const node = (op_type: string, input: string[], attribute: NodeProto['attribute'] = []): NodeProto => ({ op_type, input, output: ['y'], attribute });
    assert.deepStrictEqual(outputBounds(node('Sigmoid', ['x']), graph), [0, 1]);
    assert.deepStrictEqual(outputBounds(node('HardSigmoid', ['x']), graph), [0, 1]);
    assert.deepStrictEqual(outputBounds(node('Tanh', ['x']), graph), [-1, 1]);
    assert.deepStrictEqual(outputBounds(node('Clip', ['x', 'lo', 'hi']), graph), [0, 6]);
    assert.deepStrictEqual(
      outputBounds(
        node(
          'Clip',
          ['x'],
          [
            { name: 'min', type: 1, f: -1 },
            { name: 'max', type: 1, f: 1 },
          ],
        ),
        graph,
      ),
      [-1, 1],
    );
    assert.strictEqual(outputBounds(node('Clip', ['x', 'lo']), graph), undefined, 'no upper bound: nothing to saturate at');
    assert.strictEqual(outputBounds(node('Clip', ['x', 'computed', 'hi']), graph), undefined, 'a computed bound is not known before the run');
    assert.strictEqual(outputBounds(node('Relu', ['x']), graph), undefined);
  });
});

/** Counts the onnxruntime sessions created while `body` runs. */
async function countingSessions<T>(body: () => Promise<T>): Promise<{ result: T; sessions: number }> {
  const create = ort.InferenceSession.create;
  let sessions = 0;
  (ort.InferenceSession as { create: unknown }).create = (...args: unknown[]) => {
    sessions++;
    return (create as (...a: unknown[]) => unknown).apply(ort.InferenceSession, args);
  };
  try {
    return { result: await body(), sessions };
  } finally {
    (ort.InferenceSession as { create: unknown }).create = create;
  }
}

describe('graph statistics on the sample model, streamed within the activation limit', function () {
  before(function () {
    if (!fs.existsSync(MODEL)) this.skip();
  });

  it('gives each layer the statistics of its output read on its own, in one group or in many', async () => {
    const roomy = ConvModel.load(MODEL, { provider: 'cpu' });
    // 0.1 MiB: the first conv's output [1, 16, 64, 64] (0.25 MiB) alone is over it, the rest go a few at a time.
    const tight = ConvModel.load(MODEL, { provider: 'cpu', activationMemory: { maxMegabytes: 0.1 } });
    try {
      const dims = roomy.inputDims();
      const input: Tensor = f32(
        dims,
        Array.from({ length: dims.reduce((a, b) => a * b, 1) }, (_, i) => Math.cos(i * 0.11)),
      );
      const feeds = { [roomy.input.name]: input };
      const targets = roomy.graph.node.map((n) => ({ tensor: n.output[0] }));
      await roomy.probeShapes();
      await tight.probeShapes();
      const one = await countingSessions(() => graphStats(roomy, feeds, targets));
      const many = await countingSessions(() => graphStats(tight, feeds, targets));
      assert.strictEqual(one.sessions, 1);
      assert.ok(many.sessions > 2, `${many.sessions} groups`);
      assert.strictEqual(one.result.stats.size, targets.length);
      const big = [...many.result.skipped.entries()].filter(([, reason]) => reason.includes('limit')).map(([t]) => t);
      assert.ok(big.length > 0 && big.length < targets.length, 'some outputs alone are over 0.1 MiB, not all');
      for (const { tensor } of targets) {
        const own = (await roomy.run(feeds, [tensor]))[tensor];
        const s = one.result.stats.get(tensor)!;
        const r = reference(own);
        assert.ok(Math.abs(s.mean - r.mean) <= 1e-5 * Math.max(1, Math.abs(r.mean)), `${tensor} mean`);
        assert.strictEqual(s.max, r.max, `${tensor} max`);
        assert.strictEqual(s.zeroFraction, r.zeroFraction, `${tensor} zeros`);
        if (!big.includes(tensor)) assert.deepStrictEqual(many.result.stats.get(tensor), s, `${tensor} in groups`);
      }
    } finally {
      await roomy.dispose();
      await tight.dispose();
    }
  });
});

describe('compute worker: the graph job on the sample model', function () {
  let client: ComputeClient;
  let layout: GraphView;
  before(async function () {
    if (!fs.existsSync(MODEL)) this.skip();
    client = new ComputeClient(WORKER);
    await client.call('openModel', { modelPath: MODEL, provider: 'cpu' });
    layout = await client.call('graph', { modelPath: MODEL });
  });
  after(async () => client?.dispose());

  it('lays out one node per graph input and node, an edge per tensor read, no two nodes overlapping', () => {
    const model = ConvModel.load(MODEL, { provider: 'cpu' });
    const structure = graphStructure(model.graph);
    assert.strictEqual(layout.nodes.length, 1 + model.graph.node.length);
    assert.deepStrictEqual(
      layout.edges.map((e) => [e.from, e.to]),
      structure.edges.map((e) => [e.from, e.to]),
    );
    assert.strictEqual(layout.edges.length, model.graph.node.length, 'a chain: each node reads its predecessor');
    for (const e of layout.edges) assert.ok(e.points.length >= 4, 'each edge is routed');
    for (const [i, a] of layout.nodes.entries()) {
      for (const b of layout.nodes.slice(i + 1)) {
        const apart = Math.abs(a.x - b.x) >= (a.width + b.width) / 2 || Math.abs(a.y - b.y) >= (a.height + b.height) / 2;
        assert.ok(apart, `${a.name} and ${b.name} overlap`);
      }
    }
    assert.deepStrictEqual(layout.nodes.find((n) => n.opType === 'Conv')?.shape, [1, 16, 64, 64]);
    assert.strictEqual(
      layout.nodes.some((n) => n.stats),
      false,
      'no image, no statistics',
    );
  });

  it("adds every layer's statistics and a thumbnail of at most 32 px for spatial outputs, for the image", async () => {
    const image = await client.call('loadImage', { modelPath: MODEL, imagePath: IMAGE });
    const view = await client.call('graph', { modelPath: MODEL, imageId: image.id });
    assert.strictEqual(view.imageId, image.id);
    assert.deepStrictEqual(
      view.nodes.map((n) => [n.name, n.x, n.y]),
      layout.nodes.map((n) => [n.name, n.x, n.y]),
      'the same layout',
    );
    for (const node of view.nodes.slice(1)) {
      const s = node.stats;
      assert.ok(s, `${node.name} has statistics`);
      assert.strictEqual(s.channels, node.shape![1]);
      assert.ok(s.dead >= 0 && s.dead <= s.channels && s.zeroFraction >= 0 && s.zeroFraction <= 1);
      if (node.opType === 'Relu') assert.ok(s.zeroFraction > 0 && s.mean >= 0, `${node.name}: a ReLU output has zeros, no negatives`);
      if (node.shape!.length === 4) {
        const png = PNG.sync.read(Buffer.from(s.thumbnail!.slice(s.thumbnail!.indexOf(',') + 1), 'base64'));
        assert.ok(Math.max(png.width, png.height) <= 32 && png.width === Math.ceil(node.shape![3] / Math.ceil(Math.max(node.shape![2], node.shape![3]) / 32)));
      } else {
        assert.strictEqual(s.thumbnail, undefined);
      }
    }
  });
});
