import { InvalidArgumentError } from '../errors.js';
import type { BlockChecksums } from './block-checksums.js';
import type { TargetState } from './target-state.js';
import { releaseMemory } from './release-memory.js';

// Multipliers of a multiplicative (Fibonacci) hash: the top bits of the product
// are well mixed, so bucket and filter positions are taken from the top.
export const K0 = 0x9e3779b1 | 0;
export const K1 = 0x85ebca77 | 0;
/** Rehashes a key for the confirming filter, so that its bits are not the first filter's. */
export const K2 = 0xc2b2ae3d | 0;

/**
 * The lookup key of a window: its stored weak sum and, when seqMatches is 2, the
 * stored weak sum of the window after it. The matcher inlines this expression.
 */
export function lookupKey(w0: number, w1: number): number {
  return Math.imul(w0, K0) ^ Math.imul(w1, K1);
}

/** A target state's working view of the index (see BlockIndex.lookupFor). */
export interface BucketLookup {
  readonly filter: Int32Array;
  readonly filterShift: number;
  readonly confirm: Int32Array;
  readonly confirmShift: number;
  readonly tableShift: number;
  /** Bucket b is entries[bucketStart[b] .. bucketStart[b + 1]). */
  readonly bucketStart: Uint32Array;
  /**
   * Block ids, bucket by bucket: each bucket's live entries first, in
   * ascending order, then -1 where entries this state has found were dropped
   * (their tags DROPPED_TAG).
   */
  readonly entries: Int32Array;
  readonly tags: Uint8Array;
}

/**
 * The two bits a key sets in its filter word (a blocked Bloom filter with k = 2:
 * one memory read per byte of seed, and about a tenth of the false positives of
 * one bit). They come from the key's bits 1-10; its top bits (at most 20,
 * from bit 12 up) pick the word. Bits that did both (11-15, as they once were)
 * cost filters from 2^22 bits on: 2.8% false positives at 2^18 keys where
 * 2.0% is the filter's own rate, 4.1% against 1.9% at 2^19 in 2^23 bits.
 */
export function filterMask(key: number): number {
  return (1 << ((key >>> 6) & 31)) | (1 << ((key >>> 1) & 31));
}

/** Rehashes a key for its tag. */
export const K3 = 0x27d4eb2f | 0;

/**
 * Eight bits of a key, kept beside its entry in the buckets: a window that
 * passed both filters by chance is turned away there unless an entry of its
 * bucket has its tag (a bucket of 8-16 entries: 3-6% of them), and one that
 * passes goes to tryBucket, which compares the sums themselves. (The
 * benchmark's 1 GiB seed that matches nothing, 4 KiB blocks: 1.27 million
 * windows passed the filters, 110 000 a tag, 65 000 of them with the whole
 * 32-bit key of an entry, which only the sums can tell apart.) Taken
 * from the key rehashed: the windows that pass the filters are those whose
 * key agrees with an entry's in the bits the filters read, so plain low bits
 * would tell few of them apart. Never 0 (a hash of 0 is tag 1): 0 marks the
 * entries a state has dropped, so that the test reads the tags alone.
 */
export function keyTag(key: number): number {
  return Math.imul(key, K3) >>> 24 || 1;
}

/** The tag of a dropped entry, which no key has. */
export const DROPPED_TAG = 0;

/** The confirming filter's word and bits for a key: the key rehashed, then as filterMask. */
export function confirmKey(key: number): number {
  return Math.imul(key, K2);
}

