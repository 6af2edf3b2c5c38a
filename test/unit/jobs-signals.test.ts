// The compute worker's jobs on inputs that are not pictures (issue #13): the 1-D sample
// (sample/signal1d.onnx, trained by sample/train_signal.py on signals whose event interval is
// known) with its .npy and WAV examples, and the 3-D test model (test/models/video3d.onnx) with a
// .npy clip. Inputs load by path and dropped; a file of the wrong kind is refused in one sentence;
// maps come with the input's shape; the gradient methods and Grad-CAM point into the known event.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { ComputeClient } from '../../src/compute/client';
import { ndInputView, SHOWN_CHANNELS } from '../../src/compute/jobs/nd-inputs';
import { pointingGame } from '../../src/core/explain/faithfulness';
import { parseNpy } from '../../src/core/npy';
import { parseWav } from '../../src/core/wav';
import { float32 } from '../../src/core/tensor';
import { isMapData, parseWebviewMessage } from '../../src/protocol';

const ROOT = path.resolve(__dirname, '../../..');
const WORKER = path.join(ROOT, 'out/src/compute/worker.js');
const SIGNAL_MODEL = path.join(ROOT, 'sample/signal1d.onnx');
const SIGNALS = path.join(ROOT, 'sample/signals');
const VIDEO_MODEL = path.join(ROOT, 'test/models/video3d.onnx');
const IMAGE_MODEL = path.join(ROOT, 'sample/shapes.onnx');
const PNG_FILE = path.join(ROOT, 'sample/dataset/test/circle/0.png');

interface Events {
  length: number;
  classes: string[];
  files: Record<string, { class: string; interval: [number, number] | null; predicted: string }>;
}
const events = JSON.parse(fs.readFileSync(path.join(SIGNALS, 'events.json'), 'utf8')) as Events;

