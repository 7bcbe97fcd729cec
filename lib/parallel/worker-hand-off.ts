import type { Worker } from 'node:worker_threads';

/**
 * A worker thread on its way from one owner to the next (the seed scan's
 * worker to PrefixHasher), watched in between: an exit or error while nobody
 * else listens would otherwise go unheard (a hash awaited for good) or, for an
 * error, become an uncaught exception. The thread's budget slot travels with it.
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

  /**
   * For the next owner, once: stops watching, after which the owner listens
   * itself. Returns what went wrong in between, if anything (the worker is
   * then of no use).
   */
  take(): Error | undefined {
    if (!this.open) throw new Error('a worker hand-off is taken once');
    this.open = false;
    this.worker.off('exit', this.onExit);
    // 'error' stays watched (a no-op by now): an error event with no listener is an uncaught exception.
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
