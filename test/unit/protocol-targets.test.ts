// The targets a view may send (src/protocol.ts TargetSpec): every kind passes the host's check with
// well-formed fields, and each malformed field is refused.
import * as assert from 'assert';
import { TargetSpec, parseWebviewMessage } from '../../src/protocol';

const explainRequest = (target: unknown) => ({ type: 'request', requestId: 'r-1', kind: 'explain', params: { imageId: 'img-1', method: 'gradcam', layer: 'auto', target } });

describe('protocol: explanation targets', () => {
  it('accepts every kind of target', () => {
    const targets: TargetSpec[] = [
      { kind: 'top' },
      { kind: 'class', index: 3, output: 'logits' },
      { kind: 'difference', a: 1, b: 2 },
      { kind: 'probability', index: 'top' },
      { kind: 'probability', index: 5 },
      { kind: 'region', class: 17, mask: 'predicted', output: 'out' },
      { kind: 'region', class: 1, mask: { width: 2, height: 2, values: [0, 1, 0.5, 1] } },
      { kind: 'box', index: 0 },
      { kind: 'box', index: 2, boxes: 'boxes', iou: 0.5, minScore: 0.3, sigmoid: true, output: 'scores' },
      { kind: 'similarity', imageId: 'img-2' },
      { kind: 'element', index: [], output: 'value' },
      { kind: 'element', index: [0, 3], output: 'boxes' },
    ];
    for (const target of targets) assert.ok(parseWebviewMessage(explainRequest(target)), JSON.stringify(target));
  });

  it('refuses malformed targets', () => {
    const refused: unknown[] = [
      { kind: 'logit', index: 1 },
      { kind: 'class', index: -1 },
      { kind: 'class', index: 1, output: 3 },
      { kind: 'class', index: 1, output: '' },
      { kind: 'probability', index: 'best' },
      { kind: 'region', class: 1 },
      { kind: 'region', class: 1, mask: { width: 2, height: 2, values: [0, 1, 1] } },
      { kind: 'region', class: 1, mask: { width: 2, height: 1, values: [0, 2] } },
      { kind: 'region', class: 1, mask: { width: 2, height: 1, values: [0, NaN] } },
      { kind: 'region', class: 1, mask: { width: 4096, height: 4096, values: [] } },
      { kind: 'box', index: 0, iou: 1.5 },
      { kind: 'box', index: 0, sigmoid: 'yes' },
      { kind: 'similarity', imageId: '../x' },
      { kind: 'element', index: [0] },
      { kind: 'element', index: [0, -1], output: 'o' },
      { kind: 'element', index: Array(9).fill(0), output: 'o' },
      null,
    ];
    for (const target of refused) assert.strictEqual(parseWebviewMessage(explainRequest(target)), undefined, JSON.stringify(target));
  });
});
