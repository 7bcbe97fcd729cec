import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

/**
 * A file's bytes from `start` to `end` (cut to its size), read synchronously
 * into one reused buffer: a chunk is valid until the next is asked for. For a
 * CPU-bound scan on a machine whose cores are all busy scanning: the libuv
 * pool's threads, which async reads take, then wait for a core, and so did the
 * scan, a fifth of its time, for each read. Blocks the thread for one read at
 * a time (about 0.3 ms per MiB from the page cache).
 */
export function* readChunksSync(path: string, start: number, end: number | undefined, chunkSize = 1 << 20): Generator<Buffer> {
  const buf = Buffer.allocUnsafe(chunkSize);
  const fd = openSync(path, 'r');
  try {
    const stop = Math.min(fstatSync(fd).size, end ?? Infinity);
    for (let at = start; at < stop; ) {
      const n = readSync(fd, buf, 0, Math.min(chunkSize, stop - at), at);
      if (n === 0) return; // the file shrank under us: what is there has been read
      at += n;
      yield buf.subarray(0, n);
    }
  } finally {
    closeSync(fd);
  }
}