/** Filter bits per indexed block: about 1 in 150 windows that match nothing passes the filter. */
const FILTER_BITS_PER_BLOCK = 32;
/** Past MAX_FILTER_BITS, the least bits per block the filter keeps, growing again (up to 2^25 bits). */
const FILTER_BITS_PER_BLOCK_BIG = 15;
const MIN_FILTER_BITS = 10;
// The filter is read at every byte of the seed, at random: past the size of a
// core's L2 cache each read costs more (on this project's 2-core EPYC test
// machine the bare loop took 4.3 ns a byte at 256 KiB, 4.6 at 512 KiB, 5.9 at
// 1 MiB, 7.6 at 2 MiB). So it stops growing at 2^22 bits (512 KiB), and with
// more than 2^17 blocks the false positives it lets through grow instead: 2.8%
// of windows at a quarter million blocks (1 GiB in 4 KiB blocks) against 0.7%
// at 64 Ki blocks. Each cost about 100 ns (the loop left, the bucket probed),
// which made a 1 GiB no-match scan 40% slower per byte than a 256 MiB one.
const MAX_FILTER_BITS = 22;
// Hence a second, confirming filter, read only for the windows that pass the
// first, inside the hot loop (leaving it is the expensive part). Its reads are
// rare but random too, so it is kept small: at 2^21 bits (256 KiB) it lets
// 1 in 16 of a quarter million blocks' false positives through, and the no-match
// scan of 64 MiB took 5.3 ns a byte against 6.7 with it four times larger.
const MAX_CONFIRM_BITS = 21;
/** Past MAX_CONFIRM_BITS, the least bits per block the confirming filter keeps, growing again. */
const CONFIRM_BITS_PER_BLOCK_BIG = 7.5;
// Past a quarter million blocks (a target over 1 GiB in 4 KiB blocks) both
// grow again, keeping at least 15 and 7.5 bits a block, up to 2^25 bits
// (4 MiB) each: held at their caps, they let through 1.3% of windows at
// 512 Ki blocks and 8% at 1 Mi (a bucket probe each), against 0.12% at 256 Ki;
// grown, at most about 0.2% up to 2^21 blocks, more past that (the caps bound
// the memory). A filter past a core's cache costs each byte a little more, but
// far less than those probes. (15, not 16: 1 GiB in 4 KiB blocks is a few
// blocks past 2^18, and 16 would double both filters there for nothing.)
const BIG_BITS = 25;

/**
 * log2 of a filter's size in bits: at least `perBlock` bits a block up to
 * `cap`, then at least `perBlockBig` a block up to BIG_BITS (sizes are powers
 * of two).
 */
function filterBitsFor(indexed: number, perBlock: number, cap: number, perBlockBig: number): number {
  const small = Math.max(MIN_FILTER_BITS, Math.ceil(Math.log2(indexed * perBlock + 1)));
  if (small <= cap) return small;
  return Math.min(BIG_BITS, Math.max(cap, Math.ceil(Math.log2(indexed * perBlockBig))));
}

/**
 * The matcher's lookup structure, sized to the block count (zsync's table has a
 * fixed maximum size, which is why its scan of big files slows down sharply):
 *
 * - a bit filter on the lookup key, the cheap negative test made at every byte,
 *   and a second, confirming filter (on the key rehashed) read only when the
 *   first one passes;
 * - buckets of block ids by key, stored as one flat array (counting sort), each
 *   bucket in ascending block order, as zsync walks its hash chains.
 *
 * With seqMatches 2 a key covers a block and its successor, so the last block
 * has no key and is found only as the continuation of a run (as in zsync).
 *
 * One index serves any number of target states. Each state gets its own
 * working set of buckets (`lookupFor`), from which the blocks that state already
 * has are dropped as the matcher walks them, so a run of identical blocks costs
 * nothing once found. The first state takes the index's own buckets, since
 * nearly every index serves one state only (a copy held beside them cost 12
 * bytes a block, 3 MB per GiB of target); any later state gets buckets built
 * afresh from the checksums, the same as the first state's were before it
 * pruned them.
 */
