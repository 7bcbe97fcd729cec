/**
 * Where a control-file writer keeps the block records until the header (which
 * needs the whole file's SHA-1 and length) can be written: in memory up to a
 * bound, then in a temp file, as zsyncmake keeps them in a tmpfile().
 */
import { mkdtemp, open, rm, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A byte queue written once, front to back, then read back once. */
export interface RecordSpool {
  /** Stores `page` after what came before; the spool owns the buffer from now on. */
  write(page: Buffer): Promise<void>;
  /** Everything written, in order, in chunks whose lengths are multiples of `alignment`. */
  read(alignment: number): AsyncIterable<Buffer>;
  /** Frees the memory and removes any temp file. Safe to call more than once. */
  dispose(): Promise<void>;
}

export interface SpillingSpoolOptions {
  /**
   * Bytes kept in memory before everything moves to a temp file. Default 8 MiB
   * (about 400,000 MD4 records: an 800 MB file at 2048-byte blocks). The writer
   * hands over whole pages of 4096 records, so memory peaks at this plus one page.
   */
  maxMemoryBytes?: number;
  /** Where the temp folder is made. Default `os.tmpdir()`. */
  tmpDir?: string;
}

export const DEFAULT_MAX_SPOOL_MEMORY = 8 << 20;
const READ_CHUNK = 1 << 20;

export class SpillingSpool implements RecordSpool {
  /** Bytes written in all. */
  size = 0;
  /** Most record bytes held in memory at once (never above maxMemoryBytes). */
  peakMemoryBytes = 0;
  private readonly maxMemoryBytes: number;
  private readonly tmpDir: string;
  private pages: Buffer[] = [];
  private memoryBytes = 0;
  private dir: string | undefined;
  private file: FileHandle | undefined;
  private disposed = false;

  constructor(options: SpillingSpoolOptions = {}) {
    this.maxMemoryBytes = options.maxMemoryBytes ?? DEFAULT_MAX_SPOOL_MEMORY;
    this.tmpDir = options.tmpDir ?? tmpdir();
  }

  /** True once the records have moved to a temp file (and stays true after dispose()). */
  spilled = false;

  async write(page: Buffer): Promise<void> {
    if (this.disposed) throw new Error('spool used after dispose()');
    if (!this.file && this.memoryBytes + page.length <= this.maxMemoryBytes) {
      this.pages.push(page);
      this.memoryBytes += page.length;
      this.peakMemoryBytes = Math.max(this.peakMemoryBytes, this.memoryBytes);
      this.size += page.length;
      return;
    }
    if (!this.file) await this.spill();
    await this.append(page);
  }

  async *read(alignment: number): AsyncIterable<Buffer> {
    if (!this.file) {
      for (const page of this.pages) yield page;
      return;
    }
    const chunk = Math.max(1, Math.floor(READ_CHUNK / alignment)) * alignment;
    for (let position = 0; position < this.size; ) {
      const n = Math.min(chunk, this.size - position);
      const buffer = Buffer.allocUnsafe(n);
      let got = 0;
      while (got < n) {
        const { bytesRead } = await this.file.read(buffer, got, n - got, position + got);
        if (bytesRead === 0) throw new Error(`spool file ended at ${position + got} of ${this.size} bytes`);
        got += bytesRead;
      }
      position += n;
      yield buffer;
    }
  }

  async dispose(): Promise<void> {
    this.disposed = true;
    this.pages = [];
    const { file, dir } = this;
    this.file = undefined;
    this.dir = undefined;
    await file?.close().catch(() => {});
    if (dir) await rm(dir, { recursive: true, force: true });
  }

  private async spill(): Promise<void> {
    this.spilled = true;
    this.dir = await mkdtemp(join(this.tmpDir, 'zsync-streams-records-'));
    this.file = await open(join(this.dir, 'records'), 'w+');
    const pages = this.pages;
    this.pages = [];
    this.memoryBytes = 0;
    this.size -= pages.reduce((n, p) => n + p.length, 0);
    for (const page of pages) await this.append(page);
  }

  private async append(page: Buffer): Promise<void> {
    let done = 0;
    while (done < page.length) {
      const { bytesWritten } = await this.file!.write(page, done, page.length - done, this.size + done);
      done += bytesWritten;
    }
    this.size += page.length;
  }
}
