import { STRONG_DIGEST_BYTES } from '../checksums/strong.js';
import { InvalidArgumentError } from '../errors.js';
import { BlockChecksums } from './block-checksums.js';
import type { BlockRecord, ChecksumSummary } from './checksummer.js';
import { defaultHashLengths, type ChecksumParams } from './params.js';

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
    const defaults = defaultHashLengths(summary.length, summary.blockSize);
    const params: ChecksumParams = {
      blockSize: summary.blockSize,
      length: summary.length,
      seqMatches: this.options.seqMatches ?? defaults.seqMatches,
      weakBytes: this.options.weakBytes ?? defaults.weakBytes,
      strongBytes: this.options.strongBytes ?? defaults.strongBytes,
      strongAlgorithm: summary.strongAlgorithm,
    };
    const n = params.strongBytes;
    const strong = new Uint8Array(this.count * n);
    for (let i = 0; i < this.count; i++) {
      strong.set(this.strong.subarray(i * this.digestBytes, i * this.digestBytes + n), i * n);
    }
    const fileHashes = summary.sha256 === undefined ? { sha1: summary.sha1 } : { sha1: summary.sha1, sha256: summary.sha256 };
    return new BlockChecksums(params, this.weak.slice(0, this.count), strong, fileHashes);
  }
}
