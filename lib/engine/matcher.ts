import { rsumBlock, weakMask } from '../checksums/rsum.js';
import { strongHasher, type StrongHasher } from '../checksums/strong.js';
import { InvalidArgumentError } from '../errors.js';
import type { BlockChecksums } from './block-checksums.js';
import type { BlockIndex } from './block-index.js';
import { log2Exact } from './params.js';
import { TargetState } from './target-state.js';

/** A target block found in a seed. */
export interface BlockMatch {
  /** Index of the target block. */
  index: number;
  /** Where in the seed the block's bytes start. */
  seedOffset: number;
  /**
   * The block's bytes, blockSize long (zero padded where the window runs past the
   * seed's end). Target blocks with the same content share one Buffer.
   */
  data: Buffer;
}

export interface MatcherOptions {
  /** What is already known of the target; shared by the seeds matched in turn. Default: a new state. */
  state?: TargetState;
  /** Bytes of seed held at once (rounded up to at least 4 windows). Default 1 MiB. */
  bufferSize?: number;
}

export interface MatcherStats {
  /** Seed bytes taken in. */
  seedBytes: number;
  /** Windows whose key passed the filter (each costs a bucket walk). */
  filterHits: number;
  /** Strong digests computed. */
  strongChecks: number;
  /** Target blocks found (each block counted once). */
  blocksFound: number;
}

export const DEFAULT_MATCHER_BUFFER = 1 << 20;

/**
 * The zsync scan of one seed, as a push parser: `write()` seed bytes in chunks of
 * any size, `end()` at the end of the seed; matches are handed to `emit` as they
 * are found. The rolling window is carried across chunk boundaries in one fixed
 * buffer, and the matching rules are zsync 0.6.2's:
 *
 * - every seed offset is a candidate window, the seed being zero padded at its end;
 * - a window matches an unfound target block when the stored weak and strong sums
 *   agree; with seqMatches 2 the next window must also match the next block;
 * - every unfound target block with that content is taken, and the scan jumps a
 *   whole match ahead (1 block, or 2 for a pair);
 * - after a pair, the window just after it is first tried against the target block
 *   that follows the pair, and so on along the run (zsync's next_match).
 *
 * test/reference-matcher.ts states the same rules by brute force; property tests
 * hold the two to the same answers.
 */
export class Matcher {
  readonly state: TargetState;
  readonly stats: MatcherStats = { seedBytes: 0, filterHits: 0, strongChecks: 0, blocksFound: 0 };

  private readonly index: BlockIndex;
  private readonly checksums: BlockChecksums;
  private readonly hasher: StrongHasher;
  private readonly bs: number;
  private readonly shift: number;
  private readonly pairs: boolean;
  private readonly context: number;
  private readonly mask: number;
  private readonly capacity: number;
  private readonly buf: Buffer;

  /** Bytes of buf in use. */
  private filled = 0;
  /** Position in buf of the window under consideration. */
  private x = 0;
  /** Seed offset of buf[0]. */
  private base = 0;
  /** Whether a0..b1 hold the rsums of the windows at x (and x + bs). */
  private valid = false;
  private a0 = 0;
  private b0 = 0;
  private a1 = 0;
  private b1 = 0;
  /** The target block to try first at x, continuing a run of matches; -1 for none. */
  private next = -1;
  private ended = false;

  constructor(index: BlockIndex, options: MatcherOptions = {}) {
    this.index = index;
    this.checksums = index.checksums;
    this.state = options.state ?? new TargetState(index.checksums);
    if (this.state.checksums !== index.checksums) {
      throw new InvalidArgumentError('the target state belongs to other checksums than the index');
    }
    const params = this.checksums.params;
    this.hasher = strongHasher(params.strongAlgorithm);
    this.bs = params.blockSize;
    this.shift = log2Exact(params.blockSize);
    this.pairs = params.seqMatches === 2;
    this.context = params.blockSize * params.seqMatches;
    this.mask = weakMask(params.weakBytes);
    this.capacity = Math.max(options.bufferSize ?? DEFAULT_MATCHER_BUFFER, 4 * this.context);
    // Room past the capacity for the zero padding of the seed's end, plus the one
    // byte the last roll reads.
    this.buf = Buffer.alloc(this.capacity + this.context + 1);
  }

