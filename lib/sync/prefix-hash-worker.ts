/**
 * Worker thread of PrefixHasher: hashes a file from its start as far as it is
 * told the bytes are final, reading them back itself (from the page cache, as
 * they were just written). Imports nothing of the package, so it starts fast.
 *
 * Messages in: { open: path, algorithms }, then { upTo: bytes } any number of
 * times (never decreasing), then { finish: length }. Out: { ok: true, digests:
 * hex per algorithm } or { ok: false, message }.
 */
import { createHash, type Hash } from 'node:crypto';
import { closeSync, openSync, readSync } from 'node:fs';
import { parentPort } from 'node:worker_threads';

type Message = { open: string; algorithms: string[] } | { upTo: number } | { finish: number };

const READ = 1 << 20;
const buf = Buffer.allocUnsafe(READ);
let fd = -1;
let hashes: Hash[] = [];
let hashed = 0;

/** Hashes the bytes [hashed, end). Synchronous reads: this thread has nothing else to do. */
function hashTo(end: number): void {
  while (hashed < end) {
    const n = readSync(fd, buf, 0, Math.min(READ, end - hashed), hashed);
    if (n === 0) throw new Error(`the file ended at ${hashed}, expected ${end} bytes`);
    const view = buf.subarray(0, n);
    for (const h of hashes) h.update(view);
    hashed += n;
  }
}

parentPort!.on('message', (msg: Message) => {
  try {
    if ('open' in msg) {
      fd = openSync(msg.open, 'r');
      hashes = msg.algorithms.map((a) => createHash(a));
    } else if ('upTo' in msg) {
      hashTo(msg.upTo);
    } else {
      hashTo(msg.finish);
      closeSync(fd);
      parentPort!.postMessage({ ok: true, digests: hashes.map((h) => h.digest('hex')) });
    }
  } catch (err) {
    parentPort!.postMessage({ ok: false, message: (err as Error).message });
  }
});
