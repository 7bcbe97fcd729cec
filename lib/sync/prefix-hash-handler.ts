/**
 * The hashing side of PrefixHasher, for whichever worker thread runs it: its
 * own (prefix-hash-worker.ts) or the seed scan's, which a sync hands over to
 * hashing once the scan is done (a worker already started, instead of another
 * one to wait for). Hashes a file from its start as far as it is told the
 * bytes are final, reading them back itself (from the page cache, as they
 * were just written).
 *
 * Messages: { open: path, algorithms }, then { upTo: bytes } any number of
 * times (never decreasing), then { finish: length }. Replies: { ok: true,
 * digests: hex per algorithm } or { ok: false, message }.
 */
import { createHash, type Hash } from 'node:crypto';
import { closeSync, openSync, readSync } from 'node:fs';
import { threadReadBuffer } from './thread-read-buffer.js';

export type PrefixHashMessage = { open: string; algorithms: string[] } | { upTo: number } | { finish: number };
export type PrefixHashReply = { ok: true; digests: string[] } | { ok: false; message: string };


export function isPrefixHashMessage(msg: object): msg is PrefixHashMessage {
  return 'open' in msg || 'upTo' in msg || 'finish' in msg;
}

/** A handler for one file's messages, replying through `post`. */
export function prefixHashHandler(post: (reply: PrefixHashReply) => void): (msg: PrefixHashMessage) => void {
  const buf = threadReadBuffer();
  let fd = -1;
  let hashes: Hash[] = [];
  let hashed = 0;

  /** Hashes the bytes [hashed, end). Synchronous reads: the thread has nothing else to do. */
  const hashTo = (end: number): void => {
    while (hashed < end) {
      const n = readSync(fd, buf, 0, Math.min(buf.length, end - hashed), hashed);
      if (n === 0) throw new Error(`the file ended at ${hashed}, expected ${end} bytes`);
      const view = buf.subarray(0, n);
      for (const h of hashes) h.update(view);
      hashed += n;
    }
  };

  return (msg) => {
    try {
      if ('open' in msg) {
        fd = openSync(msg.open, 'r');
        hashes = msg.algorithms.map((a) => createHash(a));
      } else if ('upTo' in msg) {
        hashTo(msg.upTo);
      } else {
        hashTo(msg.finish);
        closeSync(fd);
        fd = -1;
        post({ ok: true, digests: hashes.map((h) => h.digest('hex')) });
      }
    } catch (err) {
      post({ ok: false, message: (err as Error).message });
    }
  };
}
