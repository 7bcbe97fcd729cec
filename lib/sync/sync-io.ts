import { closeSync, fstatSync, openSync, readSync, writeSync } from 'node:fs';
import type { PositionalWriter } from '../engine/positional.js';

/** Hooks of readChunksSync() for a reader whose end moves as it goes (split-scan.ts). */
export interface ReadSyncHooks {
  /**
   * Called each time the reading reaches its current end (before the file's):
   * returns the new end, or the position given to stop there.
   */
  extend?(reached: number): number;
  /** Called when the reading stops at the file's end (as it is now: it may have shrunk). */
  atFileEnd?(): void;
  /** The buffer to read into, instead of a new one of `chunkSize` bytes (a scan of many stretches reuses one). */
  buffer?: Buffer;
}

/**
 * A file's bytes from `start` to `end` (cut to its size), read synchronously
 * into one reused buffer: a chunk is valid until the next is asked for. For a
 * CPU-bound scan on a machine whose cores are all busy scanning: the libuv
 * pool's threads, which async reads take, then wait for a core, and so did the
 * scan, a fifth of its time, for each read. Blocks the thread for one read at
 * a time (about 0.3 ms per MiB from the page cache).
 */
export function* readChunksSync(path: string, start: number, end: number | undefined, chunkSize = 1 << 20, hooks: ReadSyncHooks = {}): Generator<Buffer> {
  const buf = hooks.buffer ?? Buffer.allocUnsafe(chunkSize);
  chunkSize = buf.length;
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    let stop = Math.min(size, end ?? Infinity);
    for (let at = start; ; ) {
      if (at >= stop) {
        if (at >= size) break;
        if (!hooks.extend) return;
        stop = Math.min(size, hooks.extend(at));
        if (at >= stop) return;
      }
      const n = readSync(fd, buf, 0, Math.min(chunkSize, stop - at), at);
      if (n === 0) break; // the file shrank under us: what is there has been read
      at += n;
      yield buf.subarray(0, n);
    }
    hooks.atFileEnd?.();
  } finally {
    closeSync(fd);
  }
}

/**
 * A PositionalWriter whose writes are synchronous, on descriptor `fd`: for the
 * split scan's two threads, whose runs land in the page cache in microseconds,
 * while an async write is a hand-over to a libuv pool thread and back (futex
 * wake-ups, and with both cores scanning, a wait for one). Like the scan's
 * reads, a write the kernel holds up (dirty-page throttling, a hung mount)
 * holds the thread that long.
 */
export function syncWriter(fd: number): PositionalWriter {
  return {
    write(buffer: Uint8Array, offset: number, length: number, position: number): Promise<{ bytesWritten: number }> {
      return Promise.resolve({ bytesWritten: writeSync(fd, buffer, offset, length, position) });
    },
    writeSync(buffer: Uint8Array, offset: number, length: number, position: number): number {
      return writeSync(fd, buffer, offset, length, position);
    },
  };
}
