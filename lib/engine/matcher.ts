import { rsumBlock, weakMask } from '../checksums/rsum.js';
import { strongHasher, type StrongHasher } from '../checksums/strong.js';
import { InvalidArgumentError } from '../errors.js';
import type { BlockChecksums } from './block-checksums.js';
import { DROPPED_TAG, K0, K1, K2, keyTag, lookupKey, type BlockIndex, type BucketLookup } from './block-index.js';
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
   * seed's end). Target blocks found at the same window share its bytes. Not to
   * be modified. From write(): a view of the chunk given, when the chunk (at
   * least two windows long, so scanned where it lies) holds the whole window,
   * valid for as long as the caller leaves that chunk alone; else a copy. A
   * caller that reads into one reused buffer copies what it keeps (as
   * MatcherStream does).
   */
  data: Buffer;
}

/**
 * Where the sync's own scan takes matches without an object per match: block
 * `index` found at `seedOffset`, its bytes `buf[at, at + blockSize)` (zero
 * padded past the seed's end), valid until the next write() or end(). Copy
 * or write them before then (BlockRunWriter.addFrom copies them, with no view
 * made; in its direct mode it writes them, at the latest at release(), which
 * the caller calls before the next write).
 */
export type MatchSink = (index: number, seedOffset: number, buf: Buffer, at: number) => void;

/**
 * A MatchSink that hands BlockMatch objects to `emit`, their bytes made by
 * `data(buf, at)` once per window: target blocks found at the same window share
 * them. For one write() or end() at a time (the matcher's buffer is written over
 * between them, so a window's place then holds other bytes).
 */
export function matchObjects(emit: (match: BlockMatch) => void, data: (buf: Buffer, at: number) => Buffer): MatchSink {
  let lastBuf: Buffer | undefined;
  let lastAt = -1;
  let lastData: Buffer | undefined;
  return (index, seedOffset, buf, at) => {
    if (buf !== lastBuf || at !== lastAt) {
      lastBuf = buf;
      lastAt = at;
      lastData = data(buf, at);
    }
    emit({ index, seedOffset, data: lastData! });
  };
}

export interface MatcherOptions {
  /** What is already known of the target; shared by the seeds matched in turn. Default: a new state. */
  state?: TargetState;
  /**
   * Bytes of seed the matcher gathers from chunks too short to scan in place
   * (under two windows), rounded up to at least 4 windows. Default 64 KiB.
   */
  bufferSize?: number;
}

export interface MatcherStats {
  /** Seed bytes taken in. */
  seedBytes: number;
  /** Windows whose key passed both filters (each costs a bucket probe). */
  filterPasses: number;
  /** Windows whose key's tag is that of some block in its bucket (each costs a bucket walk). */
  filterHits: number;
  /** Windows whose strong digest was compared (some digests were computed ahead, several per pass). */
  strongChecks: number;
  /** Target blocks found (each block counted once). */
  blocksFound: number;
}

export const DEFAULT_MATCHER_BUFFER = 1 << 16;

/**
 * The zsync scan of one seed, as a push parser: `write()` seed bytes in chunks of
 * any size, `end()` at the end of the seed; matches are handed to `emit` as they
 * are found. A chunk of at least two windows is scanned where it lies; only the
 * windows that straddle two chunks are scanned in the matcher's own small
 * buffer, which carries the last window or two of each chunk (and gathers
 * chunks too short to scan in place). The matching rules are zsync 0.6.2's:
 *
 * - every seed offset is a candidate window, the seed being zero padded at its end;
 * - a window matches an unfound target block when the stored weak and strong sums
 *   agree; with seqMatches 2 the next window must also match the next block;
 * - every unfound target block with that content is taken, and the scan jumps a
 *   whole match ahead (1 block, or 2 for a pair);
 * - after a pair, the window just after it is first tried against the target block
 *   that follows the pair, and so on along the run (zsync's next_match).
 *
 * One deliberate difference from zsync 0.6.2: when a bucket walk ends with the
 * run's next block already taken by a later pair of the same walk, zsync still
 * tests that block at the next window, "matches" it and jumps a block, losing
 * that window; here a block already found is never tried, the window gets a
 * normal lookup, and so the matcher never finds fewer blocks than zsync (it
 * can find more, in that corner only).
 *
 * A block is marked present in the state when it is found, before any patcher
 * has written it: if the local write fails, the state is not to be reused.
 *
 * test/reference-matcher.ts states the same rules by brute force; property tests
 * hold the two to the same answers.
 */
