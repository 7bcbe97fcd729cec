import { Transform } from 'readable-stream';
import { settle, type StreamCallback as TransformCallback } from './stream-callbacks.js';

import type { BlockIndex } from './block-index.js';
import { matchObjects, Matcher, type BlockMatch, type MatcherOptions, type MatcherStats } from './matcher.js';
import type { ByteRange, TargetState } from './target-state.js';

export interface MatcherStreamOptions extends MatcherOptions {
  /** Matches buffered on the readable side before backpressure. Default 256. */
  readableHighWaterMark?: number;
}

/**
 * Bytes of matched blocks copied per slab. Under glibc's mmap threshold (128 KiB
 * to start with): slabs then come from the heap, where freed ones are reused,
 * instead of fresh mappings that fault in page by page (1 MiB slabs cost about
 * a tenth of the 256 MiB scan).
 */
const SLAB_BYTES = 1 << 16;

/**
 * Seed bytes in (any chunking), matched target blocks out as
 * `{ index, seedOffset, data }`. Feed several seeds one after another by giving
 * each MatcherStream the same `state`: what one seed found is not sought again.
 * When it ends, `missingBlocks()` / `missingRanges()` say what is left to fetch.
 *
 * A match's `data` is its own copy, in a slab of matched bytes (target blocks
 * found at the same window share theirs): the matcher scans each chunk where it
 * lies, and the writer may reuse its buffers once a write has called back. So
 * the matched bytes are copied once, and of the unmatched ones only the
 * window or two carried from each chunk to the next (chunks shorter than two
 * windows are gathered whole).
 */
export class MatcherStream extends Transform {
  readonly matcher: Matcher;
  private slab = Buffer.alloc(0);
  private slabUsed = 0;
  private readonly blockSize: number;
  private readonly emitMatch = (match: BlockMatch): void => {
    this.push(match);
  };
  /** A copy of `buf[at, at + blockSize)` in the slab (a new slab when it is full: the old one stays with the matches that hold it). */
  private readonly copyOut = (buf: Buffer, at: number): Buffer => {
    const bs = this.blockSize;
    if (this.slabUsed + bs > this.slab.length) {
      this.slab = Buffer.allocUnsafe(Math.max(SLAB_BYTES, bs));
      this.slabUsed = 0;
    }
    buf.copy(this.slab, this.slabUsed, at, at + bs);
    const copy = this.slab.subarray(this.slabUsed, this.slabUsed + bs);
    this.slabUsed += bs;
    return copy;
  };

  constructor(index: BlockIndex, options: MatcherStreamOptions = {}) {
    super({ readableObjectMode: true, readableHighWaterMark: options.readableHighWaterMark ?? 256 });
    this.matcher = new Matcher(index, options);
    this.blockSize = index.checksums.params.blockSize;
  }

  get state(): TargetState {
    return this.matcher.state;
  }

  get stats(): MatcherStats {
    return this.matcher.stats;
  }

  missingBlocks(): number[] {
    return this.matcher.state.missingBlocks();
  }

  missingRanges(): ByteRange[] {
    return this.matcher.state.missingRanges();
  }

  override _transform(chunk: Uint8Array, _encoding: BufferEncoding, callback: TransformCallback): void {
    settle(callback, () => this.matcher.writeTo(chunk, matchObjects(this.emitMatch, this.copyOut)));
  }

  override _flush(callback: TransformCallback): void {
    settle(callback, () => this.matcher.endTo(matchObjects(this.emitMatch, this.copyOut)));
  }
}
