// Cancellation shared by every long computation: an aborted AbortSignal ends the work with a
// CancelledError, which the compute process reports as a cancelled job rather than a failure.

export class CancelledError extends Error {
  constructor(message = 'cancelled') {
    super(message);
    this.name = 'CancelledError';
  }
}

export function throwIfCancelled(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new CancelledError();
}
