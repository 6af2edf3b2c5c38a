// The compute worker, a child process forked by ComputeClient: receives job calls over IPC, runs
// them with a cancellation signal and a progress callback, and sends back results or errors (as
// one clear message). It exits when its parent goes away, so no orphan keeps a model in memory.
import { toUserError } from './errors';
import { finishWrites, runJob } from './job-runner';
import { FromWorker, JobName, ToWorker } from './jobs';
import { CancelledError } from '../core/cancel';

if (!process.send) throw new Error('worker.ts must run as a child process forked with an IPC channel');

const controllers = new Map<number, AbortController>();

function send(m: FromWorker): void {
  if (!process.connected) return;
  try {
    process.send!(m);
  } catch (err) {
    // A result that cannot be serialised still answers its call, as an error.
    if (m.kind === 'result') process.send!({ kind: 'error', id: m.id, name: 'Error', message: `the result could not be sent back: ${(err as Error).message}` });
  }
}

// How long the worker may spend finishing its disk-cache writes once its parent lets it go.
const WRITE_GRACE_MS = 4000;

// The parent closed the channel (ComputeClient.dispose on an idle worker, or the parent is gone):
// the built models still being written to the disk cache are finished first, so that the next
// process finds them (a worker stopped right after opening a model used to leave them unwritten,
// as temporary files), then the process exits.
process.on('disconnect', () => {
  setTimeout(() => process.exit(0), WRITE_GRACE_MS);
  void finishWrites().finally(() => process.exit(0));
});

process.on('message', async (m: ToWorker) => {
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
    const error = controller.signal.aborted ? new CancelledError() : toUserError(err);
    send({ kind: 'error', id: m.id, message: error.message, name: error.name });
  } finally {
    controllers.delete(m.id);
  }
});
