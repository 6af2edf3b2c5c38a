// `--layer auto` means one layer across the CLI: `dataset` and `rules` pick the tensor `explain`
// reports for the same model (the last spatial activation before the head).
import * as assert from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const ROOT = path.resolve(__dirname, '../../..');
const CLI = path.join(ROOT, 'out/src/cli/main.js');
const MODEL = path.join(ROOT, 'sample/shapes.onnx');
const IMAGE = path.join(ROOT, 'sample/images/circle.png');
const DATASET = path.join(ROOT, 'sample/dataset/test');

function cliJson(...args: string[]): Record<string, unknown> {
  const run = spawnSync(process.execPath, [CLI, ...args, '--json'], { encoding: 'utf8' });
  assert.strictEqual(run.status, 0, run.stderr);
  return JSON.parse(run.stdout) as Record<string, unknown>;
}

describe('CLI --layer auto', () => {
  let cache: string;
  before(() => {
    cache = fs.mkdtempSync(path.join(os.tmpdir(), 'convlens-cli-layer-'));
  });
  after(() => fs.rmSync(cache, { recursive: true, force: true }));

  it('dataset and rules resolve auto to the layer explain uses', () => {
    const explained = cliJson('explain', MODEL, IMAGE, '--method', 'gradcam', '--layer', 'auto');
    assert.ok(typeof explained.layer === 'string' && explained.layer.length > 0, 'explain names its layer');
    const summary = cliJson('dataset', MODEL, DATASET, '--layer', 'auto', '--cache', cache);
    assert.strictEqual(summary.layer, explained.layer);
    const rules = cliJson('rules', MODEL, DATASET, '--layer', 'auto', '--cache', cache);
    assert.strictEqual(rules.layer, explained.layer);
  });

  it('an unknown layer still fails with one sentence', () => {
    const run = spawnSync(process.execPath, [CLI, 'dataset', MODEL, DATASET, '--layer', 'no-such-layer', '--cache', cache], { encoding: 'utf8' });
    assert.notStrictEqual(run.status, 0);
    assert.match(run.stderr, /no-such-layer/);
    assert.doesNotMatch(run.stderr, /\n\s+at /, 'no stack trace');
  });
});
