import { STRONG_DIGEST_BYTES, type StrongAlgorithm } from '../checksums/strong.js';
import { InvalidArgumentError, OutOfRangeError } from '../errors.js';

/**
 * Everything that shapes a target's block checksums: the `Blocksize`, `Length`
 * and `Hash-Lengths` (plus `Strong-Hash-Algorithm`) of a control file.
 */
export interface ChecksumParams {
  /** Bytes per block, a power of two. */
  readonly blockSize: number;
  /** Length of the target file in bytes. */
  readonly length: number;
  /** 1, or 2 when a match needs two consecutive blocks (zsync's seq_matches). */
  readonly seqMatches: 1 | 2;
  /** Bytes of the 4-byte rsum stored per block, 1..4 (the last bytes are kept). */
  readonly weakBytes: number;
  /** Bytes of the strong digest stored per block, 1..digest length (the first bytes are kept). */
  readonly strongBytes: number;
  /** Strong checksum algorithm; MD4 for every 0.6.x file. */
  readonly strongAlgorithm: StrongAlgorithm;
}

/** Largest block size we accept: far above any real maker's choice, small enough to buffer. */
export const MAX_BLOCK_SIZE = 1 << 24;
/** Smallest block size we accept: the rolling sum needs at least a few bytes to mean anything. */
export const MIN_BLOCK_SIZE = 16;

export function blockCountOf(params: Pick<ChecksumParams, 'blockSize' | 'length'>): number {
  return Math.ceil(params.length / params.blockSize);
}

/** log2 of a power of two. */
export function log2Exact(n: number): number {
  return 31 - Math.clz32(n);
}

export function isPowerOfTwo(n: number): boolean {
  return Number.isInteger(n) && n > 0 && (n & (n - 1)) === 0 && n <= 2 ** 30;
}

/** True when `n` is a block size the engine takes: a power of two from MIN_BLOCK_SIZE to MAX_BLOCK_SIZE. */
export function isValidBlockSize(n: number): boolean {
  return isPowerOfTwo(n) && n >= MIN_BLOCK_SIZE && n <= MAX_BLOCK_SIZE;
}

/** Throws InvalidArgumentError unless `params` describe something the engine can match. */
export function validateParams(params: ChecksumParams): void {
  const { blockSize, length, seqMatches, weakBytes, strongBytes, strongAlgorithm } = params;
  if (!isValidBlockSize(blockSize)) {
    throw new InvalidArgumentError(`block size must be a power of two from ${MIN_BLOCK_SIZE} to ${MAX_BLOCK_SIZE}, got ${blockSize}`);
  }
  if (!Number.isSafeInteger(length) || length < 0) {
    throw new InvalidArgumentError(`length must be a non-negative integer, got ${length}`);
  }
  if (seqMatches !== 1 && seqMatches !== 2) {
    throw new InvalidArgumentError(`seqMatches must be 1 or 2, got ${String(seqMatches)}`);
  }
  if (!Number.isInteger(weakBytes) || weakBytes < 1 || weakBytes > 4) {
    throw new InvalidArgumentError(`weakBytes must be 1 to 4, got ${weakBytes}`);
  }
  const digest = STRONG_DIGEST_BYTES[strongAlgorithm];
  if (digest === undefined) {
    throw new InvalidArgumentError(`unknown strong checksum algorithm ${String(strongAlgorithm)}`);
  }
  if (!Number.isInteger(strongBytes) || strongBytes < 1 || strongBytes > digest) {
    throw new InvalidArgumentError(`strongBytes must be 1 to ${digest} for ${strongAlgorithm}, got ${strongBytes}`);
  }
}

/** zsyncmake 0.6.2's block size: 2048 below 100,000,000 bytes, else 4096. */
export function defaultBlockSize(length: number): number {
  return length < 100_000_000 ? 2048 : 4096;
}

/**
 * zsyncmake 0.6.2's Hash-Lengths for a file (make.c), computed with the same
 * floating-point expressions, including the integer division len / blocksize
 * and the truncation of the second strong-length estimate.
 */
