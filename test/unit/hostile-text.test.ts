// Text from a model file is data: names, producer, labels and metadata with control sequences
// (an OSC 52 clipboard write, a title change, clear-screen, CR/LF forging lines, bidi overrides)
// reach the terminal as visible escapes, --json stays valid JSON with the exact names, the demo
// report is inert Markdown, and names that clash with Object.prototype are names like any other.
import * as assert from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { markdownText } from '../../src/cli/commands/demo';
import { terminalText } from '../../src/cli/output';
import { encodePng } from '../../src/core/image/overlay';
import { methodByName } from '../../src/core/explain';
import { summarize } from '../../src/core/model';
import { toUserError } from '../../src/compute/errors';
import { encodeModel } from '../../src/core/onnx/proto';
import { formatNpy } from '../../src/core/npy';
import { tinyCnn } from './explain/tiny-models';

const CLI = path.resolve(__dirname, '../../../bin/convlens.js');

const OSC52 = '\x1b]52;c;ZXZpbA==\x07';
const TITLE = '\x1b]0;owned\x07';
const PRODUCER = `evil\x1b[2J\x9b31m${TITLE}`;
const CONV_NAME = `${OSC52}conv1`;
const RELU_NAME = 'relu1\r\nforged line';
const GEMM_NAME = 'gemm\u202eevil';
const LABELS = ['cat\x1b[31m', 'dog\u202e', 'bird\r\nforged label', '<img src=x onerror=alert(1)>|**x**'];

/** Characters that act on a terminal rather than show: any of them raw in the output is a failure (the CLI's own \n aside). */
const RAW_ACTING = /[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/;

function hostileModelDir(): { dir: string; model: string; npy: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'convlens-hostile-'));
  const proto = tinyCnn(3).proto;
  const graph = proto.graph!;
  const names: Record<string, string> = { conv1: CONV_NAME, relu1: RELU_NAME, logits: GEMM_NAME };
  const model = path.join(dir, 'net.onnx');
  fs.writeFileSync(
    model,
    encodeModel({
      ...proto,
      producer_name: PRODUCER,
      metadata_props: [{ key: `note\x1b[2J`, value: `value${OSC52}` }],
      graph: { ...graph, node: graph.node.map((n) => ({ ...n, name: names[n.output[0]] ?? n.name })) },
    }),
  );
  fs.writeFileSync(path.join(dir, 'net.labels.json'), JSON.stringify(LABELS));
  const npy = path.join(dir, 'input.npy');
  fs.writeFileSync(npy, formatNpy({ dtype: 'float32', dims: [1, 3, 16, 16], data: new Float32Array(3 * 16 * 16).fill(0.5) }));
  return { dir, model, npy };
}

function cli(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, CONVLENS_DEBUG: '' } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function assertInert(text: string): void {
  const raw = RAW_ACTING.exec(text);
  assert.strictEqual(
    raw,
    null,
    `raw control character U+${raw?.[0].charCodeAt(0).toString(16).padStart(4, '0')} in output:\n${JSON.stringify(text.slice(Math.max(0, (raw?.index ?? 0) - 40), (raw?.index ?? 0) + 40))}`,
  );
}

