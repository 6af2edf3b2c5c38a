// One formatter per target kind (src/core/explain/target.ts `format` beside `parse`): the words
// formatTarget writes, read back by the CLI's own flag parser and target reader (src/cli/common.ts
// targetOf, which calls parseTarget and reads the box flags), give the same target, for every kind.
// The same words are what "Copy command" (src/extension/reproduce.ts) and the exported PNG's
// command (src/compute/job-runner.ts) write.
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { parse } from '../../../src/cli/args';
import { TARGET_OPTIONS, targetOf } from '../../../src/cli/common';
import type { ModelContext } from '../../../src/core/context';
import { MASK_PLACEHOLDER, REFERENCE_PLACEHOLDER, formatTarget, unresolved } from '../../../src/core/explain/target';
import { ResolvedTarget, Target } from '../../../src/core/explain/types';
import { formatNpy } from '../../../src/core/npy';
import { Tensor, float32 } from '../../../src/core/tensor';
import { cliCaveat, cliCommand } from '../../../src/extension/reproduce';

const FIRST = 'logits';
const EMBEDDING = Float32Array.from([0.25, -1.5, 3]);

/**
 * The parts of a model context the CLI's target reader uses: its limits, and for a similarity the
 * reference image's embedding (here a fixed one for the one file the test names).
 */
function fakeContext(referenceFile: string): ModelContext {
  const tensor = float32([1, 3, 2, 2]);
  return {
    limits: {},
    loadInput: (file: string) => {
      assert.strictEqual(file, referenceFile, 'the command names the reference image');
      return { tensor };
    },
    model: {
      input: { name: 'x' },
      summary: () => ({ outputs: [{ name: FIRST }, { name: 'embedding' }] }),
      run: async () => ({ [FIRST]: float32([1, 3], EMBEDDING), embedding: float32([1, 3], EMBEDDING) }),
    },
  } as unknown as ModelContext;
}

/** A target as plain data, masks and embeddings as arrays, absent fields dropped: for deepStrictEqual. */
function plain(t: Target): unknown {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(t)) {
    if (v === undefined) continue;
    if (k === 'mask' && typeof v === 'object') out[k] = { dims: (v as Tensor).dims, data: Array.from((v as Tensor).data as Float32Array) };
    else if (k === 'reference') out[k] = Array.from(v as Float32Array);
    else if (k === 'detection') out[k] = Object.fromEntries(Object.entries(v as object).filter(([, x]) => x !== undefined && x !== false));
    else out[k] = v;
  }
  return out;
}

