// Graph work grows linearly with the graph: a 100,000-node chain is inspected with bounded work
// (onnxruntime sessions and the outputs they expose, counted: exposing every tensor is what made
// it quadratic), and opening it in the compute worker can be cancelled. Its time and peak memory
// are in `npm run bench`: the peak resident size is not steady enough to bound in a test (570–620
// MB alone, over 2 GB in one process started from the full suite).
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as ort from 'onnxruntime-node';
import { describeModel } from '../../src/cli/commands/inspect';
import { ConvModel, MAX_PROBED_NODES } from '../../src/core/model';
import { decodeModel, encodeModel } from '../../src/core/onnx/proto';
import { ComputeClient } from '../../src/compute/client';
import { CancelledError } from '../../src/core/cancel';
import { reluChain } from './chain-model';

const WORKER = path.resolve(__dirname, '../../src/compute/worker.js');

/** Counts the onnxruntime sessions created while `body` runs, and the graph outputs each exposes. */
async function countingSessions<T>(body: () => Promise<T>): Promise<{ result: T; sessions: number; outputs: number }> {
  const create = ort.InferenceSession.create;
  let sessions = 0;
  let outputs = 0;
  (ort.InferenceSession as { create: unknown }).create = (model: unknown, ...rest: unknown[]) => {
    sessions++;
    if (model instanceof Uint8Array) outputs += decodeModel(model).graph?.output?.length ?? 0;
    return (create as (...args: unknown[]) => unknown).call(ort.InferenceSession, model, ...rest);
  };
  try {
    return { result: await body(), sessions, outputs };
  } finally {
    (ort.InferenceSession as { create: unknown }).create = create;
  }
}

describe('graphs of 100,000 nodes', function () {
  const LENGTH = 100_000;
  let file: string;
  before(() => {
    file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'convlens-chain-')), 'chain.onnx');
    fs.writeFileSync(file, encodeModel(reluChain(LENGTH)));
  });
  after(() => fs.rmSync(path.dirname(file), { recursive: true, force: true }));

  it('inspect lists every layer with one session and without probing outputs', async () => {
    const model = ConvModel.load(file, { provider: 'cpu' });
    try {
      const { result: d, sessions, outputs } = await countingSessions(() => describeModel(model));
      assert.strictEqual(d.nodeCount, LENGTH);
      assert.strictEqual(d.layers.length, LENGTH);
      assert.deepStrictEqual([d.layers[0].name, d.layers[LENGTH - 1].name], ['relu0', `relu${LENGTH - 1}`]);
      assert.ok(d.shapesNote?.includes(`more than the ${MAX_PROBED_NODES.toLocaleString('en-US')}`), d.shapesNote);
      assert.ok(d.layers.every((l) => l.outputs[0].shape === undefined));
      // The model with a dynamic batch (checked once, then reused): one session, its one output.
      // Probing every tensor would add a session exposing all 100,000 (minutes in onnxruntime).
      assert.strictEqual(sessions, 1);
      assert.strictEqual(outputs, 1);
    } finally {
      await model.dispose();
    }
  });

  it('an open in the compute worker stops between phases when cancelled, leaving nothing open', async () => {
    // A long grace period: the cancel must be honoured by the job, not by killing the worker.
    const client = new ComputeClient(WORKER, { cancelGraceMs: 120_000 });
    try {
      const abort = new AbortController();
      const messages: string[] = [];
      const opening = client.call(
        'openModel',
        { modelPath: file, provider: 'cpu' },
        {
          signal: abort.signal,
          onProgress: (_, message) => {
            messages.push(message);
            if (messages.length === 1) abort.abort();
          },
        },
      );
      await assert.rejects(opening, (err: Error) => err instanceof CancelledError);
      assert.strictEqual(messages[0], 'reading chain.onnx');
      assert.ok(!messages.includes('checking gradients'), `the open ran on after the cancel: ${messages.join(' / ')}`);
      const pid = client.pid;
      assert.deepStrictEqual((await client.call('status', {})).models, []);
      assert.strictEqual(client.pid, pid, 'the worker was killed rather than stopping the job');
      assert.strictEqual(client.pendingCount, 0);
    } finally {
      await client.dispose();
    }
  });
});
