import { open } from 'node:fs/promises';
import { readFully } from '../engine/positional.js';

export interface ReadAheadOptions {
  /** Bytes per chunk. Default 1 MiB. */
  chunkSize?: number;
  /** Reads kept in flight. Default 2. */
  depth?: number;
  /**
   * Read into the same depth + 1 buffers over and over: a chunk is then valid
   * only until the consumer asks for the next one (fine for a `for await` loop
   * that is done with each chunk in its body; not for a stream, which may queue
   * chunks). A fresh 1 MiB buffer per chunk costs page faults, and unmapping at
   * GC, on every MiB: reading 256 MiB from the page cache took 0.30 s so, 0.08 s
   * into reused buffers. Default false.
   */
  reuse?: boolean;
  /** First byte to read. Default 0. */
  start?: number;
  /** Byte to stop before (cut to the file's size). Default: the file's end. */
  end?: number;
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
  const reuse = options.reuse ?? false;
  const handle = await open(path, 'r');
  const inflight: Array<{ buf: Buffer; read: Promise<Buffer> }> = [];
  /** Buffers the consumer is done with (reuse only). */
  const free: Buffer[] = [];
  try {
    const size = Math.min((await handle.stat()).size, options.end ?? Infinity);
    let next = Math.max(0, options.start ?? 0);
    const issue = (): void => {
      if (next >= size) return;
      const n = Math.min(chunkSize, size - next);
      const buf = (reuse ? free.pop() : undefined) ?? Buffer.allocUnsafe(reuse ? chunkSize : n);
      const read = readFully(handle, buf, 0, n, next).then((got) => (got === buf.length ? buf : buf.subarray(0, got)));
      read.catch(() => {}); // awaited in order below; this keeps an early failure from being "unhandled"
      inflight.push({ buf, read });
      next += n;
    };
    for (let i = 0; i < depth; i++) issue();
    while (inflight.length > 0) {
      const { buf, read } = inflight.shift()!;
      const chunk = await read;
      issue();
      if (chunk.length === 0) break; // the file shrank under us: what is there has been read
      yield chunk;
      // The consumer asked for the next chunk: this one's buffer is free again.
      if (reuse) free.push(buf);
    }
  } finally {
    await Promise.allSettled(inflight.map((r) => r.read));
    await handle.close();
  }
}