  /** Takes the next bytes of the seed. */
  write(chunk: Uint8Array, emit: (match: BlockMatch) => void): void {
    if (this.ended) throw new InvalidArgumentError('write after end of seed');
    this.stats.seedBytes += chunk.length;
    let o = 0;
    while (o < chunk.length) {
      if (this.state.complete) return; // nothing left to find: the rest of the seed is moot
      if (this.filled === this.capacity) this.compact();
      const n = Math.min(this.capacity - this.filled, chunk.length - o);
      this.buf.set(chunk.subarray(o, o + n), this.filled);
      this.filled += n;
      o += n;
      // A window at x can be tested and rolled once the byte at x + context is here.
      this.scan(this.filled - this.context, emit);
    }
  }

  /** The seed has ended: tests the windows that reach into its zero-padded end. */
  end(emit: (match: BlockMatch) => void): void {
    if (this.ended) return;
    this.ended = true;
    if (this.state.complete) return;
    const dataEnd = this.filled;
    this.buf.fill(0, dataEnd, dataEnd + this.context + 1);
    this.filled = dataEnd + this.context;
    this.scan(dataEnd, emit);
  }

  /** Moves the unscanned tail of the buffer to its front. */
  private compact(): void {
    const x = this.x;
    this.buf.copyWithin(0, x, this.filled);
    this.base += x;
    this.filled -= x;
    this.x = 0;
  }

  /** Tests every window at positions below `limit`. */
  private scan(limit: number, emit: (match: BlockMatch) => void): void {
    const buf = this.buf;
    const bs = this.bs;
    const shift = this.shift;
    const pairs = this.pairs;
    const mask = this.mask;
    const filter = this.index.filter;
    const filterShift = this.index.filterShift;
    let x = this.x;
    let valid = this.valid;
    let a0 = this.a0;
    let b0 = this.b0;
    let a1 = this.a1;
    let b1 = this.b1;

    while (x < limit) {
      if (!valid) {
        const r0 = rsumBlock(buf, x, bs);
        a0 = r0 >>> 16;
        b0 = r0 & 0xffff;
        if (pairs) {
          const r1 = rsumBlock(buf, x + bs, bs);
          a1 = r1 >>> 16;
          b1 = r1 & 0xffff;
        }
        valid = true;
      }
      const w0 = ((a0 << 16) | b0) & mask;
      let jump = 0;
      if (this.next >= 0) jump = this.tryContinuation(x, w0, emit);
      if (jump === 0) {
        const w1 = pairs ? ((a1 << 16) | b1) & mask : 0;
        const key = Math.imul(w0, 0x9e3779b1 | 0) ^ Math.imul(w1, 0x85ebca77 | 0); // lookupKey(w0, w1), inlined
        const bit = key >>> filterShift;
        if ((filter[bit >>> 5]! & (1 << (bit & 31))) !== 0) jump = this.tryBucket(x, key, w0, w1, emit);
      }
      if (jump !== 0) {
        x += jump * bs;
        if (this.state.complete) {
          x = limit;
          this.ended = true; // nothing more to find in this seed
          break;
        }
        if (pairs && jump === 1 && x < limit) {
          // The window after a continued block is the one we already sum as r1.
          a0 = a1;
          b0 = b1;
          const r1 = rsumBlock(buf, x + bs, bs);
          a1 = r1 >>> 16;
          b1 = r1 & 0xffff;
        } else {
          valid = false;
        }
        continue;
      }
      const oc = buf[x]!;
      const nc = buf[x + bs]!;
      a0 = (a0 + nc - oc) & 0xffff;
      b0 = (b0 + a0 - (oc << shift)) & 0xffff;
      if (pairs) {
        const nn = buf[x + 2 * bs]!;
        a1 = (a1 + nn - nc) & 0xffff;
        b1 = (b1 + a1 - (nc << shift)) & 0xffff;
      }
      x++;
    }
    this.x = x;
    this.valid = valid;
    this.a0 = a0;
    this.b0 = b0;
    this.a1 = a1;
    this.b1 = b1;
  }