describe('hostile text from model files', function () {
  let files: ReturnType<typeof hostileModelDir>;
  before(() => (files = hostileModelDir()));
  after(() => fs.rmSync(files.dir, { recursive: true, force: true }));

  it('terminalText shows every acting character as a visible escape and leaves other text alone', () => {
    assert.strictEqual(terminalText(OSC52), '\\x1b]52;c;ZXZpbA==\\x07');
    assert.strictEqual(terminalText('a\r\nb\tc\x7f\x9b'), 'a\\x0d\\x0ab\\x09c\\x7f\\x9b');
    assert.strictEqual(terminalText('\u202eevil\u2066\u2028'), '\\u202eevil\\u2066\\u2028');
    assert.strictEqual(terminalText('/layer4/layer4.1/conv2/Conv ∂ é 猫'), '/layer4/layer4.1/conv2/Conv ∂ é 猫');
  });

  it('inspect prints the names escaped, with no raw control character and no forged line', () => {
    const r = cli('inspect', files.model, '--provider', 'cpu');
    assert.strictEqual(r.status, 0, r.stderr);
    assertInert(r.stdout + r.stderr);
    assert.ok(r.stdout.includes('\\x1b]52;c;ZXZpbA==\\x07conv1'), r.stdout);
    assert.ok(r.stdout.includes('relu1\\x0d\\x0aforged line'), r.stdout);
    assert.ok(r.stdout.includes('gemm\\u202eevil'), r.stdout);
    assert.ok(r.stdout.includes('producer evil\\x1b[2J\\x9b31m\\x1b]0;owned\\x07'), r.stdout);
    assert.ok(!r.stdout.split('\n').some((line) => line.startsWith('forged')), 'a name started a line of its own');
  });

  it('inspect --json is valid JSON holding the exact names', () => {
    const r = cli('inspect', files.model, '--provider', 'cpu', '--json');
    assert.strictEqual(r.status, 0, r.stderr);
    assertInert(r.stdout);
    const parsed = JSON.parse(r.stdout);
    assert.strictEqual(parsed.producer, PRODUCER);
    assert.deepStrictEqual(
      parsed.layers.map((l: { name: string }) => l.name),
      [CONV_NAME, RELU_NAME, 'conv2', 'features', 'pooled', 'flat', GEMM_NAME],
    );
  });

  it('predict shows labels escaped', () => {
    const r = cli('predict', files.model, files.npy, '--provider', 'cpu', '--top', '4');
    assert.strictEqual(r.status, 0, r.stderr);
    assertInert(r.stdout + r.stderr);
    assert.ok(r.stdout.includes('cat\\x1b[31m'), r.stdout);
    assert.ok(r.stdout.includes('bird\\x0d\\x0aforged label'), r.stdout);
    assert.ok(r.stdout.includes('dog\\u202e'), r.stdout);
  });

  it('an error quoting a hostile name prints it escaped, in one line', () => {
    const r = cli('activations', files.model, files.npy, '--provider', 'cpu', '--layer', `nope${OSC52}`);
    assert.strictEqual(r.status, 1);
    assertInert(r.stdout + r.stderr);
    assert.match(r.stderr, /^convlens activations: no tensor named 'nope\\x1b\]52;c;ZXZpbA==\\x07'/);
    assert.strictEqual(r.stderr.trim().split('\n').length, 1, r.stderr);
  });

  for (const name of ['__proto__', 'constructor', 'toString', 'hasOwnProperty']) {
    it(`'${name}' is an unknown command, layer and method, with the normal message`, () => {
      const command = cli(name);
      assert.strictEqual(command.status, 2);
      assert.match(command.stderr, new RegExp(`^convlens: unknown command '${name}'`));
      const layer = cli('activations', files.model, files.npy, '--provider', 'cpu', '--layer', name);
      assert.strictEqual(layer.status, 1);
      assert.match(layer.stderr, new RegExp(`^convlens activations: no tensor named '${name}' in the model`));
      assert.throws(() => methodByName(name), new RegExp(`^ExplainError: unknown explanation method '${name}'`));
      const method = cli('explain', files.model, files.npy, '--provider', 'cpu', '--method', name);
      assert.strictEqual(method.status, 1, method.stderr);
      assert.match(method.stderr, new RegExp(`unknown explanation method '${name}'`));
      assert.doesNotMatch(layer.stderr + method.stderr, /TypeError|\n\s+at /);
    });
  }

  it("counts op types named like Object.prototype's members", () => {
    const proto = tinyCnn(1).proto;
    const graph = proto.graph!;
    const renamed = {
      ...proto,
      graph: { ...graph, node: graph.node.map((n) => (n.op_type === 'Relu' ? { ...n, op_type: '__proto__' } : n.op_type === 'Flatten' ? { ...n, op_type: 'constructor' } : n)) },
    };
    const histogram = summarize(renamed).opHistogram;
    assert.strictEqual(histogram['__proto__'], 2);
    assert.strictEqual(histogram['constructor'], 1);
    assert.strictEqual(Object.getPrototypeOf(histogram), Object.prototype);
  });

  it('internal error texts become one sentence for users', () => {
    assert.strictEqual(toUserError(new RangeError('Invalid typed array length: 4000000000000')).message, 'the model declares a tensor too large to allocate (4.00e+12 elements)');
    const ort = '/onnxruntime_src/onnxruntime/core/graph/graph.cc:1555 void onnxruntime::Graph::Init() This is an invalid model. Error: two nodes with same node name (a).';
    assert.strictEqual(toUserError(new Error(ort)).message, 'This is an invalid model. Error: two nodes with same node name (a).');
    assert.strictEqual(toUserError('a thrown string').message, 'a thrown string');
  });

  it('the demo report is inert Markdown: labels and names escaped', function () {
    assert.strictEqual(markdownText('<img src=x onerror=alert(1)>|**x**'), '&lt;img src=x onerror=alert\\(1\\)&gt;\\|\\*\\*x\\*\\*');
    assert.strictEqual(markdownText(`[click](javascript:alert(1))${OSC52}`), '\\[click\\]\\(javascript:alert\\(1\\)\\)\\\\x1b\\]52;c;ZXZpbA==\\\\x07');
    const images = path.join(files.dir, 'images');
    fs.mkdirSync(images);
    const rgba = new Uint8Array(20 * 20 * 4).map((_, i) => (i % 4 === 3 ? 255 : (i * 37) % 256));
    fs.writeFileSync(path.join(images, 'a[b](c).png'), encodePng(rgba, 20, 20));
    const out = path.join(files.dir, 'demo');
    const r = cli('demo', '--model', files.model, '--images', images, '--out', out, '--provider', 'cpu');
    assert.strictEqual(r.status, 0, r.stderr);
    assertInert(r.stdout + r.stderr);
    const report = fs.readFileSync(path.join(out, 'README.md'), 'utf8');
    assertInert(report.replace(/\n/g, ''));
    assert.ok(!report.includes('<img'), 'raw HTML from a label reached the report');
    assert.ok(report.includes('## a\\[b\\]\\(c\\)\\.png'), report);
    assert.match(report, /!\[gradcam\]\(a%5Bb%5D%28c%29-gradcam\.png\)/);
  });
});
