import { LimitExceededError, ZsyncError } from '../errors.js';

/** What was wrong with a control file; the error's code is `ERR_ZSYNC_CONTROL_FILE_<kind>`. */
export type ControlFileErrorKind =
  /** The first line is not `zsync: <version>`, or names the incompatible 0.0.4 format. */
  | 'NOT_ZSYNC'
  /** A header line is not `Name: value`. */
  | 'BAD_LINE'
  /** A header's value does not parse (Length, Blocksize, MTime, URL...). */
  | 'BAD_VALUE'
  /** `Hash-Lengths` malformed or outside zsync's bounds. */
  | 'HASH_LENGTHS'
  /** `SHA-1` or `File-Hash` digest of the wrong form. */
  | 'BAD_HASH'
  /** `SHA-1:` and `File-Hash: SHA-1:` name different digests. */
  | 'HASH_CONFLICT'
  /** A header zsync does not know, not named in an earlier `Safe:` line. */
  | 'UNKNOWN_HEADER'
  /** `Min-Version` above what we implement. */
  | 'MIN_VERSION'
  /** `Blocksize` or `Length` absent. */
  | 'MISSING_FIELD'
  /** A header we understand but cannot honour (an unknown strong algorithm...). */
  | 'UNSUPPORTED'
  /** Only `Z-URL`s (gzip look-inside), no plain `URL` to fetch the target from. */
  | 'COMPRESSED_ONLY'
  /** The input ended before the header's end or before every block record. */
  | 'TRUNCATED'
  /** Bytes after the last block record. */
  | 'TRAILING_DATA';

/**
 * A control file we refuse. `line` (1-based) is set for header errors, `offset`
 * (bytes from the start of the file) for every error where a position is known.
 */
export class ControlFileError extends ZsyncError {
  readonly kind: ControlFileErrorKind;
  readonly line: number | undefined;
  readonly offset: number | undefined;

  constructor(kind: ControlFileErrorKind, message: string, where: { line?: number; offset?: number } = {}) {
    super(`ERR_ZSYNC_CONTROL_FILE_${kind}`, `${message}${describeWhere(where)}`);
    this.kind = kind;
    this.line = where.line;
    this.offset = where.offset;
  }
}

/** A control file bigger than a documented parser limit (code ERR_ZSYNC_LIMIT_EXCEEDED). */
export class ControlFileLimitError extends LimitExceededError {
  readonly line: number | undefined;
  readonly offset: number | undefined;

  constructor(limit: string, message: string, where: { line?: number; offset?: number } = {}) {
    super(limit, `${message}${describeWhere(where)}`);
    this.line = where.line;
    this.offset = where.offset;
  }
}

function describeWhere(where: { line?: number; offset?: number }): string {
  const parts: string[] = [];
  if (where.line !== undefined) parts.push(`line ${where.line}`);
  if (where.offset !== undefined) parts.push(`byte ${where.offset}`);
  return parts.length ? ` (${parts.join(', ')})` : '';
}
