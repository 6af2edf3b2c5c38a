// Runs jobs on a worker thread so the caller's thread (the extension host) never blocks.
// Progress comes back as events, cancellation is a message, and a worker that dies (a native
// crash in onnxruntime, say) fails its pending jobs with a clear error and is restarted on the
// next call.
import { Worker } from 'worker_threads';
import { CancelledError, FromWorker, JobArgs, JobName, JobResult, ToWorker } from './jobs';

export interface CallOptions {
  onProgress?: (fraction: number, message: string) => void;
  signal?: AbortSignal;
}

interface Pending {
  resolve(value: unknown): void;
  reject(error: Error): void;
  onProgress?: CallOptions['onProgress'];
}

export class WorkerCrashedError extends Error {}

export class ComputeClient {
  private worker?: Worker;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();

  constructor(private readonly workerScript: string) {}

  call<J extends JobName>(job: J, args: JobArgs<J>, options: CallOptions = {}): Promise<JobResult<J>> {
    if (options.signal?.aborted) return Promise.reject(new CancelledError());
    const worker = this.ensureWorker();
    const id = this.nextId++;
    return new Promise<JobResult<J>>((resolve, reject) => {
      const onAbort = () => this.post(worker, { kind: 'cancel', id });
      options.signal?.addEventListener('abort', onAbort, { once: true });
      this.pending.set(id, {
        resolve: (v) => {
          options.signal?.removeEventListener('abort', onAbort);
          resolve(v as JobResult<J>);
        },
        reject: (e) => {
          options.signal?.removeEventListener('abort', onAbort);
          reject(e);
        },
        onProgress: options.onProgress,
      });
      this.post(worker, { kind: 'call', id, job, args });
    });
  }

  /** Number of jobs still running: tests use it to check nothing leaks after cancellation. */
  get pendingCount(): number {
    return this.pending.size;
  }

  get running(): boolean {
    return this.worker !== undefined;
  }

  async dispose(): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    this.failAll(new CancelledError('the compute worker was stopped'));
    await worker?.terminate();
  }

  private post(worker: Worker, message: ToWorker): void {
    worker.postMessage(message);
  }

  private ensureWorker(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(this.workerScript);
    worker.on('message', (m: FromWorker) => this.onMessage(m));
    worker.on('error', (err) => this.onExit(worker, `the compute worker failed: ${err.message}`));
    worker.on('exit', (code) => this.onExit(worker, `the compute worker stopped unexpectedly (exit code ${code})`));
    worker.unref();
    this.worker = worker;
    return worker;
  }

  private onMessage(m: FromWorker): void {
    const p = this.pending.get(m.id);
    if (!p) return;
    if (m.kind === 'progress') {
      p.onProgress?.(m.fraction, m.message);
      return;
    }
    this.pending.delete(m.id);
    if (m.kind === 'result') p.resolve(m.result);
    else p.reject(m.name === 'CancelledError' ? new CancelledError(m.message) : Object.assign(new Error(m.message), { name: m.name }));
  }

  private onExit(worker: Worker, reason: string): void {
    if (this.worker !== worker) return;
    this.worker = undefined;
    this.failAll(new WorkerCrashedError(`${reason}; it will be restarted for the next request`));
  }

  private failAll(error: Error): void {
    const pending = [...this.pending.values()];
    this.pending.clear();
    for (const p of pending) p.reject(error);
  }
}
