import { STRONG_DIGEST_BYTES } from '../checksums/strong.js';
import { InvalidArgumentError } from '../errors.js';
import { BlockChecksums } from './block-checksums.js';
import type { BlockRecord, ChecksumSummary } from './checksummer.js';
import { paramsFromSummary } from './params.js';

/** Hash lengths to store; each defaults to zsyncmake 0.6.2's choice for the file's length. */
export interface HashLengthOptions {
  seqMatches?: 1 | 2;
  weakBytes?: number;
  strongBytes?: number;
}

/**
 * Gathers a ChecksumStream's records into BlockChecksums. The hash lengths depend
 * on the file's length, known only at the summary, so the untruncated sums are
 * kept until then: 4 + digest bytes per block, in arrays that grow by doubling.
 */
export class ChecksumCollector {
  private weak = new Int32Array(1024);
  private strong: Uint8Array;
  private count = 0;
  private readonly digestBytes: number;

  constructor(private readonly options: HashLengthOptions & { strongAlgorithm?: keyof typeof STRONG_DIGEST_BYTES } = {}) {
    this.digestBytes = STRONG_DIGEST_BYTES[options.strongAlgorithm ?? 'MD4'];
    this.strong = new Uint8Array(1024 * this.digestBytes);
  }

  add(record: BlockRecord): void {
    if (record.index !== this.count) throw new InvalidArgumentError(`block record ${record.index} out of order (expected ${this.count})`);
    if (this.count === this.weak.length) {
      const weak = new Int32Array(this.weak.length * 2);
      weak.set(this.weak);
      this.weak = weak;
      const strong = new Uint8Array(this.strong.length * 2);
      strong.set(this.strong);
      this.strong = strong;
    }
    this.weak[this.count] = record.weak;
    this.strong.set(record.strong.subarray(0, this.digestBytes), this.count * this.digestBytes);
    this.count++;
  }

  finish(summary: ChecksumSummary): BlockChecksums {
    if (summary.blockCount !== this.count) throw new InvalidArgumentError(`summary counts ${summary.blockCount} blocks, got ${this.count}`);
    const params = paramsFromSummary(summary, this.options);
    const strong = sliceEach(this.strong, this.digestBytes, 0, params.strongBytes, this.count);
    const fileHashes = summary.sha256 === undefined ? { sha1: summary.sha1 } : { sha1: summary.sha1, sha256: summary.sha256 };
    return new BlockChecksums(params, this.weak.slice(0, this.count), strong, fileHashes);
  }
}

/**
 * Of `count` records of `stride` bytes each, back to back in `records`, keeps
 * `length` bytes from `start` within each, packed back to back (a new buffer).
 * Cuts untruncated block sums down to their stored lengths.
 */
export function sliceEach(records: Uint8Array, stride: number, start: number, length: number, count: number): Uint8Array {
  const out = new Uint8Array(count * length);
  for (let i = 0, src = start, dst = 0; i < count; i++, src += stride, dst += length) {
    out.set(records.subarray(src, src + length), dst);
  }
  return out;
}
