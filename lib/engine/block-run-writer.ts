import { OutOfRangeError } from '../errors.js';
import { blockBytes, blockCountOf, type ChecksumParams } from './params.js';
import { writeFully, writeFullySync, type PositionalWriter } from './positional.js';

/**
 * Target blocks in, written at `index * blockSize` through a positional writer
 * (the last block cut to the file's length). A seed that matches mostly in
 * order yields long runs of consecutive blocks: they are gathered and written
 * together, so a 2 KiB block does not cost a write (and a thread-pool round
 * trip) of its own. A block's bytes are copied in, so the caller may reuse them
 * once add() has returned undefined or its promise has settled.
 *
 * Runs are gathered one after another into a slab of `writeBufferSize` bytes,
 * each written as soon as the next block breaks it, without waiting for the
 * write before: an edited seed breaks its runs at every edit (1310 edits in the
 * 256 MiB corpus), and waiting for each write in turn left the scan idle a
 * fifth of its time. While one slab fills, the writes of the other complete;
 * add() waits only when it switches slabs, for the other slab's writes.
 *
 * The core of LocalPatcherStream, without a stream: the sync's match loop adds
 * blocks straight from the matcher (an objectMode hop per block cost more than
 * the copy).
 *
 * With `direct` and a writer that has writeSync() (the sync's scan threads),
 * nothing is copied: a run of blocks that lie one after another in the same
 * buffer, as consecutive matches in one chunk of seed do, is written from that
 * buffer in one synchronous write when the next block breaks it, or at
 * release(), which the caller calls before it changes those bytes. Copying each
 * matched block into the slab (and the view Buffer.copy makes per call) cost
 * the 256 MiB scan's threads about 50 ms of CPU between them.
 */
export class BlockRunWriter {
  /** Bytes written to the output (in writes that have completed). */
  bytesWritten = 0;
  private readonly output: PositionalWriter;
  private readonly params: Pick<ChecksumParams, 'blockSize' | 'length'>;
  private readonly blockCount: number;
  private slab: Buffer;
  /** The other slab, and the writes still reading from it. */
  private spare: Buffer;
  private spareWrites: Array<Promise<void>> = [];
  /** Writes issued from `slab` since it was taken. */
  private slabWrites: Array<Promise<void>> = [];
  /** Bytes of the slab in use: written or being written, then the run being gathered. */
  private slabUsed = 0;
  /** The run being gathered: its start in the slab, its target position, the next block index it takes. */
  private runBegin = 0;
  private runStart = 0;
  private runNext = -1;
  /** The first write that failed: reported by the next add() that waits, or by end(). */
  private failure: unknown;
  /** Direct mode's writer; its run is `runLength` bytes of `runSource` from `runAt`. */
  private readonly writeSync: PositionalWriter['writeSync'];
  private runSource: Uint8Array | undefined;
  private runAt = 0;
  private runLength = 0;

  constructor(output: PositionalWriter, params: Pick<ChecksumParams, 'blockSize' | 'length'>, writeBufferSize = 1 << 20, options: BlockRunWriterOptions = {}) {
    this.output = output;
    this.params = params;
    this.blockCount = blockCountOf(params);
    this.writeSync = options.direct && output.writeSync ? output.writeSync.bind(output) : undefined;
    const size = this.writeSync ? 0 : Math.max(params.blockSize, writeBufferSize);
    this.slab = Buffer.allocUnsafe(size);
    this.spare = Buffer.allocUnsafe(size);
  }

  /** True when runs are written straight from the callers' bytes (see `direct`). */
  get direct(): boolean {
    return this.writeSync !== undefined;
  }

  /**
   * Takes block `index` (`data` at least as long as the block). Returns
   * undefined when the block joined the slab, the common case, which then
   * costs no promise; else a promise to await before the next add().
   * Throws OutOfRangeError for a block that is not the target's.
   */
  add(index: number, data: Uint8Array): Promise<void> | undefined {
    const bytes = this.bytesOf(index, data.length);
    if (this.writeSync) {
      // The caller may reuse `data` once this returns: written now, not gathered.
      this.takeDirect(index, bytes, data, 0);
      this.release();
      return undefined;
    }
    return this.take(index, bytes, data, 0);
  }

