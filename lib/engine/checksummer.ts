import { createHash, type Hash } from 'node:crypto';
import { BufferList } from 'bl';
import { rsumBlock } from '../checksums/rsum.js';
import { strongHasher, type StrongAlgorithm, type StrongHasher } from '../checksums/strong.js';
import { InvalidArgumentError } from '../errors.js';
import { isValidBlockSize, MAX_BLOCK_SIZE, MIN_BLOCK_SIZE } from './params.js';

/** The checksums of one block of a new file, untruncated. */
export interface BlockRecord {
  kind: 'block';
  index: number;
  /** Packed rsum, (a << 16) | b, unsigned. */
  weak: number;
  /** The whole strong digest of the (zero-padded) block. */
  strong: Uint8Array;
}

/** What is known once the whole new file has gone through. */
export interface ChecksumSummary {
  kind: 'summary';
  length: number;
  blockCount: number;
  blockSize: number;
  strongAlgorithm: StrongAlgorithm;
  /** SHA-1 of the whole file, lowercase hex. */
  sha1: string;
  /** SHA-256 of the whole file, lowercase hex, when asked for. */
  sha256?: string;
}

export type ChecksumRecord = BlockRecord | ChecksumSummary;

export interface ChecksummerOptions {
  /** Bytes per block, a power of two from 16 to 16 MiB. Required: the length is not known up front. */
  blockSize: number;
  /** Default 'MD4', as in every 0.6.x control file. */
  strongAlgorithm?: StrongAlgorithm;
  /** Also compute the SHA-256 of the whole file (for `File-Hash:`). Default false. */
  sha256?: boolean;
}

/**
 * Block checksums of a file fed in chunks of any size: a push parser under
 * ChecksumStream and blockChecksumsSync. Whole blocks inside a chunk are hashed
 * together, straight from the chunk; only a block split across chunks is
 * reassembled (in a BufferList).
 */
export class Checksummer {
  readonly blockSize: number;
  readonly strongAlgorithm: StrongAlgorithm;
  private readonly hasher: StrongHasher;
  private readonly sha1: Hash = createHash('sha1');
  private readonly sha256: Hash | undefined;
  private readonly pending = new BufferList();
  private length = 0;
  private blocks = 0;
  private ended = false;

  constructor(options: ChecksummerOptions) {
    const { blockSize } = options;
    if (!isValidBlockSize(blockSize)) {
      throw new InvalidArgumentError(`block size must be a power of two from ${MIN_BLOCK_SIZE} to ${MAX_BLOCK_SIZE}, got ${blockSize}`);
    }
    this.blockSize = blockSize;
    this.strongAlgorithm = options.strongAlgorithm ?? 'MD4';
    this.hasher = strongHasher(this.strongAlgorithm);
    this.sha256 = options.sha256 === true ? createHash('sha256') : undefined;
  }

  update(chunk: Uint8Array, emit: (record: BlockRecord) => void): void {
    if (this.ended) throw new InvalidArgumentError('write after end');
    if (chunk.length === 0) return;
    this.length += chunk.length;
    this.sha1.update(chunk);
    this.sha256?.update(chunk);
    const bs = this.blockSize;
    let o = 0;
    if (this.pending.length > 0) {
      const need = bs - this.pending.length;
      if (chunk.length < need) {
        this.pending.append(Buffer.from(chunk)); // a copy: the caller may reuse its chunk
        return;
      }
      this.pending.append(Buffer.from(chunk.subarray(0, need)));
      emit(this.block(this.pending.slice(0, bs)));
      this.pending.consume(bs);
      o = need;
    }
    const whole = Math.floor((chunk.length - o) / bs);
    if (whole > 0) {
      // The chunk's whole blocks in one call, several per pass (digestBlocks):
      // one array of digests for them all, each record holding its own view.
      const db = this.hasher.digestBytes;
      const strong = new Uint8Array(whole * db);
      this.hasher.digestBlocks(chunk, o, bs, whole, strong, 0);
      for (let i = 0; i < whole; i++, o += bs) {
        emit({ kind: 'block', index: this.blocks++, weak: rsumBlock(chunk, o, bs), strong: strong.subarray(i * db, (i + 1) * db) });
      }
    }
    // The caller may reuse its chunk after we return: keep a copy of the tail.
    if (o < chunk.length) this.pending.append(Buffer.from(chunk.subarray(o)));
  }

  /** Emits the last, zero-padded block, and returns the summary. */
  end(emit: (record: BlockRecord) => void): ChecksumSummary {
    if (!this.ended) {
      this.ended = true;
      if (this.pending.length > 0) {
        const last = Buffer.alloc(this.blockSize);
        this.pending.copy(last, 0);
        this.pending.consume(this.pending.length);
        emit(this.block(last));
      }
    }
    const summary: ChecksumSummary = {
      kind: 'summary',
      length: this.length,
      blockCount: this.blocks,
      blockSize: this.blockSize,
      strongAlgorithm: this.strongAlgorithm,
      sha1: this.sha1.copy().digest('hex'),
    };
    if (this.sha256) summary.sha256 = this.sha256.copy().digest('hex');
    return summary;
  }

  private block(data: Uint8Array): BlockRecord {
    return {
      kind: 'block',
      index: this.blocks++,
      weak: rsumBlock(data, 0, this.blockSize),
      strong: this.hasher.digest(data),
    };
  }
}
