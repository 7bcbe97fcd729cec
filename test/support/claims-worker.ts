/**
 * Worker of test/segment-claims.test.ts: claims a segment, says so, waits
 * for the main thread's first, then claims segments from the back of the
 * SegmentClaims it is given until none is left, and posts back what it got.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { SegmentClaims } from '../../lib/sync/segment-claims.js';

const { claims: shared, ready: readyBuffer } = workerData as { claims: SharedArrayBuffer; ready: SharedArrayBuffer };
const claims = new SegmentClaims(shared);
const ready = new Int32Array(readyBuffer);
// Each thread makes its first claim before the other goes on (ready[0]: this
// one's is made; ready[1]: the main thread's): on a busy machine one thread
// could otherwise take every segment before the other ran at all, and no
// round would race. The rest they claim at the same time.
const got: number[] = [];
const first = claims.claimBack();
if (first >= 0) got.push(first);
Atomics.store(ready, 0, 1);
Atomics.notify(ready, 0);
while (Atomics.load(ready, 1) === 0) Atomics.wait(ready, 1, 0, 20);
for (let k = claims.claimBack(); k >= 0; k = claims.claimBack()) got.push(k);
parentPort!.postMessage(got);
