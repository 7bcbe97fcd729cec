import { Readable } from 'readable-stream';
import { OutOfRangeError, TruncatedInputError } from '../errors.js';
import { blocksToRanges, type ChecksumParams } from './params.js';
import { readFully, type PositionalReader } from './positional.js';
import type { RemoteChunk } from './block-assembler.js';
import type { ByteRange } from './target-state.js';

export interface BlockReaderOptions {
  /** Block indices to read (merged into ranges), or give `ranges`. */
  blocks?: readonly number[];
  /** Byte ranges [start, end) of the file to read. */
  ranges?: readonly ByteRange[];
  /** Largest chunk emitted. Default 1 MiB. */
  chunkSize?: number;
}

export const DEFAULT_READ_CHUNK = 1 << 20;

/**
 * pyzsync's get_blocks: reads the given blocks or byte ranges of the new file
 * through a positional reader and emits `{ offset, data }` chunks, what a
 * RemotePatcherStream takes. For servers and tests.
 */
export class BlockReader extends Readable {
  private readonly reader: PositionalReader;
  private readonly ranges: ByteRange[];
  private readonly chunkSize: number;
  private rangeIndex = 0;
  private position: number;

  constructor(reader: PositionalReader, params: Pick<ChecksumParams, 'blockSize' | 'length'>, options: BlockReaderOptions) {
    super({ objectMode: true, highWaterMark: 4 });
    this.reader = reader;
    this.chunkSize = options.chunkSize ?? DEFAULT_READ_CHUNK;
    this.ranges = options.ranges ? options.ranges.map((r) => ({ ...r })) : blocksToRanges(params, options.blocks ?? []);
    for (const r of this.ranges) {
      if (!(Number.isSafeInteger(r.start) && Number.isSafeInteger(r.end) && r.start >= 0 && r.start <= r.end && r.end <= params.length)) {
        throw new OutOfRangeError(`range ${r.start}-${r.end} is not inside the file (length ${params.length})`);
      }
    }
    this.position = this.ranges[0]?.start ?? 0;
  }

  override _read(): void {
    this.readNext().then(
      (chunk) => this.push(chunk),
      (err: Error) => this.destroy(err),
    );
  }

  private async readNext(): Promise<RemoteChunk | null> {
    let range = this.ranges[this.rangeIndex];
    while (range && this.position >= range.end) {
      range = this.ranges[++this.rangeIndex];
      if (range) this.position = range.start;
    }
    if (!range) return null;
    const n = Math.min(this.chunkSize, range.end - this.position);
    const data = Buffer.allocUnsafe(n);
    const got = await readFully(this.reader, data, 0, n, this.position);
    if (got < n) throw new TruncatedInputError(`file ended at ${this.position + got}, expected data up to ${range.end}`);
    const chunk = { offset: this.position, data };
    this.position += n;
    return chunk;
  }
}