describe('compute worker jobs on signals and videos', function () {
  this.timeout(120_000);
  let client: ComputeClient;
  before(async () => {
    client = new ComputeClient(WORKER);
    const model = await client.call('openModel', { modelPath: SIGNAL_MODEL, provider: 'cpu' });
    assert.deepStrictEqual(model.inputs[0].shape, [1, 1, 256]);
    assert.strictEqual(model.gradientProblem, undefined);
    assert.ok(model.defaultCamLayer, 'a CAM layer is found before the pooling');
  });
  after(() => client.dispose());

  const loadPath = (file: string, modelPath = SIGNAL_MODEL) => client.call('loadImage', { modelPath, imagePath: path.join(SIGNALS, file) });
  const loadDropped = (file: string, modelPath = SIGNAL_MODEL) =>
    client.call('loadImage', { modelPath, name: path.basename(file), base64: fs.readFileSync(file).toString('base64') });

  it('loads a .npy example by path with its values for the line plot, and predicts its class with the labels file', async () => {
    for (const [file, event] of Object.entries(events.files).filter(([f]) => f.endsWith('.npy'))) {
      const view = await loadPath(file);
      const tensor = parseNpy(new Uint8Array(fs.readFileSync(path.join(SIGNALS, file))));
      assert.deepStrictEqual([view.width, view.height, view.signal?.channels, view.signal?.length], [256, 1, 1, 256]);
      const data = tensor.data as Float32Array;
      assert.ok(
        view.signal!.values.every((v, i) => Math.abs(v - data[i]) <= 5e-5),
        `${file}: the values as read, rounded to 1e-4`,
      );
      assert.match(view.dataUrl, /^data:image\/png;base64,/);
      const top = await client.call('predict', { modelPath: SIGNAL_MODEL, imageId: view.id, topK: 3 });
      assert.deepStrictEqual(top.map((p) => p.label).sort(), [...events.classes].sort());
      assert.strictEqual(top[0].label, event.class, `${file} is predicted as its class`);
    }
  });

  it('loads a dropped WAV file as [1, channels, samples], the values the WAV reader gives', async () => {
    const file = path.join(SIGNALS, 'chirp-1.wav');
    const view = await loadDropped(file);
    const { tensor } = parseWav(new Uint8Array(fs.readFileSync(file)));
    assert.deepStrictEqual([view.signal?.channels, view.signal?.length], [1, 256]);
    assert.ok(view.signal!.values.every((v, i) => Math.abs(v - tensor.data[i]) <= 5e-5));
    const top = await client.call('predict', { modelPath: SIGNAL_MODEL, imageId: view.id, topK: 1 });
    assert.strictEqual(top[0].label, 'chirp');
  });

  it('refuses a picture for a signal model, and a WAV for an image model, in one sentence that says what to choose', async () => {
    const sentence = /: circle-0\.png is an image, but signal1d\.onnx takes a signal \[1, 1, 256\]: choose a \.npy tensor or a WAV file of that shape\.$/;
    const copy = path.join(ROOT, 'out', 'circle-0.png');
    fs.copyFileSync(PNG_FILE, copy);
    await assert.rejects(client.call('loadImage', { modelPath: SIGNAL_MODEL, imagePath: copy }), sentence);
    await assert.rejects(loadDropped(copy), sentence);
    await client.call('openModel', { modelPath: IMAGE_MODEL, provider: 'cpu' });
    await assert.rejects(loadPath('chirp-1.wav', IMAGE_MODEL), /: chirp-1\.wav is audio \(WAV\), but shapes\.onnx takes images \[[^\]]+\]: choose a PNG or JPEG image\.$/);
    await assert.rejects(loadDropped(path.join(SIGNALS, 'chirp-1.wav'), IMAGE_MODEL), /is audio \(WAV\), but shapes\.onnx takes images/);
    // A .npy of a signal's shape is not an image model's input (read as an unbatched [C, H, W]): the reader names both shapes.
    await assert.rejects(loadPath('tone-0.npy', IMAGE_MODEL), /tone-0\.npy has shape \[1, 1, 1, 256\] but the model expects \[batch, 3, 64, 64\]/);
    await client.call('closeModel', { modelPath: IMAGE_MODEL });
  });

  it('a dropped .npy over the value limit is refused from its header, before its data is read', async () => {
    // A header declaring [1, 1, 10^9] float32 values (4 GB) followed by no data.
    const header = "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 1000000000), }";
    const padded = header + ' '.repeat(64 - ((10 + header.length + 1) % 64)) + '\n';
    const bytes = Buffer.concat([Buffer.from([0x93]), Buffer.from('NUMPY'), Buffer.from([1, 0, padded.length, 0]), Buffer.from(padded, 'latin1')]);
    await assert.rejects(
      client.call('loadImage', { modelPath: SIGNAL_MODEL, name: 'huge.npy', base64: bytes.toString('base64') }),
      /huge\.npy declares shape \[1, 1, 1000000000\] .* over the limit of/,
    );
  });

  for (const method of ['gradcam', 'saliency', 'integrated-gradients']) {
    it(`${method}: a map with the signal's shape that points into the known event of each example`, async () => {
      for (const [file, event] of Object.entries(events.files)) {
        if (!event.interval) continue;
        const view = file.endsWith('.wav') ? await loadDropped(path.join(SIGNALS, file)) : await loadPath(file);
        const e = await client.call('explain', { modelPath: SIGNAL_MODEL, imageId: view.id, method, layer: 'auto', target: { kind: 'top' }, faithfulness: true });
        assert.deepStrictEqual([e.map.shape, e.map.width, e.map.height, e.map.values.length], [[256], 256, 1, 256]);
        assert.ok(isMapData(e.map), 'the map is well formed');
        // Deletion and insertion along the samples: removing the map's samples first destroys the
        // score faster than restoring them first brings it back.
        assert.ok(e.faithfulness && e.faithfulness.deletionAuc < e.faithfulness.insertionAuc, `${method} on ${file}: ${JSON.stringify(e.faithfulness)}`);
        // The pointing game on the event's samples [start, end) (inclusive bounds end − 1), on the map as a 1 × L grid.
        const [start, end] = event.interval;
        const game = pointingGame(float32([1, 256], e.map.values), { x0: start, y0: 0, x1: end - 1, y1: 0 });
        assert.ok(game.hit, `${method} on ${file}: the peak at sample ${game.peak.x} is in the event [${start}, ${end})`);
      }
    });
  }

  it('exports the raw map as .npy with its real shape, and the view’s figure as the PNG with the metadata added', async () => {
    const view = await loadPath('tone-0.npy');
    const e = await client.call('explain', { modelPath: SIGNAL_MODEL, imageId: view.id, method: 'saliency', layer: 'auto', target: { kind: 'top' } });
    const npy = parseNpy((await client.call('exportExplanation', { explanationId: e.id, format: 'npy', colormap: 'viridis', opacity: 0.5 })).bytes);
    assert.deepStrictEqual(npy.dims, [1, 1, 256]);
    // A 2×1 PNG as a view would send it (the protocol checks the data URL; the worker checks the PNG).
    const figure = fs.readFileSync(PNG_FILE);
    const message = { type: 'export', explanationId: e.id, format: 'png', colormap: 'viridis', opacity: 0.5, figure: `data:image/png;base64,${figure.toString('base64')}` };
    assert.ok(parseWebviewMessage(message), 'an export with a figure is well formed');
    assert.strictEqual(parseWebviewMessage({ ...message, figure: 'data:text/html;base64,PGI+' }), undefined, 'only a PNG data URL is a figure');
    const png = await client.call('exportExplanation', { explanationId: e.id, format: 'png', colormap: 'viridis', opacity: 0.5, figure: message.figure });
    const text = Buffer.from(png.bytes).toString('latin1');
    assert.ok(text.includes('tEXt') && text.includes('Method\0saliency') && text.includes('as drawn'), 'the metadata is in the figure');
    assert.strictEqual(png.bytes.length > figure.length, true);
    await assert.rejects(
      client.call('exportExplanation', { explanationId: e.id, format: 'png', colormap: 'viridis', opacity: 0.5, figure: 'data:image/png;base64,AAAA' }),
      /not a PNG/,
    );
    // Without a figure the worker draws the map as a strip as wide as the signal.
    const strip = await client.call('exportExplanation', { explanationId: e.id, format: 'png', colormap: 'viridis', opacity: 0.5 });
    assert.strictEqual(Buffer.from(strip.bytes).readUInt32BE(16), 256);
  });

  it('a video model takes a .npy clip: T frames to show, and maps [T, H, W] from a CAM and a gradient method', async () => {
    await client.call('openModel', { modelPath: VIDEO_MODEL, provider: 'cpu' });
    const view = await client.call('loadImage', { modelPath: VIDEO_MODEL, imagePath: path.join(ROOT, 'test/models/video3d.input.npy') });
    assert.deepStrictEqual([view.frames?.length, view.width, view.height, view.signal], [4, 8, 8, undefined]);
    assert.ok(view.frames!.every((f) => f.startsWith('data:image/png;base64,')));
    for (const method of ['gradcam', 'saliency']) {
      const e = await client.call('explain', { modelPath: VIDEO_MODEL, imageId: view.id, method, layer: 'auto', target: { kind: 'top' } });
      assert.deepStrictEqual([e.map.shape, e.map.width, e.map.height, e.map.values.length], [[4, 8, 8], 8, 8, 256]);
      assert.ok(isMapData(e.map));
    }
    await assert.rejects(
      loadDropped(path.join(SIGNALS, 'chirp-1.wav'), VIDEO_MODEL),
      /is audio \(WAV\), but video3d\.onnx takes a video clip \[1, 1, 4, 8, 8\]: choose a \.npy tensor/,
    );
    await client.call('closeModel', { modelPath: VIDEO_MODEL });
  });
});