export class BlockIndex implements BucketLookup {
  readonly checksums: BlockChecksums;
  readonly filter: Int32Array;
  /** A key's filter word is `key >>> filterShift`; its two bits are `filterMask(key)`. */
  readonly filterShift: number;
  /** The confirming filter, read when a key passes `filter`: word `confirmKey(key) >>> confirmShift`, bits `filterMask(confirmKey(key))`. */
  readonly confirm: Int32Array;
  readonly confirmShift: number;
  /** A key's bucket is `key >>> tableShift`. */
  readonly tableShift: number;
  /** Bucket b is entries[bucketStart[b] .. bucketStart[b + 1]). */
  readonly bucketStart: Uint32Array;
  readonly entries: Int32Array;
  /**
   * Each entry's keyTag, beside it: the window that passed both filters by
   * chance is turned away there, reading no more than its bucket (reading
   * each entry's stored sums instead, at random, looked 5-15% slower on the
   * 1 GiB no-match scan, within a noisy machine's spread). A quarter of the
   * memory of whole keys.
   */
  readonly tags: Uint8Array;
  private readonly lookups = new WeakMap<TargetState, BucketLookup>();
  /** The state that took the index's own buckets (the first one asked for). */
  private owner: TargetState | undefined;
  private readonly singleState: boolean;
  private released = false;

  constructor(checksums: BlockChecksums, options: BlockIndexOptions = {}) {
    this.singleState = options.singleState ?? false;
    this.checksums = checksums;
    const indexed = checksums.params.seqMatches === 2 ? Math.max(0, checksums.blockCount - 1) : checksums.blockCount;
    const filterBits = filterBitsFor(indexed, FILTER_BITS_PER_BLOCK, MAX_FILTER_BITS, FILTER_BITS_PER_BLOCK_BIG);
    const confirmBits = filterBitsFor(indexed, FILTER_BITS_PER_BLOCK, MAX_CONFIRM_BITS, CONFIRM_BITS_PER_BLOCK_BIG);
    this.filterShift = 32 - (filterBits - 5);
    this.confirmShift = 32 - (confirmBits - 5);
    // Eight to sixteen blocks per bucket: a bucket's tags are read only for
    // the few windows that pass both filters (about 0.1% of a seed's that
    // match nothing), its entries for the few tags that agree and at the
    // start of each run of matches; and the table costs 4 bytes a bucket in
    // every scanning thread (with a live end per bucket besides, and one
    // bucket a block, it took 2 MB of a 1 GiB sync's two threads).
    const tableBits = Math.max(1, Math.floor(Math.log2(indexed + 1)) - 3);
    this.tableShift = 32 - tableBits;
    // Every array in one allocation, which dispose() gives back whole. Six of
    // them, of 0.25-1 MB each, went where glibc's malloc put them: once it has
    // freed a big block it raises the size it maps on its own to that block's,
    // so smaller arrays (the filters, tags...) came from its heaps and stayed
    // resident after they were freed (4-6 MB of a 1 GiB sync's peak RSS). One
    // block of 1-4 MB is mapped on its own, and unmapped when freed.
    const words = [2 ** (filterBits - 5), 2 ** (confirmBits - 5), 2 ** tableBits + 1, indexed];
    const block = new ArrayBuffer(words.reduce((a, n) => a + 4 * n, 0) + indexed);
    let at = 0;
    const take = (n: number): number => {
      const from = at;
      at += 4 * n;
      return from;
    };
    this.filter = new Int32Array(block, take(words[0]!), words[0]!);
    this.confirm = new Int32Array(block, take(words[1]!), words[1]!);
    this.bucketStart = new Uint32Array(block, take(words[2]!), words[2]!);
    const buckets = buildBuckets(checksums, this.tableShift, this.bucketStart, this, {
      entries: new Int32Array(block, take(words[3]!), words[3]!),
      tags: new Uint8Array(block, at, indexed),
    });
    this.entries = buckets.entries;
    this.tags = buckets.tags;
  }

  /** True once dispose() has run: the index can serve nothing more. */
  get disposed(): boolean {
    return this.released;
  }

