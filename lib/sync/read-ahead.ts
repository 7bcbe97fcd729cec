import { open } from 'node:fs/promises';
import { readFully } from '../engine/positional.js';

export interface ReadAheadOptions {
  /** Bytes per chunk. Default 1 MiB. */
  chunkSize?: number;
  /** Reads kept in flight. Default 2. */
  depth?: number;
}

/**
 * A file's bytes in chunks, with the next reads already under way while the
 * consumer works on the current one. fs.createReadStream issues its next read
 * only after the consumer has returned, so a CPU-bound consumer (the matcher,
 * a hash) waits for every read: a fifth of a seed scan's time went idle so.
 * Memory: depth + 1 chunks.
 */
export async function* readAhead(path: string, options: ReadAheadOptions = {}): AsyncGenerator<Buffer> {
  const chunkSize = options.chunkSize ?? 1 << 20;
  const depth = Math.max(1, options.depth ?? 2);
  const handle = await open(path, 'r');
  const inflight: Array<Promise<Buffer>> = [];
  try {
    const { size } = await handle.stat();
    let next = 0;
    const issue = (): void => {
      if (next >= size) return;
      const n = Math.min(chunkSize, size - next);
      const buf = Buffer.allocUnsafe(n);
      const read = readFully(handle, buf, 0, n, next).then((got) => (got === n ? buf : buf.subarray(0, got)));
      read.catch(() => {}); // awaited in order below; this keeps an early failure from being "unhandled"
      inflight.push(read);
      next += n;
    };
    for (let i = 0; i < depth; i++) issue();
    while (inflight.length > 0) {
      const chunk = await inflight.shift()!;
      issue();
      if (chunk.length === 0) break; // the file shrank under us: what is there has been read
      yield chunk;
    }
  } finally {
    await Promise.allSettled(inflight);
    await handle.close();
  }
}
