import type { Worker } from 'node:worker_threads';

/**
 * A worker thread between two owners, watched meanwhile: a scan worker started
 * ahead of its sums, until the seed scan takes it over; the seed scan's worker,
 * until PrefixHasher hashes with it. An exit or error while nobody else listens
 * would otherwise go unheard (an answer awaited for good) or, for an error,
 * become an uncaught exception. The thread's budget slot travels with it.
 */
export class WorkerHandOff {
  private failure: Error | undefined;
  private open = true;
  private readonly onExit = (code: number): void => {
    this.failure ??= new Error(`the worker exited with code ${code}`);
    this.release(); // its thread is gone
  };
  private readonly onError = (err: Error): void => {
    this.failure ??= err;
  };

  constructor(readonly worker: Worker, readonly release: () => void) {
    worker.on('exit', this.onExit);
    worker.on('error', this.onError);
  }

  /** False once the worker has failed, or been taken or discarded. */
  get alive(): boolean {
    return this.open && this.failure === undefined;
  }

  /**
   * For the next owner, once: stops watching, after which the owner listens
   * itself. Returns what went wrong in between, if anything: the worker is
   * then of no use, and its slot is free for another.
   */
  take(): Error | undefined {
    if (!this.open) return new Error('the worker was handed over already');
    this.open = false;
    this.worker.off('exit', this.onExit);
    // 'error' stays watched (a no-op by now): an error event with no listener is an uncaught exception.
    if (this.failure) this.release();
    return this.failure;
  }

  /** Nobody takes it: stops the worker and frees its slot. */
  async discard(): Promise<void> {
    if (!this.open) return;
    this.open = false;
    this.worker.off('exit', this.onExit);
    await this.worker.terminate();
    this.release();
  }
}
