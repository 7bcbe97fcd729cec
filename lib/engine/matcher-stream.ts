import { Transform } from 'readable-stream';
import { settle, type StreamCallback as TransformCallback } from './stream-callbacks.js';

import type { BlockIndex } from './block-index.js';
import { Matcher, type BlockMatch, type MatcherOptions, type MatcherStats } from './matcher.js';
import type { ByteRange, TargetState } from './target-state.js';

export interface MatcherStreamOptions extends MatcherOptions {
  /** Matches buffered on the readable side before backpressure. Default 256. */
  readableHighWaterMark?: number;
}

/**
 * Seed bytes in (any chunking), matched target blocks out as
 * `{ index, seedOffset, data }`. Feed several seeds one after another by giving
 * each MatcherStream the same `state`: what one seed found is not sought again.
 * When it ends, `missingBlocks()` / `missingRanges()` say what is left to fetch.
 */
export class MatcherStream extends Transform {
  readonly matcher: Matcher;
  private readonly emitMatch = (match: BlockMatch): void => {
    this.push(match);
  };

  constructor(index: BlockIndex, options: MatcherStreamOptions = {}) {
    super({ readableObjectMode: true, readableHighWaterMark: options.readableHighWaterMark ?? 256 });
    this.matcher = new Matcher(index, options);
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
    settle(callback, () => this.matcher.write(chunk, this.emitMatch));
  }

  override _flush(callback: TransformCallback): void {
    settle(callback, () => this.matcher.end(this.emitMatch));
  }
}
