// "Copy as command": the command line is run by the real CLI (which must accept it and compute the
// same method, layer and target), and the Python snippet is parsed by Python and names the
// library call with the same settings.
import * as assert from 'assert';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { PreprocessSpec } from '../../src/core/preprocess';
import { methodNames } from '../../src/core/explain';
import { Reproducible, cliCaveat, cliCommand, hasPythonSnippet, moduleExpression, pythonSnippet, shellWord } from '../../src/extension/reproduce';

const ROOT = path.resolve(__dirname, '../../..');
const CLI = path.join(ROOT, 'bin/convlens.js');
const PYTHON = '/usr/bin/python3';

/** The preprocessing of sample/shapes.convlens.json. */
const SHAPES: PreprocessSpec = {
  size: [64, 64],
  resize: 'stretch',
  antialias: 'skimage',
  scale: 1 / 255,
  mean: [0.5, 0.5, 0.5],
  std: [0.5, 0.5, 0.5],
  layout: 'NCHW',
  colorOrder: 'RGB',
  grayscale: false,
};

function runCommand(command: string, cwd: string): { method: string; layer?: string; target: unknown } {
  // The copied line starts with `convlens`; here that is the built CLI of this checkout.
  const line = command.replace(/^convlens /, `${shellWord(process.execPath)} ${shellWord(CLI)} `) + ' --json';
  return JSON.parse(execFileSync('/bin/sh', ['-c', line], { cwd, encoding: 'utf8' }));
}

