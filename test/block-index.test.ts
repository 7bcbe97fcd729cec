/**
 * BlockIndex and its target states: the first state gets the index's own
 * buckets, no copy, and prunes them; a later state gets buckets of its own,
 * untouched by that pruning, and finds what the first found. With singleState
 * (what a sync uses) a second state is refused instead.
 */
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { BlockChecksums } from '../lib/engine/block-checksums.js';
import { BlockIndex } from '../lib/engine/block-index.js';
import { Matcher, type BlockMatch } from '../lib/engine/matcher.js';
import { TargetState } from '../lib/engine/target-state.js';
import { blockChecksumsSync } from '../lib/pyzsync-api.js';
import { makePair } from './support/sync-fixtures.js';

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

  it('with singleState, finds what a shared index finds, and refuses a second state', () => {
    const single = new BlockIndex(sums, { singleState: true });
    expect(run(single)).to.deep.equal(run(new BlockIndex(sums)));
    expect(() => single.lookupFor(new TargetState(sums))).to.throw().with.property('code', 'ERR_ZSYNC_INVALID_ARGUMENT');
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
    for (const a of [index.filter, index.confirm, index.bucketStart, index.bucketEnd, index.entries, index.keys]) expect(a.buffer.byteLength).to.equal(0);
    expect(() => index.lookupFor(new TargetState(sums))).to.throw().with.property('code', 'ERR_ZSYNC_INVALID_ARGUMENT');
    index.dispose(); // twice is harmless
  });
});

describe('BlockIndex filters', () => {
  // Each window of seed that passes the filters costs a bucket probe (about
  // 100 ns against 5 a byte); a filter that stopped growing at 512 KiB let 2.8%
  // of windows through at a quarter million blocks, 0.7% at 64 Ki. The
  // confirming filter keeps it under 1 in 400 at any size.
  for (const blocks of [1 << 12, 1 << 16, 1 << 18]) {
    it(`lets fewer than 1 in 400 windows of unrelated data through, with ${blocks} blocks`, () => {
      const blockSize = 256;
      const weak = new Int32Array(randomBytes(4 * blocks).buffer);
      const sums = new BlockChecksums({ blockSize, length: blocks * blockSize, seqMatches: 2, weakBytes: 3, strongBytes: 5, strongAlgorithm: 'MD4' }, weak, new Uint8Array(5 * blocks));
      const matcher = new Matcher(new BlockIndex(sums));
      const seed = randomBytes(4 << 20);
      matcher.write(seed, () => {});
      matcher.end(() => {});
      expect(matcher.stats.blocksFound).to.equal(0);
      expect(matcher.stats.filterPasses).to.be.below(seed.length / 400);
    });
  }
});