  /**
   * Frees the index's arrays now: a sync's scan is over and its fetch is
   * about to allocate (a quarter million blocks hold 2.2 MB in each scanning
   * thread, which a GC frees only when the heap is full enough). The index and
   * every Matcher on it are of no use after this: lookupFor() and the
   * matchers' writes throw.
   */
  dispose(): void {
    if (this.released) return;
    this.released = true;
    // The buckets built for any later state are left to the GC (a sync has one state).
    releaseMemory([this.filter, this.confirm, this.bucketStart, this.entries, this.tags].map((a) => a.buffer));
  }

  /** The buckets as one target state sees them: its own set, pruned as its blocks are found. */
  lookupFor(state: TargetState): BucketLookup {
    if (this.released) throw new InvalidArgumentError('this BlockIndex was disposed of');
    let lookup = this.lookups.get(state);
    if (!lookup) {
      if (this.singleState && this.owner !== undefined) throw new InvalidArgumentError('this BlockIndex serves a single target state, and already has one');
      // The first state prunes the index's own buckets; a later one must not
      // see that state's pruning, so its buckets are built again.
      const fresh = this.owner === undefined ? this : buildBuckets(this.checksums, this.tableShift, this.bucketStart);
      this.owner ??= state;
      lookup = {
        filter: this.filter,
        filterShift: this.filterShift,
        confirm: this.confirm,
        confirmShift: this.confirmShift,
        tableShift: this.tableShift,
        bucketStart: this.bucketStart,
        entries: fresh.entries,
        tags: fresh.tags,
      };
      this.lookups.set(state, lookup);
    }
    return lookup;
  }
}

type Buckets = Pick<BucketLookup, 'entries' | 'tags'>;

/**
 * Buckets of block ids by lookup key, as one flat array (a counting sort), each
 * bucket in ascending block order, with each key's tag beside its id.
 * Deterministic: built again from the same checksums, they are the same. The
 * first build (`filling` given) also fills `bucketStart` and the index's
 * filters, in the same passes over the keys; a later one reads `bucketStart`.
 */
function buildBuckets(checksums: BlockChecksums, tableShift: number, bucketStart: Uint32Array, filling?: Pick<BucketLookup, 'filter' | 'filterShift' | 'confirm' | 'confirmShift'>, into?: Buckets): Buckets {
  const { weak, blockCount } = checksums;
  const pairs = checksums.params.seqMatches === 2;
  const indexed = pairs ? Math.max(0, blockCount - 1) : blockCount;
  const tableSize = 2 ** (32 - tableShift);
  const { entries, tags } = into ?? { entries: new Int32Array(indexed), tags: new Uint8Array(indexed) };
  // Each bucket is filled from its end down, the ids taken in descending
  // order, so that it ends up ascending. The end of bucket b is the start of
  // b + 1; the first build holds each bucket's end where its start will be
  // (the counts summed), and the fill counts it down to the start.
  let ends = bucketStart;
  if (filling) {
    for (let id = 0; id < indexed; id++) {
      const key = lookupKey(weak[id]!, pairs ? weak[id + 1]! : 0);
      filling.filter[key >>> filling.filterShift]! |= filterMask(key);
      const k2 = confirmKey(key);
      filling.confirm[k2 >>> filling.confirmShift]! |= filterMask(k2);
      bucketStart[key >>> tableShift]!++;
    }
    for (let b = 1; b < tableSize; b++) bucketStart[b]! += bucketStart[b - 1]!;
    bucketStart[tableSize] = indexed;
  } else {
    ends = bucketStart.slice(1);
  }
  // The keys computed again rather than kept from the first pass: a
  // temporary array of one key per block cost 1 MB of peak memory per GiB.
  for (let id = indexed - 1; id >= 0; id--) {
    const key = lookupKey(weak[id]!, pairs ? weak[id + 1]! : 0);
    const at = --ends[key >>> tableShift]!;
    tags[at] = keyTag(key);
    entries[at] = id;
  }
  return { entries, tags };
}

export interface BlockIndexOptions {
  /**
   * The index will serve one target state only (a sync's), and a second state
   * is refused rather than given buckets built again. Default false.
   */
  singleState?: boolean;
}
