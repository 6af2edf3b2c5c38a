// The compute worker, a child process forked by ComputeClient: receives job calls over IPC, runs
// them with a cancellation signal and a progress callback, and sends back results or errors (as
// one clear message). It exits when its parent goes away, so no orphan keeps a model in memory.
import { runJob } from './jobRunner';
import { CancelledError, FromWorker, JobName, ToWorker } from './jobs';

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

process.on('disconnect', () => process.exit(0));

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
    const error = controller.signal.aborted ? new CancelledError() : toError(err);
    send({ kind: 'error', id: m.id, message: error.message, name: error.name });
  } finally {
    controllers.delete(m.id);
  }
});

/**
 * Anything thrown (onnxruntime sometimes throws strings) as an Error with a readable, non-empty
 * message: onnxruntime's source locations and C++ signatures are dropped, and a failed allocation
 * (a model declaring an enormous shape) says so.
 */
function toError(err: unknown): Error {
  const error = err instanceof Error ? err : new Error(String(err));
  let message = error.message.replace(ORT_SOURCE_LOCATION, '').replace(ORT_NODE_SIGNATURE, (_, node, op, domain) => `In node '${node}' (${op}${domain ? ` of domain ${domain}` : ''}): `).trim();
  const allocation = /^(?:Invalid typed array length|Array buffer allocation failed)(?:: (\d+))?/.exec(message);
  if (error instanceof RangeError && allocation) {
    message = `the model declares a tensor too large to allocate${allocation[1] ? ` (${Number(allocation[1]).toExponential(2)} elements)` : ''}`;
  }
  return Object.assign(new Error(message || `${error.name} without a message`), { name: error.name });
}

/** e.g. '/onnxruntime_src/onnxruntime/core/graph/graph.cc:1555 void onnxruntime::Graph::Init() ' or 'tensorprotoutils.cc:434 ValidateX '. */
/** e.g. 'In Node, ("/b/Add", Frob, "", -1) : ("x": tensor(float),) -> ("y": tensor(float),) , Error ' (every input and output's type). */
const ORT_NODE_SIGNATURE = /In Node, \("([^"]*)", ([\w.]+), "([^"]*)", -?\d+\) : \(.*?\) -> \(.*?\) , Error /g;

const ORT_SOURCE_LOCATION = /\S*\.(?:cc|cpp|h):\d+ (?:(?:[\w:~<>&*]+ )?[\w:~<>&*]+\([^)]*\)(?: const)? |\w+ )?/g;