export function defaultHashLengths(length: number, blockSize: number): { seqMatches: 1 | 2; weakBytes: number; strongBytes: number } {
  const seqMatches: 1 | 2 = length > blockSize ? 2 : 1;
  const blocksInt = Math.floor(length / blockSize);
  let weakBytes = Math.ceil(((Math.log(length) + Math.log(blockSize)) / Math.log(2) - 8.6) / seqMatches / 8);
  if (weakBytes > 4) weakBytes = 4;
  if (!(weakBytes >= 2)) weakBytes = 2; // also catches -Infinity/NaN for an empty file
  let strongBytes = Math.ceil((20 + (Math.log(length) + Math.log(1 + blocksInt)) / Math.log(2)) / seqMatches / 8);
  const strongBytes2 = Math.trunc((7.9 + (20 + Math.log(1 + blocksInt) / Math.log(2))) / 8);
  if (!(strongBytes >= strongBytes2)) strongBytes = strongBytes2;
  // zsync's checksum records hold at most 16 bytes (an MD4); only files far past
  // any real size would ask for more.
  return { seqMatches, weakBytes, strongBytes: Math.min(strongBytes, 16) };
}

/**
 * The parameters of a hashed file: its summary's block size, length and strong
 * algorithm, with zsyncmake 0.6.2's hash lengths for that length unless
 * `overrides` gives them. Not validated (callers that take user overrides call
 * validateParams).
 */
export function paramsFromSummary(
  summary: { blockSize: number; length: number; strongAlgorithm: StrongAlgorithm },
  overrides: { seqMatches?: 1 | 2; weakBytes?: number; strongBytes?: number } = {},
): ChecksumParams {
  const defaults = defaultHashLengths(summary.length, summary.blockSize);
  return {
    blockSize: summary.blockSize,
    length: summary.length,
    seqMatches: overrides.seqMatches ?? defaults.seqMatches,
    weakBytes: overrides.weakBytes ?? defaults.weakBytes,
    strongBytes: overrides.strongBytes ?? defaults.strongBytes,
    strongAlgorithm: summary.strongAlgorithm,
  };
}

/** Parameters exactly as zsyncmake 0.6.2 would choose them for a file of `length` bytes. */
export function defaultParams(length: number, options: { blockSize?: number; strongAlgorithm?: StrongAlgorithm } = {}): ChecksumParams {
  const blockSize = options.blockSize ?? defaultBlockSize(length);
  const params: ChecksumParams = {
    blockSize,
    length,
    ...defaultHashLengths(length, blockSize),
    strongAlgorithm: options.strongAlgorithm ?? 'MD4',
  };
  validateParams(params);
  return params;
}

/** How many bytes of the target block `index` covers: blockSize, less for the last block. blockSpan()'s length, with no object made. */
export function blockBytes(params: Pick<ChecksumParams, 'blockSize' | 'length'>, index: number): number {
  return Math.min(params.blockSize, params.length - index * params.blockSize);
}

/** The bytes of the target that block `index` covers: [start, end), the last block cut at the length. */
export function blockSpan(params: Pick<ChecksumParams, 'blockSize' | 'length'>, index: number): { start: number; end: number } {
  const start = index * params.blockSize;
  return { start, end: Math.min(start + params.blockSize, params.length) };
}

/** Merges block indices into byte ranges, the last block cut at the file's length. */
export function blocksToRanges(params: Pick<ChecksumParams, 'blockSize' | 'length'>, blocks: readonly number[]): Array<{ start: number; end: number }> {
  const count = blockCountOf(params);
  // Already sorted and distinct (missingBlocks()) is the common case: skip the sort then.
  const sorted = isStrictlyAscending(blocks) ? blocks : [...new Set(blocks)].sort((a, b) => a - b);
  const out: Array<{ start: number; end: number }> = [];
  for (const b of sorted) {
    if (!Number.isInteger(b) || b < 0 || b >= count) throw new OutOfRangeError(`block ${b} is not a block of the file (0..${count - 1})`);
    const start = b * params.blockSize;
    const end = Math.min(start + params.blockSize, params.length);
    const last = out[out.length - 1];
    if (last && last.end === start) last.end = end;
    else out.push({ start, end });
  }
  return out;
}

function isStrictlyAscending(list: readonly number[]): boolean {
  for (let i = 1; i < list.length; i++) if (!(list[i]! > list[i - 1]!)) return false;
  return true;
}