export class Matcher {
  readonly state: TargetState;
  readonly stats: MatcherStats = { seedBytes: 0, filterPasses: 0, filterHits: 0, strongChecks: 0, blocksFound: 0 };

  private readonly lookup: BucketLookup;
  private readonly checksums: BlockChecksums;
  private readonly hasher: StrongHasher;
  private readonly bs: number;
  private readonly shift: number;
  private readonly pairs: boolean;
  private readonly context: number;
  private readonly mask: number;
  private readonly capacity: number;
  /**
   * The matcher's own buffers: the windows that straddle chunks, and chunks too
   * short to scan in place, are gathered in one of them. Two, so that carrying
   * a chunk's last bytes over never writes where this write()'s matches point
   * (a MatchSink's bytes are valid until the next write()).
   */
  private readonly own: [Buffer, Buffer];
  /** Which of `own` holds the bytes carried over. */
  private current = 0;
  /** The buffer being scanned: own[current], or the caller's chunk while it is scanned in place. */
  private win: Buffer;

  /** Bytes of win in use. */
  private filled = 0;
  /** Position in win of the window under consideration. */
  private x = 0;
  /** Seed offset of win[0]. */
  private base = 0;
  /** Whether `sums` holds the rsums of the windows at x (and x + bs). */
  private valid = false;
  /** a and b of the window at x, then (for pairs) of the window at x + bs. */
  private readonly sums = new Int32Array(4);
  /** The target block to try first at x, continuing a run of matches; -1 for none. */
  private next = -1;
  private ended = false;
  /** Set when a consumer threw mid-scan; cleared by restart(). */
  private failed = false;
  /** Whether this write() has handed out bytes of own[current] (then they must not be written over). */
  private ownOut = false;
  /**
   * Digests of windows computed ahead, in two generations so that a miss, which
   * refills one, leaves the digest just handed out in the other: tryBucket holds
   * the window's digest while it asks for the next window's. Generation g holds
   * cachedCount[g] windows from seed offset cachedAt[g], bs apart. Keyed by seed
   * offset, not buffer position: the seed's byte at an offset never changes, so
   * neither a move between buffers nor a carry can make an entry stale.
   */
  private readonly digests: Uint8Array;
  private readonly cachedAt = [-1, -1];
  private readonly cachedCount = [0, 0];
  /** The generation of the digest handed out last. */
  private generation = 0;
  /** Seed offset just past the last block found: a window there continues a run of matches. */
  private runEnd = -1;
  /** Blocks found back to back up to runEnd. */
  private runBlocks = 0;

  /** Kept to refuse writes once it is disposed of (its arrays are empty then: nothing would match). */
  private readonly index: BlockIndex;

  constructor(index: BlockIndex, options: MatcherOptions = {}) {
    this.checksums = index.checksums;
    this.state = options.state ?? new TargetState(index.checksums);
    if (this.state.checksums !== index.checksums) {
      throw new InvalidArgumentError('the target state belongs to other checksums than the index');
    }
    this.index = index;
    this.lookup = index.lookupFor(this.state);
    const params = this.checksums.params;
    this.hasher = strongHasher(params.strongAlgorithm);
    this.digests = new Uint8Array(2 * this.hasher.lanes * this.hasher.digestBytes);
    this.bs = params.blockSize;
    this.shift = log2Exact(params.blockSize);
    this.pairs = params.seqMatches === 2;
    this.context = params.blockSize * params.seqMatches;
    this.mask = weakMask(params.weakBytes);
    this.capacity = Math.max(options.bufferSize ?? DEFAULT_MATCHER_BUFFER, 4 * this.context);
    // Room past the capacity for the zero padding of the seed's end, plus the one
    // byte the last roll reads.
    const size = this.capacity + this.context + 1;
    this.own = [Buffer.alloc(size), Buffer.alloc(size)];
    this.win = this.own[0];
  }

  /** Takes the next bytes of the seed. */
  write(chunk: Uint8Array, emit: (match: BlockMatch) => void): void {
    this.writeTo(chunk, this.sinkFor(emit));
  }

