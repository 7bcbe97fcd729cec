/**
 * SegmentClaims (lib/sync/segment-claims.ts): the split scan's two threads take
 * a seed's segments from either end; every segment goes to exactly one of them,
 * the front in order, even when both claim at once from different threads.
 */
import { expect } from 'chai';
import { once } from 'node:events';
import { spawnWorker } from '../lib/parallel/spawn-worker.js';
import { SegmentClaims } from '../lib/sync/segment-claims.js';

describe('SegmentClaims: segments taken from both ends', () => {
  it('gives the front in order and the back in reverse, until they meet; then -1 to both', () => {
    const claims = new SegmentClaims(5);
    expect(claims.claimFront()).to.equal(0);
    expect(claims.claimBack()).to.equal(4);
    expect(claims.claimBack()).to.equal(3);
    expect(claims.claimFront()).to.equal(1);
    expect(claims.claimFront()).to.equal(2);
    expect(claims.claimBack()).to.equal(-1);
    expect(claims.claimFront()).to.equal(-1);
  });

  it('a single segment goes to whoever asks first', () => {
    const claims = new SegmentClaims(1);
    expect(claims.claimBack()).to.equal(0);
    expect(claims.claimFront()).to.equal(-1);
  });

  it('closeAll() leaves nothing to claim at either end', () => {
    const claims = new SegmentClaims(10);
    claims.claimFront();
    claims.closeAll();
    expect(claims.claimFront()).to.equal(-1);
    expect(claims.claimBack()).to.equal(-1);
  });

  it('the other thread sees the same claims through the shared buffer', () => {
    const mine = new SegmentClaims(3);
    const theirs = new SegmentClaims(mine.shared);
    expect(mine.claimFront()).to.equal(0);
    expect(theirs.claimBack()).to.equal(2);
    expect(theirs.claimFront()).to.equal(1);
    expect(mine.claimBack()).to.equal(-1);
  });

  it('refuses a count that does not fit its 16-bit ends', () => {
    expect(() => new SegmentClaims(0)).to.throw(RangeError);
    expect(() => new SegmentClaims(SegmentClaims.MAX_SEGMENTS + 1)).to.throw(RangeError);
    expect(() => new SegmentClaims(1.5)).to.throw(RangeError);
    expect(new SegmentClaims(SegmentClaims.MAX_SEGMENTS).claimBack()).to.equal(SegmentClaims.MAX_SEGMENTS - 1);
  });

  it('two threads claiming at once: each segment exactly once, the front a prefix in order, the back the rest', async function () {
    this.timeout(30_000);
    let raced = false;
    for (let round = 0; round < 5; round++) {
      const claims = new SegmentClaims(SegmentClaims.MAX_SEGMENTS);
      const ready = new Int32Array(new SharedArrayBuffer(8));
      const worker = spawnWorker(import.meta.url, 'support/claims-worker', { workerData: { claims: claims.shared, ready: ready.buffer } });
      const theirs = once(worker, 'message') as Promise<[number[]]>;
      // Each takes a first segment before the other goes on (a busy machine
      // could let one take them all before the other ran), then both claim
      // together, racing for the middle.
      while (Atomics.load(ready, 0) === 0) Atomics.wait(ready, 0, 0, 20);
      const mine: number[] = [];
      const first = claims.claimFront();
      if (first >= 0) mine.push(first);
      Atomics.store(ready, 1, 1);
      Atomics.notify(ready, 1);
      for (let k = claims.claimFront(); k >= 0; k = claims.claimFront()) mine.push(k);
      const [back] = await theirs;
      await worker.terminate();
      expect(mine, 'the front, in order from 0').to.deep.equal(mine.map((_, i) => i));
      expect(back, 'the back, in order from the last').to.deep.equal(back.map((_, i) => SegmentClaims.MAX_SEGMENTS - 1 - i));
      expect(mine.length + back.length, 'every segment, none twice').to.equal(SegmentClaims.MAX_SEGMENTS);
      raced ||= mine.length > 0 && back.length > 0;
    }
    expect(raced, 'in some round both threads got segments').to.equal(true);
  });
});
