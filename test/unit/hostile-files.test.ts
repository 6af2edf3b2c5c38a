// Hostile models and files (issue #12): every file the core reads goes through files.ts's checked
// reader. Each case builds the hostile file at test time in a temp folder and asserts the one
// sentence that refuses it, through the core API and through the CLI (bin/convlens.js as a child
// process), and that nothing of a file outside the model's folder leaks: neither its lines nor
// its line count. External-data models are built from the sample model's own weights, so their
// results must equal the sample's.
import * as assert from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ModelContext } from '../../src/core/context';
import { explain } from '../../src/core/explain';
import { FileReadError, readFileChecked } from '../../src/core/files';
import { ImageDecodeError, readImageFile } from '../../src/core/image/decode';
import { LabelsError } from '../../src/core/labels/labels';
import { ModelLoadError } from '../../src/core/model';
import { parseNpy } from '../../src/core/npy';
import { ModelProto, TensorProto, decodeModel, encodeModel } from '../../src/core/onnx/proto';
import { PreprocessSpecError, METADATA_KEY, resolvePreprocessing } from '../../src/core/preprocess';
import { FloatTensor } from '../../src/core/tensor';
import { assertClose } from '../support/reference';

const ROOT = path.resolve(__dirname, '../../..');
const SAMPLE = path.join(ROOT, 'sample');
const SAMPLE_MODEL = path.join(SAMPLE, 'shapes.onnx');
const IMAGE = path.join(SAMPLE, 'images', 'circle.png');
const CLI = path.join(ROOT, 'bin', 'convlens.js');
const EXTERNAL = path.join(ROOT, 'test', 'models', 'external-data');
const PASSWD_LINES = fs.existsSync('/etc/passwd') ? fs.readFileSync('/etc/passwd', 'utf8').trim().split('\n').length : 0;

function tempFolder(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'convlens-hostile-'));
}

function sampleProto(): ModelProto {
  return decodeModel(fs.readFileSync(SAMPLE_MODEL));
}

/** The sample model in `folder` as `name`, its `convlens.preprocess` metadata replaced by `metadata`. */
function writeModel(folder: string, metadata: unknown, name = 'net.onnx'): string {
  const proto = sampleProto();
  proto.metadata_props = [{ key: METADATA_KEY, value: JSON.stringify(metadata) }];
  const file = path.join(folder, name);
  fs.writeFileSync(file, encodeModel(proto));
  return file;
}

/** The sample model with every initializer moved to `location` (resolved in `folder`), as onnx.save_model(save_as_external_data=True) lays it out. */
function writeExternalModel(folder: string, location = 'net.weights', dataFile = path.resolve(folder, location)): string {
  const proto = sampleProto();
  const chunks: Buffer[] = [];
  let offset = 0;
  proto.graph!.initializer = proto.graph!.initializer!.map((t): TensorProto => {
    const raw = t.raw_data ? Buffer.from(t.raw_data) : Buffer.from(Float32Array.from(t.float_data ?? []).buffer);
    const entry = { key: 'offset', value: String(offset) };
    chunks.push(raw);
    offset += raw.length;
    return {
      name: t.name,
      dims: t.dims,
      data_type: t.data_type,
      data_location: 1,
      external_data: [{ key: 'location', value: location }, entry, { key: 'length', value: String(raw.length) }],
    };
  });
  fs.writeFileSync(dataFile, Buffer.concat(chunks));
  const file = path.join(folder, 'net.onnx');
  fs.writeFileSync(file, encodeModel(proto));
  return file;
}

function mkfifo(file: string): void {
  const made = spawnSync('mkfifo', [file]);
  assert.strictEqual(made.status, 0, `mkfifo: ${made.stderr}`);
}

/** Runs the CLI; it must fail with one line on stderr, which is returned. */
function cliRefusal(...args: string[]): string {
  const run = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 60_000 });
  assert.strictEqual(run.status, 1, `exit code (stderr: ${run.stderr})`);
  assert.strictEqual(run.stdout, '');
  const lines = run.stderr.trimEnd().split('\n');
  assert.strictEqual(lines.length, 1, `one line on stderr: ${run.stderr}`);
  return lines[0];
}

/** Nothing of /etc/passwd: no line of it (its first field, the user name), no count of its lines. */
function assertNoPasswdLeak(message: string): void {
  assert.ok(!/root|daemon|nologin|:x:/.test(message), `leaks /etc/passwd: ${message}`);
  if (PASSWD_LINES > 0) assert.ok(!message.includes(`${PASSWD_LINES} names`), `leaks the line count: ${message}`);
}