  /** The seed has ended: tests the windows that reach into its zero-padded end. */
  end(emit: (match: BlockMatch) => void): void {
    this.endTo(this.sinkFor(emit));
  }

  /**
   * write(), with the matches handed to a MatchSink: no object or view per
   * match, and the bytes given are the chunk's own or the matcher's (never a
   * copy made for the sink).
   */
  writeTo(chunk: Uint8Array, sink: MatchSink): void {
    if (this.ended) throw new InvalidArgumentError('write after end of seed');
    if (this.index.disposed) throw new InvalidArgumentError('the BlockIndex of this matcher was disposed of');
    if (this.failed) throw new InvalidArgumentError('the matcher failed in an earlier call (a consumer threw): restart() it first');
    this.stats.seedBytes += chunk.length;
    this.ownOut = false; // what earlier calls handed out is void now
    if (this.state.complete) return; // nothing left to find: the rest of the seed is moot
    try {
      this.take(chunk, sink);
    } catch (err) {
      this.fail();
      throw err;
    }
  }

  private take(chunk: Uint8Array, sink: MatchSink): void {
    const c = this.context;
    if (chunk.length < 2 * c) {
      this.gather(chunk, sink);
      return;
    }
    const data = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length);
    // The windows that start before the chunk read up to c of its bytes: test
    // them in the own buffer, with those bytes appended.
    const p = this.filled;
    const chunkBase = this.base + p;
    let start = 0;
    if (this.x < p) {
      // Room for them: filled is at most the capacity, the buffer c + 1 longer.
      this.win.set(data.subarray(0, c), p);
      this.filled = p + c;
      this.scan(p, sink);
      if (this.state.complete) return;
      start = this.x - p; // a jump may have landed inside the chunk
    }
    // The rest, where it lies: every window that has its byte at + c in the chunk.
    this.win = data;
    this.base = chunkBase;
    this.filled = data.length;
    this.x = start;
    this.scan(data.length - c, sink);
    // Carry the untested windows' bytes (at most c) over to the own buffer.
    const x = this.x;
    if (this.ownOut) {
      this.current ^= 1;
      this.ownOut = false;
    }
    this.win = this.own[this.current]!;
    data.copy(this.win, 0, x);
    this.base = chunkBase + x;
    this.filled = data.length - x;
    this.x = 0;
  }

  /** end(), with the matches handed to a MatchSink. */
  endTo(sink: MatchSink): void {
    if (this.ended) return;
    if (this.index.disposed) throw new InvalidArgumentError('the BlockIndex of this matcher was disposed of');
    if (this.failed) throw new InvalidArgumentError('the matcher failed in an earlier call (a consumer threw): restart() it first');
    this.ended = true;
    this.ownOut = false;
    if (this.state.complete) return;
    const dataEnd = this.filled;
    this.win.fill(0, dataEnd, dataEnd + this.context + 1);
    this.filled = dataEnd + this.context;
    try {
      this.scan(dataEnd, sink);
    } catch (err) {
      this.fail();
      throw err;
    }
  }

  /**
   * A consumer threw mid-scan: the window may be left in the caller's chunk,
   * which must never be written into. Back to an own buffer, and refusing
   * more seed until restart(): the scan's place is lost.
   */
  private fail(): void {
    this.failed = true;
    this.win = this.own[this.current]!;
    this.filled = 0;
    this.x = 0;
    this.valid = false;
  }

  /** Appends a short chunk to the own buffer and tests the windows that now have all their bytes. */
  private gather(chunk: Uint8Array, sink: MatchSink): void {
    // Room for the whole chunk up front, before any match of this call points
    // into the buffer: after a scan at most c bytes are pending, so a chunk of
    // under 2 c fits in the capacity of at least 4 c.
    if (this.capacity - this.filled < chunk.length) this.compact();
    this.win.set(chunk, this.filled);
    this.filled += chunk.length;
    // A window at x can be tested and rolled once the byte at x + context is here.
    this.scan(this.filled - this.context, sink);
  }

  /** BlockMatch objects for `emit`: views of the chunk where the window lies in it, copies of the own buffers' bytes (which get written over). */
  private sinkFor(emit: (match: BlockMatch) => void): MatchSink {
    const bs = this.bs;
    const own = this.own;
    return matchObjects(emit, (buf, at) => (buf === own[0] || buf === own[1] ? Buffer.from(buf.subarray(at, at + bs)) : buf.subarray(at, at + bs)));
  }

  /**
   * Starts on another stretch of seed, unrelated to the bytes before it (the
   * split scan's next segment): the window, the run and the end are forgotten,
   * and so are the digests computed ahead; the buffers, the state and the
   * stats are kept. Costs no allocation, which a new Matcher per stretch did.
   */
  restart(): void {
    this.win = this.own[this.current]!;
    this.filled = 0;
    this.x = 0;
    this.base = 0;
    this.valid = false;
    this.next = -1;
    this.ended = false;
    this.failed = false;
    this.ownOut = false;
    this.runEnd = -1;
    this.runBlocks = 0;
    // Digests are keyed by seed offset, which starts again at 0.
    this.cachedAt[0] = this.cachedAt[1] = -1;
    this.cachedCount[0] = this.cachedCount[1] = 0;
  }

  /**
   * Moves the untested bytes of the own buffer to its front. Only ever before
   * this call has handed out any of its bytes (gather() makes room up front).
   */
  private compact(): void {
    const x = this.x;
    this.win.copy(this.win, 0, x, this.filled);
    this.base += x;
    this.filled -= x;
    this.x = 0;
  }

  /** Tests every window at positions below `limit`. */
  private scan(limit: number, sink: MatchSink): void {
    const buf = this.win;
    const bs = this.bs;
    const shift = this.shift;
    const pairs = this.pairs;
    const mask = this.mask;
    const lookup = this.lookup;
    const sums = this.sums;
    let x = this.x;

    while (x < limit) {
      if (!this.valid) {
        setSums(sums, 0, rsumBlock(buf, x, bs));
        if (pairs) setSums(sums, 2, rsumBlock(buf, x + bs, bs));
        this.valid = true;
      }
      let jump = 0;
      if (this.next >= 0) jump = this.tryContinuation(x, ((sums[0]! << 16) | sums[1]!) & mask, sink);
      if (jump === 0) {
        // Roll on to the next window whose key passes the filter: the hot loop.
        x = pairs
          ? rollPairs(buf, x, limit, bs, shift, mask, lookup.filter, lookup.filterShift, lookup.confirm, lookup.confirmShift, sums)
          : rollSingle(buf, x, limit, bs, shift, mask, lookup.filter, lookup.filterShift, lookup.confirm, lookup.confirmShift, sums);
        if (x >= limit) break;
        this.stats.filterPasses++;
        const w0 = ((sums[0]! << 16) | sums[1]!) & mask;
        const w1 = pairs ? ((sums[2]! << 16) | sums[3]!) & mask : 0;
        const key = lookupKey(w0, w1);
        if (hasTag(lookup, key)) jump = this.tryBucket(x, key, w0, w1, sink);
        if (jump === 0) {
          roll(buf, x, bs, shift, pairs, sums);
          x++;
          continue;
        }
      }
      x += jump * bs;
      if (this.state.complete) {
        x = limit; // nothing more to find in this seed
        break;
      }
      if (pairs && jump === 1 && x < limit) {
        // The window after a continued block is the one already summed as r1.
        sums[0] = sums[2]!;
        sums[1] = sums[3]!;
        setSums(sums, 2, rsumBlock(buf, x + bs, bs));
      } else {
        this.valid = false;
      }
    }
    this.x = x;
  }

  /** Tries the window at x as the continuation of the last run of matches. */
  private tryContinuation(x: number, w0: number, sink: MatchSink): number {
    const id = this.next;
    this.next = -1;
    const { present } = this.state;
    if (present[id] === 1 || this.checksums.weak[id] !== w0) return 0;
    if (!this.checksums.strongEquals(id, this.digests, this.digest(x))) return 0;
    this.found(id, x, sink);
    if (id + 1 < this.checksums.blockCount && present[id + 1] === 0) this.next = id + 1;
    return 1;
  }

  /**
   * Walks the bucket of `key`: every unfound block whose sums agree with the
   * window at x (and, for pairs, whose successor agrees with the next window) is
   * taken. Drops blocks already found from the bucket as it goes.
   */
  private tryBucket(x: number, key: number, w0: number, w1: number, sink: MatchSink): number {
    this.stats.filterHits++;
    this.next = -1;
    const { bucketStart, entries, tags, tableShift } = this.lookup;
    const { weak, blockCount } = this.checksums;
    const present = this.state.present;
    const pairs = this.pairs;
    const b = key >>> tableShift;
    const tag = keyTag(key);
    const limit = bucketStart[b + 1]!;
    let kept = bucketStart[b]!;
    let d0 = -1;
    let d1 = -1;
    let matched = false;
    let r = kept;
    for (; r < limit; r++) {
      const id = entries[r]!;
      if (id < 0) break; // the bucket's dropped entries, from here to its end
      if (present[id] === 1) continue; // found since: drop it from the bucket
      const t = tags[r]!;
      tags[kept] = t;
      entries[kept++] = id;
      // The tag first: the sums of an entry are a read at random.
      if (t !== tag || weak[id] !== w0 || (pairs && weak[id + 1] !== w1)) continue;
      if (d0 < 0) d0 = this.digest(x);
      if (!this.checksums.strongEquals(id, this.digests, d0)) continue;
      if (pairs) {
        if (d1 < 0) d1 = this.digest(x + this.bs);
        if (!this.checksums.strongEquals(id + 1, this.digests, d1)) continue;
      }
      matched = true;
      if (!pairs) {
        this.found(id, x, sink);
        continue;
      }
      // As zsync: take the pair's blocks we lack, and continue the run after the
      // pair only if the two blocks after `id` were both still missing.
      const secondMissing = present[id + 1] === 0;
      const thirdMissing = id + 2 < blockCount && present[id + 2] === 0;
      this.found(id, x, sink);
      if (secondMissing) {
        this.found(id + 1, x + this.bs, sink);
        if (thirdMissing) this.next = id + 2;
      }
    }
    // What was dropped joins the bucket's tail, which no walk reads past.
    for (; kept < r; kept++) {
      entries[kept] = -1;
      tags[kept] = DROPPED_TAG;
    }
    return matched ? (pairs ? 2 : 1) : 0;
  }

  private found(id: number, x: number, sink: MatchSink): void {
    this.state.add(id);
    this.stats.blocksFound++;
    this.runBlocks = this.base + x === this.runEnd ? this.runBlocks + 1 : 1;
    this.runEnd = this.base + x + this.bs;
    // The window's bytes are the sink's until the next write: no carry may write over them.
    if (this.win === this.own[this.current]) this.ownOut = true;
    sink(id, this.base + x, this.win, x);
  }

  /**
   * The strong digest of the window at x, as its offset in `digests`. Inside a
   * run of matches the windows x + bs, x + 2 bs, ... are the ones checked next,
   * so a miss there hashes several of them in one SIMD pass: half the hasher's
   * lanes (4 for MD4) as a run starts, all of them (8) once the run is that
   * long. A miss with pairs, which checks x + bs straight after x, hashes half.
   */
  private digest(x: number): number {
    this.stats.strongChecks++;
    const at = this.base + x;
    const bs = this.bs;
    const db = this.hasher.digestBytes;
    const lanes = this.hasher.lanes;
    for (let g = 0; g < 2; g++) {
      const d = at - this.cachedAt[g]!;
      if (d >= 0 && d < this.cachedCount[g]! * bs && d % bs === 0) {
        this.generation = g;
        return (g * lanes + d / bs) * db;
      }
    }
    // Refill the generation that does not hold the digest handed out last.
    const g = (this.generation ^= 1);
    const half = (lanes + 1) >> 1;
    const ahead = at === this.runEnd ? (this.runBlocks >= lanes ? lanes : half) : this.pairs ? half : 1;
    // Only windows wholly in the buffer: the bytes past `filled` are not the seed's yet.
    const n = Math.min(ahead, Math.floor((this.filled - x) / bs));
    this.hasher.digestBlocks(this.win, x, bs, n, this.digests, g * lanes * db);
    this.cachedAt[g] = at;
    this.cachedCount[g] = n;
    return g * lanes * db;
  }
}

