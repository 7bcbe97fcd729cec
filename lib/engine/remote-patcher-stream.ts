import { Writable } from 'readable-stream';
import { BlockAssembler, type AssemblerOptions, type RemoteChunk } from './block-assembler.js';
import { writeFully, type PositionalWriter } from './positional.js';
import type { TargetState } from './target-state.js';

export interface RemotePatcherOptions extends AssemblerOptions {
  /**
   * What to do with a block whose data fails its checksum: 'error' (default)
   * fails the stream with a BlockChecksumError; 'skip' emits 'bad-block' with
   * that error and goes on, leaving the block missing. Either way it is never written.
   */
  onBadBlock?: 'error' | 'skip';
  /** Chunks buffered before backpressure. Default 16. */
  highWaterMark?: number;
}

/**
 * The missing data in, as `{ offset, data }` chunks of any size and in any order
 * (a chunk may hold several blocks or part of one); whole blocks are verified
 * and written through the positional writer, and marked present in `state`.
 * The state outlives the stream: a later RemotePatcherStream on the same state
 * continues where this one stopped, partly received blocks included.
 */
export class RemotePatcherStream extends Writable {
  readonly state: TargetState;
  /** Bytes of verified blocks written. */
  bytesWritten = 0;
  /** Blocks refused for a bad checksum. */
  badBlocks = 0;
  private readonly assembler: BlockAssembler;
  private readonly output: PositionalWriter;
  private readonly onBadBlock: 'error' | 'skip';

  constructor(state: TargetState, output: PositionalWriter, options: RemotePatcherOptions = {}) {
    super({ objectMode: true, highWaterMark: options.highWaterMark ?? 16 });
    this.state = state;
    this.output = output;
    this.onBadBlock = options.onBadBlock ?? 'error';
    this.assembler = new BlockAssembler(state, options);
  }

  override _write(chunk: RemoteChunk, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.patch(chunk).then(() => callback(), callback);
  }

  private async patch(chunk: RemoteChunk): Promise<void> {
    const { runs, bad } = this.assembler.accept(chunk);
    // Good blocks are written even when a neighbour was bad: nothing fetched is wasted.
    for (const run of runs) {
      await writeFully(this.output, run.data, run.position);
      this.bytesWritten += run.data.length;
      for (const b of run.blocks) this.state.add(b);
    }
    for (const err of bad) {
      this.badBlocks++;
      if (this.onBadBlock === 'error') throw err;
      this.emit('bad-block', err);
    }
  }
}
