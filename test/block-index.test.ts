/**
 * BlockIndex's singleState option (what a sync uses): the first target state
 * gets the index's own buckets, no copy, and finds the same blocks as with a
 * shared index; a second state is refused rather than handed pruned buckets.
 */
import { expect } from 'chai';
import { BlockIndex } from '../lib/engine/block-index.js';
import { Matcher, type BlockMatch } from '../lib/engine/matcher.js';
import { TargetState } from '../lib/engine/target-state.js';
import { blockChecksumsSync } from '../lib/pyzsync-api.js';
import { makePair } from './support/sync-fixtures.js';

describe('BlockIndex singleState', () => {
  it('finds what a shared index finds, and refuses a second state', () => {
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
    const single = new BlockIndex(sums, { singleState: true });
    expect(run(single)).to.deep.equal(run(new BlockIndex(sums)));
    expect(() => single.lookupFor(new TargetState(sums))).to.throw().with.property('code', 'ERR_ZSYNC_INVALID_ARGUMENT');
  });
});