/** True when the key's bucket holds an entry with this key's tag (keyTag). */
function hasTag(lookup: BucketLookup, key: number): boolean {
  const b = key >>> lookup.tableShift;
  const tag = keyTag(key);
  const { tags } = lookup;
  const limit = lookup.bucketStart[b + 1]!;
  // Dropped entries have a tag no key has: the tags alone are read.
  for (let r = lookup.bucketStart[b]!; r < limit; r++) if (tags[r] === tag) return true;
  return false;
}

function setSums(sums: Int32Array, at: number, packed: number): void {
  sums[at] = packed >>> 16;
  sums[at + 1] = packed & 0xffff;
}

/** Moves the window(s) at x one byte on. */
function roll(buf: Buffer, x: number, bs: number, shift: number, pairs: boolean, sums: Int32Array): void {
  const oc = buf[x]!;
  const nc = buf[x + bs]!;
  sums[0] = (sums[0]! + nc - oc) & 0xffff;
  sums[1] = (sums[1]! + sums[0]! - (oc << shift)) & 0xffff;
  if (pairs) {
    const nn = buf[x + 2 * bs]!;
    sums[2] = (sums[2]! + nn - nc) & 0xffff;
    sums[3] = (sums[3]! + sums[2]! - (nc << shift)) & 0xffff;
  }
}

