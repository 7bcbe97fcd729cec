/**
 * Every failure zsync-streams reports is a ZsyncError with a stable `code`.
 * Match on `code` (or `instanceof` the subclass), never on message text.
 */
export class ZsyncError extends Error {
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** A caller passed an option or argument we cannot honour. */
export class InvalidArgumentError extends ZsyncError {
  constructor(message: string) {
    super('ERR_ZSYNC_INVALID_ARGUMENT', message);
  }
}

/** A stream ended before the data it promised had arrived. */
export class TruncatedInputError extends ZsyncError {
  constructor(message: string) {
    super('ERR_ZSYNC_TRUNCATED', message);
  }
}

/** A documented bound (buffered bytes, pending blocks, header size...) would be exceeded. */
export class LimitExceededError extends ZsyncError {
  readonly limit: string;
  constructor(limit: string, message: string) {
    super('ERR_ZSYNC_LIMIT_EXCEEDED', message);
    this.limit = limit;
  }
}

/** Data offered for a target block does not have that block's strong checksum. */
export class BlockChecksumError extends ZsyncError {
  readonly block: number;
  readonly offset: number;
  constructor(block: number, offset: number) {
    super('ERR_ZSYNC_BLOCK_CHECKSUM', `data for block ${block} (offset ${offset}) does not match its checksum`);
    this.block = block;
    this.offset = offset;
  }
}

/** Data was offered at an offset that is not inside the target file. */
export class OutOfRangeError extends ZsyncError {
  constructor(message: string) {
    super('ERR_ZSYNC_OUT_OF_RANGE', message);
  }
}

/** An optional positive integer option: `fallback` when absent, InvalidArgumentError when not a positive safe integer. */
export function positiveOption(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value <= 0) throw new InvalidArgumentError(`${name} must be a positive integer, got ${value}`);
  return value;
}

/**
 * `text` with control characters (C0, C1, line separators) replaced by U+FFFD:
 * for words that came from a peer or a file and go to a terminal or a log,
 * where an escape sequence could rewrite the screen.
 */
export function printable(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, '\ufffd');
}

/** The caller's AbortSignal fired. */
export class AbortedError extends ZsyncError {
  constructor(cause?: unknown) {
    super('ERR_ZSYNC_ABORTED', 'aborted', { cause });
  }
}
