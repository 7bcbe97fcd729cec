import { ControlFileUnavailableError } from '../sync/errors.js';
import { ZsyncError } from '../errors.js';

/**
 * zsync's exit codes: 0 done and verified; 1 usage, or a control file that
 * cannot be parsed; 2 the data could not be fetched or verified; 3 the control
 * file could not be fetched.
 */
export function exitCodeFor(err: unknown): number {
  if (err instanceof ControlFileUnavailableError) return 3;
  if (err instanceof ZsyncError) {
    if (err.code === 'ERR_ZSYNC_INVALID_ARGUMENT' || err.code.startsWith('ERR_ZSYNC_CONTROL_FILE_')) return 1;
    if (err.code === 'ERR_ZSYNC_LIMIT_EXCEEDED' && 'line' in err) return 1;
    // A control file with no usable URL for the data: zsync exits 3 there too.
    if (err.code === 'ERR_ZSYNC_NO_URL') return 3;
    // A socket server that does not serve the file asked for.
    if (err.code === 'ERR_ZSYNC_NO_SUCH_FILE') return 3;
  }
  return 2;
}

/** One line naming the cause, with the error's code. */
export function describeError(err: unknown): string {
  if (err instanceof ZsyncError) {
    const cause = (err as { cause?: unknown }).cause;
    const why = cause instanceof Error && !err.message.includes(cause.message) ? ` (${cause.message})` : '';
    return `${err.message}${why} [${err.code}]`;
  }
  return err instanceof Error ? err.message : String(err);
}