describe('signal inputs as the view gets them', () => {
  it('a signal of six channels sends the values of the four it draws, channel after channel, and says it has six', () => {
    const data = Float32Array.from({ length: 60 }, (_, i) => Math.floor(i / 10) + (i % 10) / 100);
    const view = ndInputView(float32([1, 6, 10], data))!;
    assert.deepStrictEqual([view.signal!.channels, view.signal!.length, view.signal!.values.length, SHOWN_CHANNELS], [6, 10, 40, 4]);
    assert.deepStrictEqual(
      view.signal!.values,
      Array.from(data.subarray(0, 40), (v) => Math.round(v * 1e4) / 1e4),
    );
    assert.deepStrictEqual([view.width, view.height], [10, 1]);
  });
});

describe('protocol: maps with a shape', () => {
  it('isMapData holds a plane, a signal [L] and a video [T, H, W] whose values fill the shape, and refuses the rest', () => {
    assert.ok(isMapData({ width: 3, height: 2, values: [0, 0, 0, 0, 0, 1] }));
    assert.ok(isMapData({ width: 5, height: 1, values: [0, 0.5, 1, 0, 0], shape: [5], signed: false }));
    assert.ok(isMapData({ width: 2, height: 2, values: Array(12).fill(0), shape: [3, 2, 2] }));
    assert.ok(!isMapData({ width: 5, height: 1, values: [0, 0, 0, 0], shape: [5] }), 'too few values');
    assert.ok(!isMapData({ width: 4, height: 1, values: [0, 0, 0, 0, 0], shape: [5] }), 'width is not the length');
    assert.ok(!isMapData({ width: 2, height: 2, values: Array(12).fill(0), shape: [3, 2, 3] }), 'width is not the last axis');
    assert.ok(!isMapData({ width: 2, height: 2, values: Array(4).fill('x'), shape: [1, 2, 2] }), 'values are numbers');
    assert.ok(!isMapData({ width: 1, height: 1, values: [0], shape: [1, 1, 1, 1] }), 'at most three axes');
  });
});