function refusal(body: () => unknown, type: new (...args: never[]) => Error): string {
  let caught: unknown;
  try {
    body();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof type, `expected ${type.name}, got ${caught}`);
  const message = (caught as Error).message;
  assert.ok(!message.includes('\n'), `one sentence: ${message}`);
  return message;
}

describe('hostile files: labels named by a model, a sidecar or settings', () => {
  const metadataOrigin = `model metadata '${METADATA_KEY}'`;

  for (const named of ['/etc/passwd', '../../../../etc/passwd', '/etc/hostname', '/dev/zero']) {
    it(`refuses metadata labels ${named} as outside the model's folder, through the API and the CLI`, () => {
      const model = writeModel(tempFolder(), { labels: named });
      const expected = `labels file ${JSON.stringify(named)} named by ${metadataOrigin} is outside the model's folder; only files inside it are read`;
      assert.strictEqual(
        refusal(() => ModelContext.open(model), LabelsError),
        expected,
      );
      const line = cliRefusal('predict', model, IMAGE);
      assert.strictEqual(line, `convlens predict: ${expected}`);
      assertNoPasswdLeak(line);
    });
  }

  it('refuses a symlink inside the folder that leads out of it, to a file or a device', () => {
    const folder = tempFolder();
    fs.symlinkSync('/etc/passwd', path.join(folder, 'classes.txt'));
    fs.symlinkSync('/dev/zero', path.join(folder, 'zero.txt'));
    for (const name of ['classes.txt', 'zero.txt']) {
      const model = writeModel(folder, { labels: name }, `${name}.onnx`);
      const expected = `labels file ${JSON.stringify(name)} named by ${metadataOrigin} is outside the model's folder; only files inside it are read`;
      assert.strictEqual(
        refusal(() => ModelContext.open(model), LabelsError),
        expected,
      );
      assertNoPasswdLeak(cliRefusal('predict', model, IMAGE));
    }
  });

  it('refuses a FIFO inside the folder without waiting on it', () => {
    const folder = tempFolder();
    mkfifo(path.join(folder, 'pipe.txt'));
    const model = writeModel(folder, { labels: 'pipe.txt' });
    const expected = `labels file "pipe.txt" named by ${metadataOrigin} is not a regular file (a device, pipe or socket); only regular files are read`;
    assert.strictEqual(
      refusal(() => ModelContext.open(model), LabelsError),
      expected,
    );
    assert.strictEqual(cliRefusal('predict', model, IMAGE), `convlens predict: ${expected}`);
  });

  it('refuses a labels file over the size limit, naming the limit', () => {
    const folder = tempFolder();
    fs.writeFileSync(path.join(folder, 'huge.txt'), Buffer.alloc(17 * 2 ** 20, 0x61));
    const model = writeModel(folder, { labels: 'huge.txt' });
    assert.strictEqual(
      refusal(() => ModelContext.open(model), LabelsError),
      `labels file "huge.txt" named by ${metadataOrigin} is 17 MiB, over the limit of 16 MiB; a labels file holds one class name per line`,
    );
  });

  it('refuses labels a sidecar names outside the folder, and a sidecar that links out', () => {
    const outer = tempFolder();
    const folder = path.join(outer, 'model');
    fs.mkdirSync(folder);
    fs.writeFileSync(path.join(outer, 'secret.txt'), 'alpha\nbeta\ngamma\ndelta\n');
    const model = writeModel(folder, {});
    fs.writeFileSync(path.join(folder, 'net.convlens.json'), JSON.stringify({ labels: '../secret.txt' }));
    assert.strictEqual(
      refusal(() => ModelContext.open(model), LabelsError),
      'labels file "../secret.txt" named by net.convlens.json is outside the model\'s folder; only files inside it are read',
    );
    fs.rmSync(path.join(folder, 'net.convlens.json'));
    fs.symlinkSync('/etc/passwd', path.join(folder, 'net.convlens.json'));
    const message = refusal(() => resolvePreprocessing({ modelPath: model, inputShape: [1, 3, 64, 64] }), PreprocessSpecError);
    assert.strictEqual(message, 'sidecar "net.convlens.json" is outside the model\'s folder; only files inside it are read');
  });

  it('keeps labels named in settings inside the workspace folder the VS Code layer gives', () => {
    const workspace = tempFolder();
    const folder = path.join(workspace, 'models');
    fs.mkdirSync(folder);
    fs.writeFileSync(path.join(workspace, 'shapes.txt'), 'o\n[]\n*\n^\n');
    const model = writeModel(folder, {});
    const inside = ModelContext.open(model, { preprocessing: { labels: 'shapes.txt' } as never, settingsFolder: workspace });
    assert.deepStrictEqual(inside.labels, ['o', '[]', '*', '^']);
    assert.strictEqual(
      refusal(() => ModelContext.open(model, { preprocessing: { labels: '/etc/passwd' } as never, settingsFolder: workspace }), LabelsError),
      'labels file "/etc/passwd" named by settings is outside the workspace; only files inside it are read',
    );
  });

  it('takes labels inline in the metadata, as a list or an {index: name} object', () => {
    const folder = tempFolder();
    const list = ModelContext.open(writeModel(folder, { labels: ['a', 'b', 'c', 'd'] }, 'list.onnx'));
    assert.deepStrictEqual(list.labels, ['a', 'b', 'c', 'd']);
    const object = ModelContext.open(writeModel(folder, { labels: { 1: 'b', 0: 'a', 3: 'd', 2: 'c' } }, 'object.onnx'));
    assert.deepStrictEqual(object.labels, ['a', 'b', 'c', 'd']);
    assert.strictEqual(
      refusal(() => ModelContext.open(writeModel(folder, { labels: ['a'] }, 'short.onnx')), LabelsError),
      `'labels' in ${metadataOrigin} has 1 names but the model has 4 outputs`,
    );
  });
});

