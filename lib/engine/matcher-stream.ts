import { Transform } from 'readable-stream';
import { settle, type StreamCallback as TransformCallback } from './stream-callbacks.js';

import type { BlockIndex } from './block-index.js';
import { Matcher, type BlockMatch, type MatcherOptions, type MatcherStats } from './matcher.js';
import type { ByteRange, TargetState } from './target-state.js';

export interface MatcherStreamOptions extends Omit<MatcherOptions, 'reuseBuffer'> {
  /** Matches buffered on the readable side before backpressure. Default 256. */
  readableHighWaterMark?: number;
}

/** A chunk written in, and where in the seed it starts. */
interface SeedChunk {
  start: number;
  data: Buffer;
}

/**
 * Seed bytes in (any chunking), matched target blocks out as
 * `{ index, seedOffset, data }`. Feed several seeds one after another by giving
 * each MatcherStream the same `state`: what one seed found is not sought again.
 * When it ends, `missingBlocks()` / `missingRanges()` say what is left to fetch.
 *
 * A match's `data` is a view of the chunk written in that holds its bytes, so
 * do not write a buffer in and then change it; a block that straddles two
 * chunks, or runs into the zero padding at the seed's end, is a copy. The
 * matcher keeps one buffer for the whole seed (reuseBuffer): before, matches
 * were views of it, so it took a fresh MiB each time it filled, and the copy
 * into fresh memory (page faults) was a quarter of the stream's time.
 */
export class MatcherStream extends Transform {
  readonly matcher: Matcher;
  /**
   * The chunks a match found by the current write() can lie in wholly: this one
   * and those before it, as far back as two windows. Only chunks of a block or
   * more: a smaller one never holds a whole block (so a few entries at most).
   */
  private readonly recent: SeedChunk[] = [];
  private seedBytes = 0;
  /** The last copy made, for the next target blocks with the same content (they share their data). */
  private copied: { from: Buffer; copy: Buffer } | undefined;
  private readonly window: number;
  private readonly blockSize: number;
  private readonly emitMatch = (match: BlockMatch): void => {
    this.push({ index: match.index, seedOffset: match.seedOffset, data: this.stableData(match) });
  };

  constructor(index: BlockIndex, options: MatcherStreamOptions = {}) {
    super({ readableObjectMode: true, readableHighWaterMark: options.readableHighWaterMark ?? 256 });
    this.matcher = new Matcher(index, { ...options, reuseBuffer: true });
    // Windows still untested when a chunk arrives start at most this far before it.
    const { blockSize, seqMatches } = index.checksums.params;
    this.window = 2 * blockSize * seqMatches;
    this.blockSize = blockSize;
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
    settle(callback, () => {
      const data = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      this.remember(data);
      this.copied = undefined;
      this.matcher.write(data, this.emitMatch);
    });
  }

  override _flush(callback: TransformCallback): void {
    settle(callback, () => {
      this.copied = undefined;
      this.matcher.end(this.emitMatch);
    });
  }

  /** Adds a chunk to `recent`, dropping those that end more than two windows before it. */
  private remember(data: Buffer): void {
    const start = this.seedBytes;
    this.seedBytes += data.length;
    while (this.recent.length > 0 && this.recent[0]!.start + this.recent[0]!.data.length <= start - this.window) this.recent.shift();
    if (data.length >= this.blockSize) this.recent.push({ start, data });
  }

  /** The match's bytes as a view of the chunk that holds them all, else a copy: the matcher's own buffer is reused. */
  private stableData(match: BlockMatch): Buffer {
    const from = match.seedOffset;
    const to = from + match.data.length;
    for (let k = this.recent.length - 1; k >= 0; k--) {
      const c = this.recent[k]!;
      if (from >= c.start && to <= c.start + c.data.length) return c.data.subarray(from - c.start, to - c.start);
      if (from >= c.start) break;
    }
    if (this.copied?.from !== match.data) this.copied = { from: match.data, copy: Buffer.from(match.data) };
    return this.copied.copy;
  }
}