describe('copy as command', function () {
  this.timeout(300_000);
  let dir: string;
  let base: Omit<Reproducible, 'method' | 'target'>;

  before(() => {
    // A folder name with a space and a quote: the command must quote it for the shell.
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "convlens reproduce 'q' "));
    for (const f of ['shapes.onnx', 'shapes.convlens.json', 'shapes.labels.txt']) fs.copyFileSync(path.join(ROOT, 'sample', f), path.join(dir, f));
    fs.copyFileSync(path.join(ROOT, 'sample/images/square.png'), path.join(dir, 'my square.png'));
    base = { modelPath: path.join(dir, 'shapes.onnx'), imagePath: path.join(dir, 'my square.png'), preprocessing: SHAPES, preprocessingSource: 'sidecar' };
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('writes the exact command line for a layer, a class and renamed option flags', () => {
    const command = cliCommand({
      ...base,
      modelPath: '/m/shapes.onnx',
      imagePath: "/i/it's.png",
      method: 'integrated-gradients',
      layer: 'auto',
      target: { kind: 'class', index: 2 },
      options: { steps: '16', method: 'riemann_left' },
    });
    assert.strictEqual(command, "convlens explain /m/shapes.onnx '/i/it'\\''s.png' --method integrated-gradients --target 2 --ig-method riemann_left --steps 16");
    const cam = cliCommand({
      ...base,
      modelPath: '/m/a.onnx',
      imagePath: '/i/a.png',
      method: 'gradcam++',
      layer: '/block4/conv/Conv',
      target: { kind: 'difference', a: 1, b: 3 },
      out: 'a.gradcam++.png',
    });
    assert.strictEqual(cam, 'convlens explain /m/a.onnx /i/a.png --method gradcam++ --layer /block4/conv/Conv --target 1 --versus 3 --out a.gradcam++.png');
  });

  const cases: [string, Pick<Reproducible, 'method' | 'layer' | 'target' | 'options'>, string | undefined][] = [
    ['Grad-CAM at a node, for a class', { method: 'gradcam', layer: '/block4/conv/Conv', target: { kind: 'class', index: 1 } }, '/block4/conv/Conv'],
    ['Grad-CAM++ at the automatic layer, one class against another', { method: 'gradcam++', layer: 'auto', target: { kind: 'difference', a: 1, b: 0 } }, undefined],
    ['Occlusion with a window and strides', { method: 'occlusion', target: { kind: 'top' }, options: { window: '3,16,16', strides: '3,8,8' } }, undefined],
    ['Integrated Gradients with a renamed option', { method: 'integrated-gradients', target: { kind: 'top' }, options: { steps: '8', method: 'riemann_trapezoid' } }, undefined],
  ];
  for (const [title, request, layer] of cases) {
    it(`is accepted by the CLI, which computes the same thing: ${title}`, () => {
      const out = path.join(dir, `${request.method}.npy`);
      const result = runCommand(cliCommand({ ...base, ...request, out }), dir);
      assert.strictEqual(result.method, request.method);
      if (layer) assert.ok(result.layer?.startsWith(layer), `layer ${result.layer}`);
      const t = request.target;
      const expected = t.kind === 'class' ? { kind: 'class', index: t.index } : t.kind === 'difference' ? { kind: 'difference', a: t.a, b: t.b } : undefined;
      if (expected) assert.deepStrictEqual(Object.fromEntries(Object.entries(result.target as object).filter(([k]) => k !== 'output')), expected);
      assert.ok(fs.statSync(out).size > 0);
    });
  }

  it('says when the command line cannot reproduce the preprocessing (it comes from the settings)', () => {
    assert.strictEqual(cliCaveat({ ...base, method: 'gradcam', target: { kind: 'top' } }), undefined);
    assert.match(cliCaveat({ ...base, preprocessingSource: 'settings', method: 'gradcam', target: { kind: 'top' } }) ?? '', /convlens\.preprocessing.*sidecar/);
  });

  it('names the PyTorch module of an ONNX layer', () => {
    assert.strictEqual(moduleExpression('/block4/conv/Conv'), 'model.block4.conv');
    assert.strictEqual(moduleExpression('/block4/relu/Relu_output_0'), 'model.block4.relu');
    assert.strictEqual(moduleExpression('/features/features.18/features.18.2/Clip'), 'model.features[18][2]');
    assert.strictEqual(moduleExpression('conv1.weight'), undefined);
  });

  it('writes a pytorch-grad-cam snippet with the layer, target and preprocessing', () => {
    const snippet = pythonSnippet({ ...base, method: 'scorecam', layer: '/block4/conv/Conv', target: { kind: 'class', index: 1 }, options: { batch: '16' } })!;
    for (const line of [
      'from pytorch_grad_cam import ScoreCAM',
      'target_layers = [model.block4.conv]  # ONNX layer /block4/conv/Conv',
      '    T.Resize((64, 64), antialias=True),',
      '    T.ToTensor(),  # pixel values / 255',
      '    T.Normalize(mean=[0.5, 0.5, 0.5], std=[0.5, 0.5, 0.5]),',
      '    cam.batch_size = 16',
      '    grayscale_cam = cam(input_tensor=x, targets=[ClassifierOutputTarget(1)])[0]',
    ])
      assert.ok(snippet.split('\n').includes(line), `missing: ${line}\n${snippet}`);
  });

  it('writes Captum snippets with the same options, and none for methods neither library has', () => {
    const ig = pythonSnippet({ ...base, method: 'integrated-gradients', target: { kind: 'top' }, options: { steps: '8', method: 'riemann_trapezoid' } })!;
    assert.ok(ig.includes('attribution = IntegratedGradients(model).attribute(x, baselines=0, target=model(x).argmax(dim=1).item(), n_steps=8, method="riemann_trapezoid")'), ig);
    const occlusion = pythonSnippet({ ...base, method: 'occlusion', target: { kind: 'class', index: 0 } })!;
    // ConvLens's default window is all channels × round(H/7) × round(W/7), strides half of it.
    assert.ok(occlusion.includes('sliding_window_shapes=(3, 9, 9), strides=(3, 4, 4)'), occlusion);
    const difference = pythonSnippet({ ...base, method: 'smoothgrad', target: { kind: 'difference', a: 2, b: 0 }, options: { samples: '10', stdev: '0.2' } })!;
    assert.ok(
      difference.includes('NoiseTunnel(Saliency(lambda inp: model(inp)[:, 2] - model(inp)[:, 0])).attribute(x, nt_type="smoothgrad", nt_samples=10, stdevs=0.2, target=None)'),
      difference,
    );
    assert.strictEqual(pythonSnippet({ ...base, method: 'rise', target: { kind: 'top' } }), undefined);
    assert.strictEqual(pythonSnippet({ ...base, method: 'cam', target: { kind: 'top' } }), undefined);
  });

  it('writes snippets that are valid Python for every method with an equivalent', function () {
    if (!fs.existsSync(PYTHON)) this.skip();
    // Every registered method with a pytorch-grad-cam or Captum equivalent.
    const methods = methodNames().filter(hasPythonSnippet);
    assert.ok(methods.length > 0);
    const bgr: PreprocessSpec = { ...SHAPES, resize: 'shorter-side-crop', resizeTo: 72, scale: 1, colorOrder: 'BGR', layout: 'NHWC', grayscale: true };
    for (const method of methods) {
      for (const target of [{ kind: 'top' }, { kind: 'class', index: 3 }, { kind: 'difference', a: 0, b: 1 }] as const) {
        const snippet = pythonSnippet({ ...base, preprocessing: bgr, method, layer: '/block3/relu/Relu', target, options: { display: 'signed' } });
        assert.ok(snippet, method);
        execFileSync(PYTHON, ['-c', 'import ast, sys; ast.parse(sys.stdin.read())'], { input: snippet });
      }
    }
  });
});
