// The compute worker thread: receives job calls, runs them with a cancellation signal and a
// progress callback, and posts back results or errors (as one clear message).
import { parentPort } from 'worker_threads';
import { runJob } from './jobRunner';
import { CancelledError, FromWorker, JobName, ToWorker } from './jobs';

const port = parentPort;
if (!port) throw new Error('worker.ts must run as a worker thread');

const controllers = new Map<number, AbortController>();
const send = (m: FromWorker) => port.postMessage(m);

port.on('message', async (m: ToWorker) => {
  if (m.kind === 'cancel') {
    controllers.get(m.id)?.abort();
    return;
  }
  const controller = new AbortController();
  controllers.set(m.id, controller);
  try {
    const result = await runJob(m.job as JobName, m.args as never, {
      signal: controller.signal,
      progress: (fraction, message) => send({ kind: 'progress', id: m.id, fraction, message }),
    });
    send({ kind: 'result', id: m.id, result });
  } catch (err) {
    const error = controller.signal.aborted ? new CancelledError() : (err as Error);
    send({ kind: 'error', id: m.id, message: error.message, name: error.name });
  } finally {
    controllers.delete(m.id);
  }
});