// The two hot loops: roll the rsums byte by byte until a window's key passes the
// filter, or `limit`. The bucket probe is left to the caller: out of the loop it
// costs a call at a filter pass (well under 1% of windows) instead of slowing
// every byte. Kept as small free functions, one per seqMatches, so the
// JIT sees monomorphic, allocation-free code. They inline lookupKey.

function rollSingle(buf: Buffer, x: number, limit: number, bs: number, shift: number, mask: number, filter: Int32Array, filterShift: number, confirm: Int32Array, confirmShift: number, sums: Int32Array): number {
  const k0 = K0; // locals: module bindings are not free in a loop run per byte
  const k2 = K2;
  let a0 = sums[0]!;
  let b0 = sums[1]!;
  for (; x < limit; x++) {
    const key = Math.imul(((a0 << 16) | b0) & mask, k0);
    const m = (1 << ((key >>> 6) & 31)) | (1 << ((key >>> 1) & 31)); // filterMask(key)
    if ((filter[key >>> filterShift]! & m) === m) {
      const c = Math.imul(key, k2); // confirmKey(key)
      const n = (1 << ((c >>> 6) & 31)) | (1 << ((c >>> 1) & 31));
      if ((confirm[c >>> confirmShift]! & n) === n) break;
    }
    const oc = buf[x]!;
    a0 = (a0 + buf[x + bs]! - oc) & 0xffff;
    b0 = (b0 + a0 - (oc << shift)) & 0xffff;
  }
  sums[0] = a0;
  sums[1] = b0;
  return x;
}