  /** Tries the window at x as the continuation of the last run of matches. */
  private tryContinuation(x: number, w0: number, emit: (match: BlockMatch) => void): number {
    const id = this.next;
    this.next = -1;
    const { present } = this.state;
    if (present[id] === 1 || this.checksums.weak[id] !== w0) return 0;
    if (!this.checksums.strongEquals(id, this.digest(x))) return 0;
    this.found(id, x, this.copyWindow(x), emit);
    if (id + 1 < this.checksums.blockCount && present[id + 1] === 0) this.next = id + 1;
    return 1;
  }

  /**
   * Walks the bucket of `key`: every unfound block whose sums agree with the
   * window at x (and, for pairs, whose successor agrees with the next window) is
   * taken. Drops blocks already found from the bucket as it goes.
   */
  private tryBucket(x: number, key: number, w0: number, w1: number, emit: (match: BlockMatch) => void): number {
    this.stats.filterHits++;
    this.next = -1;
    const { bucketStart, bucketEnd, entries, tableShift } = this.index;
    const { weak, blockCount } = this.checksums;
    const present = this.state.present;
    const pairs = this.pairs;
    const b = key >>> tableShift;
    const end = bucketEnd[b]!;
    let kept = bucketStart[b]!;
    let d0: Uint8Array | undefined;
    let d1: Uint8Array | undefined;
    let data0: Buffer | undefined;
    let data1: Buffer | undefined;
    let matched = false;
    for (let r = kept; r < end; r++) {
      const id = entries[r]!;
      if (present[id] === 1) continue; // found since: drop it from the bucket
      entries[kept++] = id;
      if (weak[id] !== w0 || (pairs && weak[id + 1] !== w1)) continue;
      d0 ??= this.digest(x);
      if (!this.checksums.strongEquals(id, d0)) continue;
      if (pairs) {
        d1 ??= this.digest(x + this.bs);
        if (!this.checksums.strongEquals(id + 1, d1)) continue;
      }
      matched = true;
      data0 ??= this.copyWindow(x);
      if (!pairs) {
        this.found(id, x, data0, emit);
        continue;
      }
      // As zsync: take the pair's blocks we lack, and continue the run after the
      // pair only if the two blocks after `id` were both still missing.
      const secondMissing = present[id + 1] === 0;
      const thirdMissing = id + 2 < blockCount && present[id + 2] === 0;
      this.found(id, x, data0, emit);
      if (secondMissing) {
        data1 ??= this.copyWindow(x + this.bs);
        this.found(id + 1, x + this.bs, data1, emit);
        if (thirdMissing) this.next = id + 2;
      }
    }
    bucketEnd[b] = kept;
    return matched ? (pairs ? 2 : 1) : 0;
  }

  private found(id: number, x: number, data: Buffer, emit: (match: BlockMatch) => void): void {
    this.state.add(id);
    this.stats.blocksFound++;
    emit({ index: id, seedOffset: this.base + x, data });
  }

  private digest(x: number): Uint8Array {
    this.stats.strongChecks++;
    return this.hasher.digest(this.buf.subarray(x, x + this.bs));
  }

  private copyWindow(x: number): Buffer {
    const out = Buffer.allocUnsafe(this.bs);
    this.buf.copy(out, 0, x, x + this.bs);
    return out;
  }
}
