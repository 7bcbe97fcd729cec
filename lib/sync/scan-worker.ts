/**
 * Worker thread of SeedScanHelper (split-scan.ts): scans the second part of a
 * seed with its own BlockIndex and TargetState, writes the blocks it finds
 * into the working file through its own descriptor, and reports their indices
 * once those writes are done. Imports only the engine (no HTTP), so it starts
 * while the main thread is still building its own index.
 *
 * Messages in: { init: { params, weak, strong, output } } once, then
 * { scan: { path, start, present } } per seed (present: the main thread's
 * blocks found so far, 1 a block), then { close: true }. Out: { progress: bytes }
 * now and then during a scan, then { found: Int32Array, bytesRead } (the blocks
 * this scan added to what `present` had), or { error: message } at any time.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { parentPort } from 'node:worker_threads';
import { BlockChecksums } from '../engine/block-checksums.js';
import { BlockIndex } from '../engine/block-index.js';
import type { ChecksumParams } from '../engine/params.js';
import { TargetState } from '../engine/target-state.js';
import { matchSeed } from './match-seed.js';
import { readChunksSync } from './read-sync.js';

type Message =
  | { init: { params: ChecksumParams; weak: Int32Array; strong: Uint8Array; output: string } }
  | { scan: { path: string; start: number; present: Uint8Array } }
  | { close: true };

/** Progress is reported every this many bytes: a message per MiB would be noise. */
const PROGRESS_STEP = 8 << 20;

let index: BlockIndex | undefined;
let state: TargetState | undefined;
let output = -1;
/** Synchronous positional writes: this thread has nothing else to do meanwhile (see read-sync.ts). */
const writer = {
  write(buffer: Uint8Array, offset: number, length: number, position: number): Promise<{ bytesWritten: number }> {
    return Promise.resolve({ bytesWritten: writeSync(output, buffer, offset, length, position) });
  },
};

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
    const before = msg.scan.present;
    for (let i = 0; i < present.length; i++) if (before[i] === 1) state!.add(i);
    let reported = 0;
    const { bytesRead } = await matchSeed(msg.scan.path, index!, state!, writer, {
      read: readChunksSync,
      start: msg.scan.start,
      onProgress: (n) => {
        if (n - reported < PROGRESS_STEP) return;
        reported = n;
        parentPort!.postMessage({ progress: n });
      },
    });
    const found: number[] = [];
    for (let i = 0; i < present.length; i++) if (present[i] === 1 && before[i] === 0) found.push(i);
    const list = Int32Array.from(found);
    parentPort!.postMessage({ found: list, bytesRead }, [list.buffer]);
  } else {
    if (output >= 0) closeSync(output);
    output = -1;
    parentPort!.close();
  }
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
