/**
 * Worker of test/segment-claims.test.ts: says it is ready (so that both
 * threads claim at the same time), claims segments from the back of the
 * SegmentClaims it is given until none is left, and posts back what it got.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { SegmentClaims } from '../../lib/sync/segment-claims.js';

const { claims: shared, ready: readyBuffer } = workerData as { claims: SharedArrayBuffer; ready: SharedArrayBuffer };
const claims = new SegmentClaims(shared);
const ready = new Int32Array(readyBuffer);
Atomics.store(ready, 0, 1);
Atomics.notify(ready, 0);
const got: number[] = [];
for (let k = claims.claimBack(); k >= 0; k = claims.claimBack()) got.push(k);
parentPort!.postMessage(got);