function rollPairs(buf: Buffer, x: number, limit: number, bs: number, shift: number, mask: number, filter: Int32Array, filterShift: number, confirm: Int32Array, confirmShift: number, sums: Int32Array): number {
  const k0 = K0;
  const k1 = K1;
  const k2 = K2;
  let a0 = sums[0]!;
  let b0 = sums[1]!;
  let a1 = sums[2]!;
  let b1 = sums[3]!;
  for (; x < limit; x++) {
    const key = Math.imul(((a0 << 16) | b0) & mask, k0) ^ Math.imul(((a1 << 16) | b1) & mask, k1);
    const m = (1 << ((key >>> 6) & 31)) | (1 << ((key >>> 1) & 31)); // filterMask(key)
    if ((filter[key >>> filterShift]! & m) === m) {
      const c = Math.imul(key, k2); // confirmKey(key)
      const n = (1 << ((c >>> 6) & 31)) | (1 << ((c >>> 1) & 31));
      if ((confirm[c >>> confirmShift]! & n) === n) break;
    }
    const oc = buf[x]!;
    const nc = buf[x + bs]!;
    a0 = (a0 + nc - oc) & 0xffff;
    b0 = (b0 + a0 - (oc << shift)) & 0xffff;
    a1 = (a1 + buf[x + 2 * bs]! - nc) & 0xffff;
    b1 = (b1 + a1 - (nc << shift)) & 0xffff;
  }
  sums[0] = a0;
  sums[1] = b0;
  sums[2] = a1;
  sums[3] = b1;
  return x;
}