  /**
   * add() of the block whose bytes are `buf[at, at + blockSize)` (a match
   * handed over by Matcher.writeTo(): the caller's chunk or the matcher's own
   * buffer), copied without a view of them.
   */
  addFrom(index: number, buf: Buffer, at: number): Promise<void> | undefined {
    const bytes = this.bytesOf(index, buf.length - at);
    if (this.writeSync) {
      this.takeDirect(index, bytes, buf, at);
      return undefined;
    }
    return this.take(index, bytes, buf, at);
  }

  /**
   * Direct mode: writes the run gathered from the caller's bytes, which may
   * change once this returns. Does nothing otherwise (the slab holds copies).
   */
  release(): void {
    if (!this.writeSync) return; // the slab's runs go on across the caller's chunks
    if (this.runLength > 0) {
      writeFullySync(this.writeSync!, this.runSource!, this.runAt, this.runLength, this.runStart);
      this.bytesWritten += this.runLength;
    }
    this.runSource = undefined;
    this.runLength = 0;
    this.runNext = -1;
  }

  private takeDirect(index: number, bytes: number, source: Uint8Array, at: number): void {
    if (index === this.runNext && source === this.runSource && at === this.runAt + this.runLength) {
      this.runLength += bytes;
    } else {
      this.release();
      this.runSource = source;
      this.runAt = at;
      this.runLength = bytes;
      this.runStart = index * this.params.blockSize;
    }
    this.runNext = index + 1;
  }

  private take(index: number, bytes: number, source: Uint8Array, at: number): Promise<void> | undefined {
    if (index !== this.runNext) {
      this.issue();
      this.runStart = index * this.params.blockSize;
    }
    if (this.slabUsed + bytes <= this.slab.length) {
      this.append(index, source, at, bytes);
      return undefined;
    }
    return this.swap().then(() => this.append(index, source, at, bytes));
  }

  /** Writes what is gathered and waits for every write: after it, all added blocks are in the output. */
  async end(): Promise<void> {
    if (this.writeSync) this.release();
    this.issue();
    await Promise.all([...this.spareWrites, ...this.slabWrites]);
    this.spareWrites = [];
    this.slabWrites = [];
    if (this.failure !== undefined) throw this.failure;
  }

  private append(index: number, source: Uint8Array, at: number, bytes: number): void {
    // Buffer's copy() takes the range itself: no view made per block.
    if (Buffer.isBuffer(source)) source.copy(this.slab, this.slabUsed, at, at + bytes);
    else this.slab.set(source.subarray(at, at + bytes), this.slabUsed);
    this.slabUsed += bytes;
    this.runNext = index + 1;
  }

  /** Starts writing the run gathered so far; the next block starts a new one. */
  private issue(): void {
    if (this.slabUsed > this.runBegin) {
      const data = this.slab.subarray(this.runBegin, this.slabUsed);
      const write = writeFully(this.output, data, this.runStart).then(
        () => {
          this.bytesWritten += data.length;
        },
        (err: unknown) => {
          this.failure ??= err;
        },
      );
      this.slabWrites.push(write);
      this.runStart += data.length;
      this.runBegin = this.slabUsed;
    }
    this.runNext = -1;
  }

  /**
   * The slab is full: writes the run in it, and carries on in the other slab
   * once the writes from that one have completed. A run that spans the swap is
   * written as two.
   */
  private async swap(): Promise<void> {
    const next = this.runNext;
    this.issue();
    await Promise.all(this.spareWrites);
    if (this.failure !== undefined) throw this.failure;
    [this.slab, this.spare] = [this.spare, this.slab];
    this.spareWrites = this.slabWrites;
    this.slabWrites = [];
    this.slabUsed = 0;
    this.runBegin = 0;
    this.runNext = next; // the run goes on at runStart, in the new slab
  }

  /** How many bytes of block `index` belong in the file, after checking it is a block of the target and `available` holds them. */
  private bytesOf(index: number, available: number): number {
    if (!Number.isInteger(index) || index < 0 || index >= this.blockCount) {
      throw new OutOfRangeError(`block ${index} is not a block of the target (0..${this.blockCount - 1})`);
    }
    const bytes = blockBytes(this.params, index); // for every block of the seed matched: no object
    if (available < bytes) {
      throw new OutOfRangeError(`block ${index} has ${available} bytes, needs ${bytes}`);
    }
    return bytes;
  }
}

export interface BlockRunWriterOptions {
  /**
   * Write runs straight from the callers' buffers, synchronously, when the
   * output has writeSync(): the caller calls release() before it changes the
   * bytes it handed to addFrom(). Default false (blocks are copied).
   */
  direct?: boolean;
}
