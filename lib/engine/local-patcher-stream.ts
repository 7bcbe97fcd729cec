import { Writable } from 'readable-stream';
import { BlockRunWriter } from './block-run-writer.js';
import type { ChecksumParams } from './params.js';
import type { PositionalWriter } from './positional.js';

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
 * (the last block cut to the file's length), consecutive blocks gathered into
 * one write: a BlockRunWriter as a stream.
 */
export class LocalPatcherStream extends Writable {
  private readonly writer: BlockRunWriter;

  constructor(output: PositionalWriter, params: Pick<ChecksumParams, 'blockSize' | 'length'>, options: LocalPatcherOptions = {}) {
    super({ objectMode: true, highWaterMark: options.highWaterMark ?? 64 });
    this.writer = new BlockRunWriter(output, params, options.writeBufferSize);
  }

  /** Bytes written to the output. */
  get bytesWritten(): number {
    return this.writer.bytesWritten;
  }

  override _write(block: LocalBlock, _encoding: BufferEncoding, callback: Callback): void {
    let wait: Promise<void> | undefined;
    try {
      wait = this.writer.add(block.index, block.data);
    } catch (err) {
      callback(err as Error);
      return;
    }
    if (wait) wait.then(() => callback(), callback);
    else callback();
  }

  override _final(callback: Callback): void {
    this.writer.end().then(() => callback(), callback);
  }
}