describe('hostile files: images, .npy and model files', () => {
  it('refuses a device, a link to a device and a FIFO named as an image, without reading them', () => {
    const folder = tempFolder();
    fs.symlinkSync('/dev/zero', path.join(folder, 'zero.png'));
    mkfifo(path.join(folder, 'pipe.png'));
    mkfifo(path.join(folder, 'pipe.npy'));
    for (const [file, what] of [
      ['/dev/zero', 'image file'],
      [path.join(folder, 'zero.png'), 'image file'],
      [path.join(folder, 'pipe.png'), 'image file'],
      [path.join(folder, 'pipe.npy'), '.npy file'],
    ]) {
      const expected = `${what} ${JSON.stringify(file)} is not a regular file (a device, pipe or socket); only regular files are read`;
      assert.strictEqual(
        refusal(() => readImageFile(file), ImageDecodeError),
        expected,
      );
      assert.strictEqual(cliRefusal('predict', SAMPLE_MODEL, file), `convlens predict: ${expected}`);
    }
  });

  it('refuses a model file that is a FIFO or a device', () => {
    const folder = tempFolder();
    mkfifo(path.join(folder, 'pipe.onnx'));
    for (const file of [path.join(folder, 'pipe.onnx'), '/dev/zero']) {
      const expected = `model file ${JSON.stringify(file)} is not a regular file (a device, pipe or socket); only regular files are read`;
      assert.strictEqual(
        refusal(() => ModelContext.open(file), ModelLoadError),
        expected,
      );
      assert.strictEqual(cliRefusal('inspect', file), `convlens inspect: ${expected}`);
    }
  });

  it('reads from the descriptor it checked, and escapes odd paths in the sentence', () => {
    const folder = tempFolder();
    const odd = path.join(folder, 'two\nlines.txt');
    fs.writeFileSync(odd, Buffer.alloc(2 * 2 ** 20, 0x78));
    assert.strictEqual(readFileChecked(odd, { what: 'file', maxBytes: 2 * 2 ** 20, limitHint: '' }).length, 2 * 2 ** 20);
    const message = refusal(() => readFileChecked(odd, { what: 'file', maxBytes: 2 ** 20, limitHint: 'raise it with --flag' }), FileReadError);
    assert.strictEqual(message, `file "${folder}/two\\nlines.txt" is 2 MiB, over the limit of 1 MiB; raise it with --flag`);
  });
});

