import { Writable } from 'readable-stream';
import { OutOfRangeError } from '../errors.js';
import { blockCountOf, blockSpan, type ChecksumParams } from './params.js';
import { writeFully, type PositionalWriter } from './positional.js';

/** What LocalPatcherStream takes: a target block and its bytes (blockSize long, or cut to the file). */
export interface LocalBlock {
  index: number;
  data: Uint8Array;
}

export interface LocalPatcherOptions {
  /** Bytes of consecutive blocks gathered into one write. Default 1 MiB. */
  writeBufferSize?: number;
  /** Blocks buffered before backpressure. Default 64. */
  highWaterMark?: number;
}

type Callback = (error?: Error | null) => void;

/**
 * Matched blocks in, written at `index * blockSize` through a positional writer
 * (the last block cut to the file's length). A seed that matches mostly in
 * order yields long runs of consecutive blocks: they are gathered in one buffer
 * of `writeBufferSize` bytes and written together, so a 2 KiB block does not
 * cost a write (and a thread-pool round trip) of its own.
 */
export class LocalPatcherStream extends Writable {
  /** Bytes written to the output. */
  bytesWritten = 0;
  private readonly output: PositionalWriter;
  private readonly params: Pick<ChecksumParams, 'blockSize' | 'length'>;
  private readonly blockCount: number;
  private run: Buffer;
  /** The other buffer: the one being written while `run` fills. */
  private spare: Buffer;
  /** The write in flight, if any: at most one, so memory stays at two buffers. */
  private writing: Promise<void> | undefined;
  /** The run being gathered: target position of run[0], bytes in it, next block index it takes. */
  private runStart = 0;
  private runLength = 0;
  private runNext = -1;

  constructor(output: PositionalWriter, params: Pick<ChecksumParams, 'blockSize' | 'length'>, options: LocalPatcherOptions = {}) {
    super({ objectMode: true, highWaterMark: options.highWaterMark ?? 64 });
    this.output = output;
    this.params = params;
    this.blockCount = blockCountOf(params);
    const size = Math.max(params.blockSize, options.writeBufferSize ?? 1 << 20);
    this.run = Buffer.allocUnsafe(size);
    this.spare = Buffer.allocUnsafe(size);
  }

  override _write(block: LocalBlock, _encoding: BufferEncoding, callback: Callback): void {
    let data: Uint8Array;
    try {
      data = this.bytesOf(block);
    } catch (err) {
      callback(err as Error);
      return;
    }
    if (block.index === this.runNext && this.runLength + data.length <= this.run.length) {
      this.append(block.index, data);
      callback();
      return;
    }
    this.flush().then(() => {
      this.runStart = block.index * this.params.blockSize;
      this.append(block.index, data);
      callback();
    }, callback);
  }

  override _final(callback: Callback): void {
    this.flush()
      .then(() => this.writing)
      .then(() => callback(), callback);
  }

  private append(index: number, data: Uint8Array): void {
    this.run.set(data, this.runLength);
    this.runLength += data.length;
    this.runNext = index + 1;
  }

  /**
   * Starts writing the gathered run and swaps buffers, so the next run fills
   * while this one is written: waiting for each write stalled the whole
   * pipeline (a 256 MiB seed scan into a file took 1.14 s, against 0.77 s into
   * a writer that returns at once). Waits only for the write before, which used
   * the buffer about to be filled.
   */
  private async flush(): Promise<void> {
    if (this.runLength === 0) return;
    await this.writing;
    const data = this.run.subarray(0, this.runLength);
    const position = this.runStart;
    [this.run, this.spare] = [this.spare, this.run];
    this.runLength = 0;
    this.runNext = -1;
    const write = writeFully(this.output, data, position).then(() => {
      this.bytesWritten += data.length;
    });
    // Its failure is reported by the next flush or by _final; until then it is not "unhandled".
    write.catch(() => {});
    this.writing = write;
  }

  /** The bytes of `block` that belong in the file, after checking it is a block of the target. */
  private bytesOf(block: LocalBlock): Uint8Array {
    if (!Number.isInteger(block.index) || block.index < 0 || block.index >= this.blockCount) {
      throw new OutOfRangeError(`block ${block.index} is not a block of the target (0..${this.blockCount - 1})`);
    }
    const { start, end } = blockSpan(this.params, block.index);
    if (block.data.length < end - start) {
      throw new OutOfRangeError(`block ${block.index} has ${block.data.length} bytes, needs ${end - start}`);
    }
    return block.data.subarray(0, end - start);
  }
}
