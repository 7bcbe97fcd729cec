import { ZsyncError } from '../errors.js';

/** The assembled file does not have the whole-file hash the control file names. */
export class FileHashMismatchError extends ZsyncError {
  constructor(algorithm: string, expected: string, actual: string) {
    super('ERR_ZSYNC_FILE_HASH_MISMATCH', `checksum mismatch: ${algorithm} of the result is ${actual}, the control file says ${expected}`);
  }
}

/** The sync ended with blocks that no seed held and no source delivered. */
export class IncompleteError extends ZsyncError {
  readonly missingBlocks: number;
  constructor(missingBlocks: number, why: string) {
    super('ERR_ZSYNC_INCOMPLETE', `${missingBlocks} blocks could not be obtained: ${why}`);
    this.missingBlocks = missingBlocks;
  }
}

/** The control file could not be read or fetched (zsync's exit code 3). */
export class ControlFileUnavailableError extends ZsyncError {
  constructor(where: string, cause: unknown) {
    super('ERR_ZSYNC_CONTROL_UNAVAILABLE', `cannot read the control file ${where}: ${(cause as Error)?.message ?? String(cause)}`, { cause });
  }
}

/** Another sync is writing the same OUTPUT (its lock file is held by a live process). */
export class OutputBusyError extends ZsyncError {
  readonly lockFile: string;
  constructor(lockFile: string, pid: number | undefined) {
    super('ERR_ZSYNC_BUSY', `another sync is writing this output (${lockFile} is held${pid === undefined ? '' : ` by process ${pid}`})`);
    this.lockFile = lockFile;
  }
}

/** The thread scanning part of a seed failed or died; the sync is abandoned (OUTPUT untouched). */
export class ScanWorkerError extends ZsyncError {
  constructor(message: string, cause?: unknown) {
    super('ERR_ZSYNC_SCAN_WORKER', `seed scan worker: ${message}`, { cause });
  }
}
