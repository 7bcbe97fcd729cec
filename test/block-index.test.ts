/**
 * BlockIndex and its target states: the first state gets the index's own
 * buckets, no copy, and prunes them; a later state gets buckets of its own,
 * untouched by that pruning, and finds what the first found. With singleState
 * (what a sync uses) a second state is refused instead.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { BlockChecksums } from '../lib/engine/block-checksums.js';
import { BlockIndex, confirmKey, DROPPED_TAG, filterMask, K3, keyTag, lookupKey } from '../lib/engine/block-index.js';
import { Matcher, type BlockMatch } from '../lib/engine/matcher.js';
import { TargetState } from '../lib/engine/target-state.js';
import { blockChecksumsSync } from '../lib/pyzsync-api.js';
import { prng } from './generators.js';
import { makePair, seededBytes } from './support/sync-fixtures.js';

describe('BlockIndex target states', () => {
  const { oldData, newData } = makePair(99, 300_000);
  const sums = blockChecksumsSync(newData, { blockSize: 1024, seqMatches: 2, weakBytes: 3, strongBytes: 5 });
  const run = (index: BlockIndex): number[] => {
    const found: number[] = [];
    const m = new Matcher(index, { state: new TargetState(sums) });
    const emit = (x: BlockMatch): void => {
      found.push(x.index);
    };
    m.write(oldData, emit);
    m.end(emit);
    return found;
  };

  it('gives a later state what the first state started from, not its pruned buckets', () => {
    // A run of identical blocks: the first state finds them all in one bucket
    // walk and drops them from that bucket at the next.
    const target = Buffer.concat([Buffer.alloc(64 * 1024), newData.subarray(0, 64 * 1024)]);
    const repeated = blockChecksumsSync(target, { blockSize: 1024, seqMatches: 1, weakBytes: 4, strongBytes: 16 });
    const index = new BlockIndex(repeated);
    const scan = (): number[] => {
      const state = new TargetState(repeated);
      const m = new Matcher(index, { state });
      m.write(target, () => {});
      m.end(() => {});
      return state.missingBlocks();
    };
    expect(scan()).to.deep.equal([]);
    expect(scan()).to.deep.equal([]);
    expect(scan()).to.deep.equal([]);
  });

  it('keeps every live entry in its key\'s bucket with its key\'s tag beside it, also once a state has pruned the buckets', () => {
    // Half the target repeats the other half: the scan finds blocks at many
    // buckets and drops them from each as it walks it again.
    const half = newData.subarray(0, 96 * 1024);
    const target = Buffer.concat([half, half]);
    const repeated = blockChecksumsSync(target, { blockSize: 1024, seqMatches: 2, weakBytes: 3, strongBytes: 5 });
    const index = new BlockIndex(repeated);
    const state = new TargetState(repeated);
    const m = new Matcher(index, { state });
    m.write(Buffer.concat([half.subarray(0, 48 * 1024), oldData.subarray(0, 64 * 1024)]), () => {});
    m.end(() => {});
    const { bucketStart, entries, tags, tableShift } = index.lookupFor(state);
    const { weak } = repeated;
    let live = 0;
    let pruned = 0;
    const seen = new Set<number>();
    for (let b = 0; b + 1 < bucketStart.length; b++) {
      let r = bucketStart[b]!;
      // Live entries first, ascending, each in its key's bucket with its tag...
      for (; r < bucketStart[b + 1]! && entries[r]! >= 0; r++) {
        const key = lookupKey(weak[entries[r]!]!, weak[entries[r]! + 1]!);
        expect(key >>> tableShift, `entry ${r}`).to.equal(b);
        expect(tags[r], `tag of entry ${r}`).to.equal(keyTag(key));
        if (r > bucketStart[b]!) expect(entries[r]!, `entry ${r}`).to.be.above(entries[r - 1]!);
        seen.add(entries[r]!);
        live++;
      }
      // ...then only dropped ones, to the bucket's end, each with the tag no key has.
      for (; r < bucketStart[b + 1]!; r++) {
        expect(entries[r], `entry ${r}`).to.equal(-1);
        expect(tags[r], `tag of dropped entry ${r}`).to.equal(DROPPED_TAG);
        pruned++;
      }
    }
    expect(seen.size, 'no block twice').to.equal(live);
    expect(pruned, 'entries dropped by the scan').to.be.greaterThan(0);
    expect(live + pruned).to.equal(repeated.blockCount - 1);
    // And what is left is still found: the rest of the target, from a seed that has it all.
    m.restart();
    m.write(target, () => {});
    m.end(() => {});
    expect(state.missingBlocks()).to.deep.equal([]);
  });

  it('with singleState, finds what a shared index finds, and refuses a second state', () => {
    const single = new BlockIndex(sums, { singleState: true });
    expect(run(single)).to.deep.equal(run(new BlockIndex(sums)));
    expect(() => single.lookupFor(new TargetState(sums))).to.throw().with.property('code', 'ERR_ZSYNC_INVALID_ARGUMENT');
  });
});

describe('BlockIndex tags', () => {
  /** K3's inverse modulo 2^32 (Newton's iteration): the keys whose tag hash is h are Math.imul(h, inverse). */
  let inverse = K3;
  for (let i = 0; i < 5; i++) inverse = Math.imul(inverse, 2 - Math.imul(K3, inverse));

  it('no key has the tag of a dropped entry: keyTag() is 1-255 for every key (fast-check)', () => {
    expect(DROPPED_TAG).to.equal(0);
    fc.assert(
      fc.property(fc.oneof(fc.integer(), fc.nat().map((k) => k >>> 0), fc.integer({ min: 0, max: 0xff_ffff }).map((h) => Math.imul(h, inverse))), (key) => {
        const tag = keyTag(key);
        expect(tag, `key ${key}`).to.be.within(1, 255);
        expect(Number.isInteger(tag)).to.equal(true);
      }),
      { numRuns: 5000 },
    );
  });

  it('keys whose rehash has no top bits (key 0 among them) get tag 1, not DROPPED_TAG', () => {
    expect(Math.imul(K3, inverse), 'the inverse').to.equal(1);
    for (const h of [0, 1, 2, 0x80, 0xffff, 0x7f_ffff, 0xff_ffff]) {
      const key = Math.imul(h, inverse);
      expect(Math.imul(key, K3) >>> 24, `key ${key}: its rehash has no top bits`).to.equal(0);
      expect(keyTag(key), `key ${key}`).to.equal(1);
      expect(keyTag(key >>> 0), `key ${key >>> 0} (unsigned)`).to.equal(1);
    }
    expect(keyTag(0)).to.equal(1);
    // The other tags are the rehash's top byte.
    expect(keyTag(Math.imul(0x0100_0000, inverse))).to.equal(1);
    expect(keyTag(Math.imul(0x0200_0000, inverse))).to.equal(2);
    expect(keyTag(Math.imul(0xff00_0000 | 0, inverse))).to.equal(255);
  });
});

