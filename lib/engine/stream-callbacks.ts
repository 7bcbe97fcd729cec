/** The callback of `_transform`, `_flush`, `_write` and `_final`: readable-stream's typings do not export it. */
export type StreamCallback = (error?: Error | null, data?: unknown) => void;

/**
 * Runs a push parser's synchronous step and reports to the stream callback:
 * its throw becomes the stream's error (a throw out of _transform would
 * neither reach the pipeline nor let it settle).
 */
export function settle(callback: StreamCallback, step: () => void): void {
  try {
    step();
  } catch (err) {
    callback(err as Error);
    return;
  }
  callback();
}
