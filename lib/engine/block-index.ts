import { InvalidArgumentError } from '../errors.js';
import type { BlockChecksums } from './block-checksums.js';
import type { TargetState } from './target-state.js';

// Multipliers of a multiplicative (Fibonacci) hash: the top bits of the product
// are well mixed, so bucket and filter positions are taken from the top.
export const K0 = 0x9e3779b1 | 0;
export const K1 = 0x85ebca77 | 0;

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
  readonly tableShift: number;
  readonly bucketStart: Uint32Array;
  /** Live end of each bucket: entries found by this state are dropped in place. */
  readonly bucketEnd: Uint32Array;
  readonly entries: Int32Array;
  readonly keys: Int32Array;
}

/**
 * The two bits a key sets in its filter word (a blocked Bloom filter with k = 2:
 * one memory read per byte of seed, and about a tenth of the false positives of
 * one bit). They come from the key's middle bits; its top bits pick the word.
 */
export function filterMask(key: number): number {
  return (1 << ((key >>> 11) & 31)) | (1 << ((key >>> 6) & 31));
}

/** Filter bits per indexed block: about 1 in 32 windows that match nothing passes the filter. */
const FILTER_BITS_PER_BLOCK = 32;
const MIN_FILTER_BITS = 10;
// The filter is read at every byte of the seed, at random: past the size of a
// core's L2 cache each read misses. 2^22 bits (512 KiB) measured best with a
// quarter million blocks (1 GiB in 4 KiB blocks): 81 MB/s no-match scanning,
// against 68 at 256 KiB (more false positives) and 73-80 at 1-2 MiB.
const MAX_FILTER_BITS = 22;

/**
 * The matcher's lookup structure, sized to the block count (zsync's table has a
 * fixed maximum size, which is why its scan of big files slows down sharply):
 *
 * - a bit filter on the lookup key, the cheap negative test made at every byte;
 * - buckets of block ids by key, stored as one flat array (counting sort), each
 *   bucket in ascending block order, as zsync walks its hash chains.
 *
 * With seqMatches 2 a key covers a block and its successor, so the last block
 * has no key and is found only as the continuation of a run (as in zsync).
 *
 * The index itself never changes, so one index serves any number of target
 * states. Each state gets its own working copy of the buckets (`lookupFor`),
 * from which the blocks that state already has are dropped as the matcher walks
 * them, so a run of identical blocks costs nothing once found.
 */
export class BlockIndex implements BucketLookup {
  readonly checksums: BlockChecksums;
  readonly filter: Int32Array;
  /** A key's filter word is `key >>> filterShift`; its two bits are `filterMask(key)`. */
  readonly filterShift: number;
  /** A key's bucket is `key >>> tableShift`. */
  readonly tableShift: number;
  /** Bucket b holds entries[bucketStart[b] .. bucketEnd[b]). */
  readonly bucketStart: Uint32Array;
  readonly bucketEnd: Uint32Array;
  readonly entries: Int32Array;
  /** The lookup key of each entry, beside it: the hot loop rejects a filter false positive without a call. */
  readonly keys: Int32Array;
  private readonly lookups = new WeakMap<TargetState, BucketLookup>();
  /** See BlockIndexOptions.singleState: the state that took the buckets themselves. */
  private owner: TargetState | undefined;
  private readonly singleState: boolean;

  constructor(checksums: BlockChecksums, options: BlockIndexOptions = {}) {
    this.singleState = options.singleState ?? false;
    this.checksums = checksums;
    const { weak, blockCount } = checksums;
    const pairs = checksums.params.seqMatches === 2;
    const indexed = pairs ? Math.max(0, blockCount - 1) : blockCount;

    const filterBits = Math.min(MAX_FILTER_BITS, Math.max(MIN_FILTER_BITS, Math.ceil(Math.log2(indexed * FILTER_BITS_PER_BLOCK + 1))));
    this.filterShift = 32 - (filterBits - 5);
    this.filter = new Int32Array(2 ** (filterBits - 5));

    // About one block per bucket (between 1 and 2): the table is a third of the
    // index's memory, and buckets are short either way.
    const tableBits = Math.max(1, Math.floor(Math.log2(indexed + 1)));
    this.tableShift = 32 - tableBits;
    const tableSize = 2 ** tableBits;
    this.bucketStart = new Uint32Array(tableSize + 1);
    this.bucketEnd = new Uint32Array(tableSize);
    this.entries = new Int32Array(indexed);
    this.keys = new Int32Array(indexed);

    for (let id = 0; id < indexed; id++) {
      const key = lookupKey(weak[id]!, pairs ? weak[id + 1]! : 0);
      this.filter[key >>> this.filterShift]! |= filterMask(key);
      this.bucketStart[(key >>> this.tableShift) + 1]!++;
    }
    for (let b = 0; b < tableSize; b++) this.bucketStart[b + 1]! += this.bucketStart[b]!;
    this.bucketEnd.set(this.bucketStart.subarray(0, tableSize));
    // The keys computed again rather than kept from the first pass: a
    // temporary array of one key per block cost 1 MB of peak memory per GiB.
    for (let id = 0; id < indexed; id++) {
      const key = lookupKey(weak[id]!, pairs ? weak[id + 1]! : 0);
      const b = key >>> this.tableShift;
      this.keys[this.bucketEnd[b]!] = key;
      this.entries[this.bucketEnd[b]!++] = id;
    }
  }

  /** The buckets as one target state sees them: its own copy, pruned as its blocks are found. */
  lookupFor(state: TargetState): BucketLookup {
    let lookup = this.lookups.get(state);
    if (!lookup) {
      if (this.singleState && this.owner !== undefined) throw new InvalidArgumentError('this BlockIndex serves a single target state, and already has one');
      // A single-state index hands over its own buckets: no copy (3 arrays of one entry per block).
      const own = this.singleState;
      if (own) this.owner = state;
      lookup = {
        filter: this.filter,
        filterShift: this.filterShift,
        tableShift: this.tableShift,
        bucketStart: this.bucketStart,
        bucketEnd: own ? this.bucketEnd : this.bucketEnd.slice(),
        entries: own ? this.entries : this.entries.slice(),
        keys: own ? this.keys : this.keys.slice(),
      };
      this.lookups.set(state, lookup);
    }
    return lookup;
  }
}

export interface BlockIndexOptions {
  /**
   * The index will serve one target state only (a sync's): its first
   * lookupFor() takes the index's own buckets, pruned in place from then on,
   * instead of a copy of them, and a second state is refused. Default false.
   */
  singleState?: boolean;
}