describe('BlockIndex.dispose()', () => {
  it('gives its arrays\' memory back at once, and refuses to serve a state after', () => {
    const { newData } = makePair(7, 64 * 1024);
    const sums = blockChecksumsSync(newData, { blockSize: 1024, seqMatches: 2, weakBytes: 3, strongBytes: 5 });
    const index = new BlockIndex(sums);
    index.lookupFor(new TargetState(sums));
    index.dispose();
    // Transferred away: the buffers are detached, their memory freed with the message.
    for (const a of [index.filter, index.confirm, index.bucketStart, index.entries, index.tags]) expect(a.buffer.byteLength).to.equal(0);
    expect(() => index.lookupFor(new TargetState(sums))).to.throw().with.property('code', 'ERR_ZSYNC_INVALID_ARGUMENT');
    index.dispose(); // twice is harmless
  });

  it('makes a Matcher built on it refuse seed, rather than find nothing', () => {
    const { oldData, newData } = makePair(8, 64 * 1024);
    const sums = blockChecksumsSync(newData, { blockSize: 1024, seqMatches: 2, weakBytes: 3, strongBytes: 5 });
    const index = new BlockIndex(sums);
    const matcher = new Matcher(index);
    matcher.write(oldData.subarray(0, 8192), () => {});
    index.dispose();
    expect(() => matcher.write(oldData.subarray(8192), () => {})).to.throw().with.property('code', 'ERR_ZSYNC_INVALID_ARGUMENT');
    expect(() => matcher.end(() => {})).to.throw().with.property('code', 'ERR_ZSYNC_INVALID_ARGUMENT');
  });
});