describe('hostile files: models with external data', () => {
  let original: ModelContext;
  before(() => {
    original = ModelContext.open(SAMPLE_MODEL);
  });
  after(async () => {
    await original.dispose();
  });

  it('opens, predicts, and explains with a gradient method and a CAM exactly as the same model inline', async () => {
    const folder = tempFolder();
    fs.copyFileSync(path.join(SAMPLE, 'shapes.convlens.json'), path.join(folder, 'net.convlens.json'));
    fs.copyFileSync(path.join(SAMPLE, 'shapes.labels.txt'), path.join(folder, 'shapes.labels.txt'));
    const ctx = ModelContext.open(writeExternalModel(folder));
    try {
      assert.deepStrictEqual(ctx.labels, original.labels);
      assert.deepStrictEqual(ctx.preprocessing?.spec, original.preprocessing?.spec);
      const input = ctx.loadInput(IMAGE).tensor;
      const [mine, theirs] = [await ctx.predict(input, 4), await original.predict(input, 4)];
      assert.deepStrictEqual(Array.from(mine.logits.data as Float32Array), Array.from(theirs.logits.data as Float32Array));
      for (const method of ['input-x-gradient', 'gradcam']) {
        const target = { kind: 'class' as const, index: 'top' as const };
        const [a, b] = [await explain(method, { model: ctx.model, input, target }), await explain(method, { model: original.model, input, target })];
        assert.deepStrictEqual(Array.from(a.raw.data as Float32Array), Array.from(b.raw.data as Float32Array), method);
      }
    } finally {
      await ctx.dispose();
    }
  });

  it('matches PyTorch on a model saved by onnx.save_model(save_as_external_data=True): logits, input × gradient, Grad-CAM', async () => {
    const about = JSON.parse(fs.readFileSync(path.join(EXTERNAL, 'tiny.json'), 'utf8'));
    const npy = (name: string) => parseNpy(new Uint8Array(fs.readFileSync(path.join(EXTERNAL, `tiny.${name}.npy`)))) as FloatTensor;
    const ctx = ModelContext.open(path.join(EXTERNAL, about.model));
    try {
      const input = npy('input');
      // float32 sums of at most 72 products per value, in a different order than PyTorch's.
      assertClose((await ctx.predict(input, 1)).logits.data as Float32Array, npy('logits').data, 1e-5, 'logits');
      const target = { kind: 'class' as const, index: about.target as number };
      const attribution = await explain('input-x-gradient', { model: ctx.model, input, target });
      const expected = Float32Array.from(npy('grad_input').data, (g, i) => g * input.data[i]);
      assertClose(attribution.raw.data as Float32Array, expected, 1e-5, 'input × gradient');
      const cam = await explain('gradcam', { model: ctx.model, input, target, layer: about.layer });
      assertClose(cam.raw.data as Float32Array, npy('gradcam').data, 1e-5, 'Grad-CAM before ReLU');
    } finally {
      await ctx.dispose();
    }
  });

  it('explains an external-data model through the CLI', () => {
    const model = writeExternalModel(tempFolder());
    const run = spawnSync(process.execPath, [CLI, 'explain', model, IMAGE, '--method', 'gradcam', '--json'], { encoding: 'utf8', timeout: 120_000 });
    assert.strictEqual(run.status, 0, run.stderr);
    assert.ok(JSON.parse(run.stdout), 'a JSON result');
  });

  it("refuses external data outside the model's folder: a ../ path, an absolute path, a symlink out", () => {
    const outer = tempFolder();
    const folder = path.join(outer, 'model');
    fs.mkdirSync(folder);
    const cases: [string, () => string][] = [
      ['../net.weights', () => writeExternalModel(folder, '../net.weights')],
      [path.join(outer, 'abs.weights'), () => writeExternalModel(folder, path.join(outer, 'abs.weights'))],
      [
        'linked.weights',
        () => {
          const file = writeExternalModel(folder, 'linked.weights', path.join(outer, 'real.weights'));
          fs.symlinkSync(path.join(outer, 'real.weights'), path.join(folder, 'linked.weights'));
          return file;
        },
      ],
      [
        'passwd',
        () => {
          const file = writeExternalModel(folder, 'passwd', path.join(outer, 'unused.weights'));
          fs.symlinkSync('/etc/passwd', path.join(folder, 'passwd'));
          return file;
        },
      ],
    ];
    for (const [location, make] of cases) {
      const model = make();
      const first = sampleProto().graph!.initializer![0].name;
      const expected = `net.onnx: external data file ${JSON.stringify(location)} named by tensor ${JSON.stringify(first)} is outside the model's folder; only files inside it are read`;
      assert.strictEqual(
        refusal(() => ModelContext.open(model), ModelLoadError),
        expected,
      );
      const line = cliRefusal('predict', model, IMAGE);
      assert.strictEqual(line, `convlens predict: ${expected}`);
      assertNoPasswdLeak(line);
      for (const name of fs.readdirSync(folder)) fs.rmSync(path.join(folder, name));
    }
  });
});

describe('hostile files: Restricted Mode', () => {
  it("ignores a workspace's values of every setting that names files or lifts a limit", () => {
    const manifest = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
    const properties: Record<string, { type?: string }> = manifest.contributes.configuration.properties;
    // Files are named through the preprocessing object (its labels); limits are the max* settings.
    const sensitive = Object.keys(properties).filter((key) => properties[key].type === 'object' || /\.max[A-Z]/.test(key));
    assert.deepStrictEqual([...manifest.capabilities.untrustedWorkspaces.restrictedConfigurations].sort(), sensitive.sort());
    assert.ok(sensitive.includes('convlens.preprocessing') && sensitive.includes('convlens.maxImagePixels') && sensitive.includes('convlens.maxActivationMemoryMB'));
  });
});
