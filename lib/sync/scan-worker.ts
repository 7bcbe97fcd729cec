/**
 * Worker thread of SeedScanHelper (split-scan.ts): scans the segments of a
 * seed it claims from the back (segment-claims.ts), one after another, each
 * from a few windows before its start to a few windows beyond its end, with
 * its own BlockIndex and TargetState, writes the blocks it finds
 * into the working file through its own descriptor, and reports their indices
 * once those writes are done. Imports only the engine (no HTTP), so it starts
 * while the main thread is still building its own index.
 *
 * Messages in: { init: { params, weak, strong, output } } once, then
 * { scan: { path, segments, claims, had } } per seed (claims: the
 * SegmentClaims' SharedArrayBuffer; had: the main thread's blocks found so
 * far, a bit a block: block-bits.ts), then
 * { close: true }; or, handed over to hashing the
 * result (SeedScanHelper.handOver()), { done: true } and then PrefixHasher's
 * messages (prefix-hash-handler.ts). Out: { progress: bytes } now and then
 * during a scan, then { found: Int32Array, bytesRead } (the blocks this scan
 * added to what `had` had, and the bytes of its segments read), or
 * { error: message } at any time.
 */
import { closeSync, openSync } from 'node:fs';
import { parentPort } from 'node:worker_threads';
import { BlockChecksums } from '../engine/block-checksums.js';
import { BlockIndex } from '../engine/block-index.js';
import type { ChecksumParams } from '../engine/params.js';
import { releaseMemory } from '../engine/release-memory.js';
import { TargetState } from '../engine/target-state.js';
import { matchSeed, type SeedStretch } from './match-seed.js';
import { readChunksSync, syncWriter } from './sync-io.js';
import { hasBit } from './block-bits.js';
import { SegmentClaims } from './segment-claims.js';
import { threadReadBuffer } from './thread-read-buffer.js';
import { isPrefixHashMessage, prefixHashHandler, type PrefixHashMessage } from './prefix-hash-handler.js';
import type { SeedSegments } from './split-scan.js';

type Message =
  | { init: { params: ChecksumParams; weak: Int32Array; strong: Uint8Array; output: string } }
  | { scan: { path: string; segments: SeedSegments; claims: SharedArrayBuffer; had: Uint8Array } }
  | { close: true }
  | { done: true }
  | PrefixHashMessage;

/** Progress is reported every this many bytes: a message per MiB would be noise. */
const PROGRESS_STEP = 8 << 20;

let index: BlockIndex | undefined;
let state: TargetState | undefined;
let output = -1;
let hash: ((msg: PrefixHashMessage) => void) | undefined;

async function handle(msg: Message): Promise<void> {
  if ('init' in msg) {
    const { params, weak, strong } = msg.init;
    const checksums = new BlockChecksums(params, weak, strong);
    index = new BlockIndex(checksums, { singleState: true });
    state = new TargetState(checksums);
    output = openSync(msg.init.output, 'r+');
  } else if ('scan' in msg) {
    const { present } = state!;
    // Blocks the main thread has (earlier seeds) are not looked for again. The
    // main thread's set includes what this thread found in earlier seeds, so
    // from here on it is what this thread had before this scan.
    const before = msg.scan.had;
    addAll(state!, before);
    const { size, segmentSize, count, overlap } = msg.scan.segments;
    const claims = new SegmentClaims(msg.scan.claims);
    const buffer = threadReadBuffer();
    let bytesRead = 0;
    // The segments this thread claims, as they are claimed: each from a few
    // windows before its start to a few beyond its end; the last one to the
    // seed's end, which is zero padded there. Its own bytes (neither overlap)
    // count as read once the next one is asked for.
    function* claimed(): Generator<SeedStretch> {
      for (let k = claims.claimBack(); k >= 0; k = claims.claimBack()) {
        const own = k * segmentSize;
        const start = Math.max(0, own - overlap);
        yield { start, end: k === count - 1 ? undefined : Math.min(size, own + segmentSize + overlap) };
        bytesRead += Math.max(0, Math.min(size, own + segmentSize) - own);
      }
    }
    let reported = 0;
    await matchSeed(msg.scan.path, index!, state!, syncWriter(output), {
      read: (path, start, end) => readChunksSync(path, start, end, undefined, { buffer }),
      stretches: claimed(),
      onProgress: (n) => {
        if (n - reported < PROGRESS_STEP) return;
        reported = n;
        parentPort!.postMessage({ progress: n });
      },
    });
    const list = foundSince(present, before);
    parentPort!.postMessage({ found: list, bytesRead }, [list.buffer]);
  } else if ('done' in msg) {
    // Scanning is over: let go of the working file and of the index (its
    // memory freed now: this thread goes on hashing, which hardly allocates,
    // so a GC might not come before the sync ends).
    if (output >= 0) closeSync(output);
    output = -1;
    index?.dispose();
    index = undefined;
    if (state) releaseMemory([state.present.buffer]);
    state = undefined;
  } else if (isPrefixHashMessage(msg)) {
    hash ??= prefixHashHandler((reply) => parentPort!.postMessage(reply));
    hash(msg);
  } else {
    if (output >= 0) closeSync(output);
    output = -1;
    parentPort!.close();
  }
}

/** Marks present in `state` the blocks in `had` (packBits). */
function addAll(state: TargetState, had: Uint8Array): void {
  // Loops over every block live in functions of their own, here and below:
  // inside handle(), each ran long enough to have all of handle() compiled
  // anew, which took 1-2 MB of compiler memory at the end of a 1 GiB scan.
  for (let i = 0; i < state.blockCount; i++) if (hasBit(had, i)) state.add(i);
}

/** The blocks present that `had` had not, ascending. */
function foundSince(present: Uint8Array, had: Uint8Array): Int32Array<ArrayBuffer> {
  // Counted, then listed: no array grown block by block (127 000 found at 1 GiB).
  let added = 0;
  for (let i = 0; i < present.length; i++) if (present[i] === 1 && !hasBit(had, i)) added++;
  const list = new Int32Array(added);
  for (let i = 0, k = 0; k < added; i++) if (present[i] === 1 && !hasBit(had, i)) list[k++] = i;
  return list;
}

// One message at a time, in order: a scan's message waits for the init's open.
let queue = Promise.resolve();
parentPort!.on('message', (msg: Message) => {
  queue = queue
    .then(() => handle(msg))
    .catch((err: unknown) => {
      parentPort!.postMessage({ error: err instanceof Error ? err.message : String(err) });
    });
});