describe('BlockIndex filters', () => {
  const blockSize = 256;
  /** Checksums of `blocks` blocks with seeded random weak sums (the strong ones are never reached). */
  const randomSums = (blocks: number, seed: number): BlockChecksums => {
    const weak = new Int32Array(blocks);
    Buffer.from(weak.buffer).set(seededBytes(prng(seed), 4 * blocks).subarray(0, 4 * blocks));
    return new BlockChecksums({ blockSize, length: blocks * blockSize, seqMatches: 2, weakBytes: 3, strongBytes: 5, strongAlgorithm: 'MD4' }, weak, new Uint8Array(5 * blocks));
  };

  // Each filter is sized on its own, and past a quarter million blocks they
  // grow at other rates: a key must pass both at every size, or its block is
  // never found (only the first window of a run of matches is looked up).
  for (const blocks of [1 << 10, 1 << 17, 1 << 18, 1 << 19]) {
    it(`lets every indexed key through both filters, with ${blocks} blocks`, () => {
      const sums = randomSums(blocks, blocks);
      const index = new BlockIndex(sums);
      const { weak } = sums;
      let missed = 0;
      for (let id = 0; id + 1 < blocks; id++) {
        const key = lookupKey(weak[id]!, weak[id + 1]!);
        const m = filterMask(key);
        const c = confirmKey(key);
        const n = filterMask(c);
        if ((index.filter[key >>> index.filterShift]! & m) !== m || (index.confirm[c >>> index.confirmShift]! & n) !== n) missed++;
      }
      expect(missed).to.equal(0);
    });
  }

  it('holds each filter to 4 MiB, however many blocks (2^22 here)', () => {
    const blocks = 1 << 22;
    const sums = new BlockChecksums({ blockSize: 16, length: blocks * 16, seqMatches: 1, weakBytes: 4, strongBytes: 1, strongAlgorithm: 'MD4' }, new Int32Array(blocks), new Uint8Array(blocks));
    const index = new BlockIndex(sums);
    expect(index.filter.byteLength).to.equal(4 << 20);
    expect(index.confirm.byteLength).to.equal(4 << 20);
    index.dispose();
  });

  // Each window of seed that passes the filters costs a bucket probe (about
  // 100 ns against 5 a byte); a filter that stopped growing at 512 KiB let 2.8%
  // of windows through at a quarter million blocks, 0.7% at 64 Ki; held at
  // their caps, the two filters let 1.3% through at 512 Ki blocks. Counts
  // between powers of two too: filters grow in steps, and are at their
  // sparsest just before one (about 370 000 and 741 000 blocks here).
  for (const blocks of [1 << 12, 1 << 16, 1 << 18, 370_000, 1 << 19, 741_000]) {
    it(`lets fewer than 1 in 400 windows of unrelated data through, with ${blocks} blocks`, () => {
      const matcher = new Matcher(new BlockIndex(randomSums(blocks, 7 * blocks)));
      const seed = seededBytes(prng(blocks), 4 << 20);
      matcher.write(seed, () => {});
      matcher.end(() => {});
      expect(matcher.stats.blocksFound).to.equal(0);
      expect(matcher.stats.filterPasses).to.be.below(seed.length / 400);
    });
  }
});
