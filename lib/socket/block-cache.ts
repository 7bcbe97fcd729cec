import { open } from 'node:fs/promises';
import { strongHasher } from '../checksums/strong.js';
import type { BlockChecksums } from '../engine/block-checksums.js';
import { positiveOption, ZsyncError } from '../errors.js';

/** One version of a served file: its bytes are read from `path` and must match `checksums`. */
export interface ServedVersion {
  /** Unique across every file a server serves: cache entries are keyed on it. */
  readonly key: number;
  readonly path: string;
  readonly checksums: BlockChecksums;
}

export interface BlockCacheOptions {
  /** Bytes of blocks kept for later requests. Default 32 MiB. */
  maxBytes?: number;
  /** Largest single read from a file. Default 1 MiB. */
  maxReadBytes?: number;
  /** Reads in flight at once, across all clients. Default 4. */
  maxConcurrentReads?: number;
}

export interface BlockCacheStats {
  /** Bytes read from files. */
  bytesRead: number;
  reads: number;
  /** Blocks served from memory (already read, or being read for another client). */
  hits: number;
  misses: number;
}

/** The file on disk no longer has the content its checksums describe. */
export class FileChangedError extends ZsyncError {
  constructor(path: string, block: number) {
    super('ERR_ZSYNC_FILE_CHANGED', `${path} changed on disk (block ${block} no longer matches its checksum)`);
  }
}

interface Entry {
  size: number;
  data: Promise<Buffer>;
  settled: boolean;
}

/**
 * Blocks of served files, shared by every client: when many clients lack the
 * same changed blocks, each is read once. A block being read for one client is
 * awaited by the others, not read again. Every block read is checked against
 * its strong checksum, so a file that changed under us is never served as the
 * old version (FileChangedError instead). Bounded: `maxBytes` of settled
 * blocks (least recently used go first) plus `maxConcurrentReads` reads.
 */
export class BlockCache {
  readonly stats: BlockCacheStats = { bytesRead: 0, reads: 0, hits: 0, misses: 0 };
  private readonly entries = new Map<string, Entry>();
  private readonly maxBytes: number;
  private readonly maxReadBytes: number;
  private readonly maxConcurrentReads: number;
  private bytes = 0;
  private reading = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(options: BlockCacheOptions = {}) {
    this.maxBytes = positiveOption('maxBytes', options.maxBytes, 32 << 20);
    this.maxReadBytes = positiveOption('maxReadBytes', options.maxReadBytes, 1 << 20);
    this.maxConcurrentReads = positiveOption('maxConcurrentReads', options.maxConcurrentReads, 4);
  }

  /** Blocks `first` to `last` (inclusive) of `version`, in order; the last block of the file is short. */
  async blocks(version: ServedVersion, first: number, last: number): Promise<Buffer[]> {
    const { blockSize } = version.checksums.params;
    const out: Array<Promise<Buffer>> = [];
    let runStart = -1;
    const flushRun = (end: number): void => {
      if (runStart < 0) return;
      // Consecutive missing blocks are read together, at most maxReadBytes a read.
      const per = Math.max(1, Math.floor(this.maxReadBytes / blockSize));
      for (let from = runStart; from < end; from += per) this.readRun(version, from, Math.min(end, from + per));
      for (let i = runStart; i < end; i++) out.push(this.entries.get(keyOf(version, i))!.data);
      runStart = -1;
    };
    for (let i = first; i <= last; i++) {
      const key = keyOf(version, i);
      const hit = this.entries.get(key);
      if (hit) {
        flushRun(i);
        this.stats.hits++;
        // Most recently used goes last in the map's order.
        this.entries.delete(key);
        this.entries.set(key, hit);
        out.push(hit.data);
      } else {
        this.stats.misses++;
        if (runStart < 0) runStart = i;
      }
    }
    flushRun(last + 1);
    return Promise.all(out);
  }

  /** Drops every block of `version` (it is no longer served). */
  forget(version: ServedVersion): void {
    const prefix = `${version.key}:`;
    for (const [key, entry] of this.entries) {
      if (key.startsWith(prefix)) this.remove(key, entry);
    }
  }

  private readRun(version: ServedVersion, from: number, to: number): void {
    const { params } = version.checksums;
    const start = from * params.blockSize;
    const end = Math.min(to * params.blockSize, params.length);
    const read = this.read(version, from, start, end);
    // Unobserved until a caller awaits its block: keep a failure from counting as unhandled.
    read.catch(() => {});
    for (let i = from; i < to; i++) {
      const key = keyOf(version, i);
      const size = Math.min(params.blockSize, params.length - i * params.blockSize);
      const entry: Entry = { size, settled: false, data: read.then((all) => all[i - from]!) };
      entry.data.then(
        () => {
          entry.settled = true;
          this.trim();
        },
        () => this.remove(key, entry),
      );
      this.entries.set(key, entry);
      this.bytes += size;
    }
  }

  private async read(version: ServedVersion, first: number, start: number, end: number): Promise<Buffer[]> {
    await this.slot();
    const { params } = version.checksums;
    const data = Buffer.allocUnsafe(end - start);
    try {
      const handle = await open(version.path, 'r');
      try {
        let got = 0;
        while (got < data.length) {
          const { bytesRead } = await handle.read(data, got, data.length - got, start + got);
          if (bytesRead === 0) break;
          got += bytesRead;
        }
        this.stats.reads++;
        this.stats.bytesRead += got;
        if (got < data.length) throw new FileChangedError(version.path, first + Math.floor(got / params.blockSize));
      } finally {
        await handle.close();
      }
    } finally {
      this.release();
    }
    // Each block its own copy, outside Node's shared pool: a block kept in the
    // cache must pin neither the whole read nor an 8 KiB pool slab.
    const hasher = strongHasher(params.strongAlgorithm);
    const padded = Buffer.alloc(params.blockSize);
    const blocks: Buffer[] = [];
    for (let at = 0, i = first; at < data.length; at += params.blockSize, i++) {
      const end = Math.min(at + params.blockSize, data.length);
      const block = Buffer.allocUnsafeSlow(end - at);
      data.copy(block, 0, at, end);
      let whole: Uint8Array = block;
      if (block.length < params.blockSize) {
        padded.fill(0);
        block.copy(padded);
        whole = padded;
      }
      if (!version.checksums.strongEquals(i, hasher.digest(whole))) throw new FileChangedError(version.path, i);
      blocks.push(block);
    }
    return blocks;
  }

  private trim(): void {
    if (this.bytes <= this.maxBytes) return;
    for (const [key, entry] of this.entries) {
      if (this.bytes <= this.maxBytes) break;
      if (entry.settled) this.remove(key, entry);
    }
  }

  private remove(key: string, entry: Entry): void {
    if (this.entries.get(key) !== entry) return;
    this.entries.delete(key);
    this.bytes -= entry.size;
  }

  private async slot(): Promise<void> {
    while (this.reading >= this.maxConcurrentReads) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.reading++;
  }

  private release(): void {
    this.reading--;
    this.waiting.shift()?.();
  }
}


function keyOf(version: ServedVersion, block: number): string {
  return `${version.key}:${block}`;
}