describe('target formats: parse(format(t)) is t for every kind', () => {
  let dir: string;
  let maskFile: string;
  let referenceFile: string;
  const mask = float32([2, 3], [0, 0.5, 1, 1, 0, 0.25]);

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'convlens-target-format-'));
    maskFile = path.join(dir, 'mask.npy');
    fs.writeFileSync(maskFile, formatNpy(mask));
    referenceFile = path.join(dir, 'reference.png');
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  async function roundTrip(t: Target): Promise<{ words: string[]; back: Target }> {
    const words = formatTarget(t, { firstOutput: FIRST, mask: maskFile, reference: referenceFile });
    const { values } = parse(words, { ...TARGET_OPTIONS }, []);
    return { words, back: await targetOf(fakeContext(referenceFile), values) };
  }

  const cases: [string, Target][] = [
    ['class', { kind: 'class', index: 7 }],
    ['class top', { kind: 'class', index: 'top' }],
    ['class on another output', { kind: 'class', index: 2, output: 'aux' }],
    ['difference', { kind: 'difference', a: 3, b: 0 }],
    ['difference on another output', { kind: 'difference', a: 1, b: 4, output: 'aux' }],
    ['probability', { kind: 'probability', index: 5 }],
    ['probability top', { kind: 'probability', index: 'top' }],
    ['region, predicted mask', { kind: 'region', class: 2, mask: 'predicted', output: 'seg' }],
    ['region, mask file', { kind: 'region', class: 1, mask }],
    ['box with its detection settings', { kind: 'box', index: 3, detection: { boxes: 'boxes', iou: 0.45, minScore: 0.3, sigmoid: true }, output: 'scores' }],
    // The CLI reads box flags into detection settings always; none given is {} (the defaults).
    ['box with the defaults', { kind: 'box', index: 0, detection: {} }],
    ['similarity', { kind: 'similarity', reference: EMBEDDING }],
    ['similarity to another output', { kind: 'similarity', reference: EMBEDDING, output: 'embedding' }],
    ['element', { kind: 'element', index: [0, 4, 2], output: 'heat' }],
    ['element of a scalar output', { kind: 'element', index: [], output: 'score' }],
  ];
  for (const [name, target] of cases) {
    it(name, async () => {
      const { words, back } = await roundTrip(target);
      assert.deepStrictEqual(plain(back), plain(target), words.join(' '));
    });
  }

  it('writes the forms the CLI documents', () => {
    assert.deepStrictEqual(formatTarget({ kind: 'class', index: 7 }), ['--target', '7']);
    assert.deepStrictEqual(formatTarget({ kind: 'class', index: 'top' }), []);
    assert.deepStrictEqual(formatTarget({ kind: 'difference', a: 3, b: 0, output: FIRST }, { firstOutput: FIRST }), ['--target', '3', '--versus', '0']);
    assert.deepStrictEqual(formatTarget({ kind: 'region', class: 1, mask: 'predicted', output: 'seg' }, { firstOutput: FIRST }), [
      '--target',
      'region:predicted,1',
      '--output',
      'seg',
    ]);
    assert.deepStrictEqual(formatTarget({ kind: 'element', index: [1, 2], output: 'heat' }, { firstOutput: FIRST }), ['--target', 'output:heat[1,2]']);
    // Data without a file: a placeholder the user replaces (the copy's caveat says so).
    assert.deepStrictEqual(formatTarget({ kind: 'region', class: 1, mask }), ['--target', `region:${MASK_PLACEHOLDER},1`]);
    assert.deepStrictEqual(formatTarget({ kind: 'similarity', reference: EMBEDDING }), ['--target', `similarity:${REFERENCE_PLACEHOLDER}`]);
  });

  it('formats a resolved target as the target it was resolved from', () => {
    const head = { anchors: 1, classes: 1, layout: 'anchors-last' } as unknown as Extract<ResolvedTarget, { kind: 'box' }>['head'];
    const resolved: [ResolvedTarget, string[]][] = [
      [{ kind: 'class', index: 4, output: FIRST }, ['--target', '4']],
      [{ kind: 'region', class: 2, mask, predicted: true, output: 'seg' }, ['--target', 'region:predicted,2', '--output', 'seg']],
      [{ kind: 'region', class: 2, mask, predicted: false, output: FIRST }, ['--target', `region:${maskFile},2`]],
      [
        { kind: 'box', index: 1, detected: { anchor: 0, class: 0, score: 1, box: [0, 0, 1, 1] }, head, detection: { iou: 0.5 }, output: FIRST },
        ['--target', 'box:1', '--iou', '0.5'],
      ],
      [{ kind: 'element', index: [3], flat: 3, output: 'heat' }, ['--target', 'output:heat[3]']],
    ];
    for (const [t, words] of resolved) assert.deepStrictEqual(formatTarget(unresolved(t), { firstOutput: FIRST, mask: maskFile }), words, t.kind);
  });

  it('is what "Copy command" writes for the panel targets, region, box and similarity included', () => {
    const base = { modelPath: '/m.onnx', imagePath: '/i.png', method: 'gradcam', preprocessing: {} as never, preprocessingSource: 'sidecar' as const };
    assert.match(cliCommand({ ...base, target: { kind: 'region', class: 1, mask: { width: 1, height: 1, values: [1] } } }), / --target region:MASK\.png,1$/);
    assert.match(cliCommand({ ...base, target: { kind: 'box', index: 2, boxes: 'b', minScore: 0.2 } }), / --target box:2 --boxes b --min-score 0\.2$/);
    assert.match(cliCommand({ ...base, target: { kind: 'similarity', imageId: 'img-1' }, files: { reference: '/r.png' } }), / --target similarity:\/r\.png$/);
    // The caveat names the placeholder to replace, and only when there is one.
    assert.match(cliCaveat({ ...base, target: { kind: 'region', class: 1, mask: { width: 1, height: 1, values: [1] } } }) ?? '', /MASK\.png/);
    assert.match(cliCaveat({ ...base, target: { kind: 'similarity', imageId: 'img-1' } }) ?? '', /REFERENCE_IMAGE/);
    assert.strictEqual(cliCaveat({ ...base, target: { kind: 'similarity', imageId: 'img-1' }, files: { reference: '/r.png' } }), undefined);
  });
});
