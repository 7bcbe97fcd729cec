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
  /** Blocks buffered before backpressure; consecutive ones are written together. Default 64. */
  highWaterMark?: number;
}

/**
 * Matched blocks in, written at `index * blockSize` through a positional writer
 * (the last block cut to the file's length). Runs of consecutive blocks that
 * arrive together are merged into one write.
 */
export class LocalPatcherStream extends Writable {
  /** Bytes written to the output. */
  bytesWritten = 0;
  private readonly output: PositionalWriter;
  private readonly params: Pick<ChecksumParams, 'blockSize' | 'length'>;
  private readonly blockCount: number;

  constructor(output: PositionalWriter, params: Pick<ChecksumParams, 'blockSize' | 'length'>, options: LocalPatcherOptions = {}) {
    super({ objectMode: true, highWaterMark: options.highWaterMark ?? 64 });
    this.output = output;
    this.params = params;
    this.blockCount = blockCountOf(params);
  }

  override _write(block: LocalBlock, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.writeRuns([block]).then(() => callback(), callback);
  }

  override _writev(chunks: Array<{ chunk: LocalBlock }>, callback: (error?: Error | null) => void): void {
    this.writeRuns(chunks.map((c) => c.chunk)).then(() => callback(), callback);
  }

  private async writeRuns(blocks: LocalBlock[]): Promise<void> {
    let i = 0;
    while (i < blocks.length) {
      // Gather a run of consecutive indices: one write instead of many.
      let j = i + 1;
      while (j < blocks.length && blocks[j]!.index === blocks[j - 1]!.index + 1) j++;
      const run = blocks.slice(i, j);
      const parts: Uint8Array[] = [];
      for (const block of run) {
        if (!Number.isInteger(block.index) || block.index < 0 || block.index >= this.blockCount) {
          throw new OutOfRangeError(`block ${block.index} is not a block of the target (0..${this.blockCount - 1})`);
        }
        const { start, end } = blockSpan(this.params, block.index);
        if (block.data.length < end - start) {
          throw new OutOfRangeError(`block ${block.index} has ${block.data.length} bytes, needs ${end - start}`);
        }
        parts.push(block.data.subarray(0, end - start));
      }
      const data = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
      await writeFully(this.output, data, run[0]!.index * this.params.blockSize);
      this.bytesWritten += data.length;
      i = j;
    }
  }
}
