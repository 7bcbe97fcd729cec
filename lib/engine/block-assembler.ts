import { strongHasher, type StrongHasher } from '../checksums/strong.js';
import { BlockChecksumError, LimitExceededError, OutOfRangeError } from '../errors.js';
import type { PartialBlock, TargetState } from './target-state.js';

/** Bytes of the target at a given offset, as a transport delivers them. */
export interface RemoteChunk {
  offset: number;
  data: Uint8Array;
}

/**
 * Where a transport hands the chunks it receives. `data` is the transport's
 * (often a view of a buffer it reuses): it is valid until the call returns,
 * or until the returned promise settles, which also holds the transport back
 * (backpressure). Returning nothing says the chunk is done with: a
 * synchronous consumer costs no promise per chunk.
 */
export type ChunkSink = (chunk: RemoteChunk) => Promise<void> | void;

/** A verified run of whole blocks, ready to be written at `position`. */
export interface AssembledRun {
  position: number;
  data: Uint8Array;
  /** The blocks it completes, ascending. */
  blocks: number[];
}

export interface AssemblerOptions {
  /** Check each block's strong checksum before accepting it (pyzsync's check_hashes). Default true. */
  verify?: boolean;
  /** Bound on the bytes held for blocks that have arrived only in part. Default 64 MiB. */
  maxPartialBytes?: number;
}

export const DEFAULT_MAX_PARTIAL_BYTES = 64 << 20;

/** Whole blocks of a chunk hashed in one call at most. */
const BATCH_BLOCKS = 64;

/**
 * Turns chunks of target data, of any size, in any order, into verified whole
 * blocks: the logic under RemotePatcherStream and patchRemoteBlocksSync. Blocks
 * wholly inside a chunk are checked in place; a block split across chunks waits
 * in `state.partial` (which outlives the assembler) until all of it is here.
 * Nothing is marked present here: the caller does that once the write is done.
 */
export class BlockAssembler {
  readonly state: TargetState;
  private readonly verify: boolean;
  private readonly maxPartialBytes: number;
  private readonly hasher: StrongHasher;
  private readonly padded: Buffer;
  /**
   * Digests of the whole blocks of the chunk being accepted, hashed several
   * per pass (8 with SIMD MD4, 2.2x a block at a time): blocks batchFirst,
   * batchFirst + 1, ... batchFirst + batchCount - 1, digestBytes apart.
   */
  private readonly batch: Uint8Array;
  private batchFirst = -1;
  private batchCount = 0;

  constructor(state: TargetState, options: AssemblerOptions = {}) {
    this.state = state;
    this.verify = options.verify ?? true;
    this.maxPartialBytes = options.maxPartialBytes ?? DEFAULT_MAX_PARTIAL_BYTES;
    this.hasher = strongHasher(state.checksums.params.strongAlgorithm);
    this.padded = Buffer.alloc(state.checksums.params.blockSize);
    this.batch = new Uint8Array(BATCH_BLOCKS * this.hasher.digestBytes);
  }

  /**
   * Takes one chunk. Returns the runs of blocks it completes and the blocks whose
   * data proved bad (those are dropped, and stay missing).
   */
  accept(chunk: RemoteChunk): { runs: AssembledRun[]; bad: BlockChecksumError[] } {
    const runs: AssembledRun[] = [];
    const bad: BlockChecksumError[] = [];
    this.acceptRuns(
      chunk,
      (position, data, first, count) => {
        const blocks: number[] = [];
        for (let k = 0; k < count; k++) blocks.push(first + k);
        runs.push({ position, data, blocks });
      },
      (err) => bad.push(err),
    );
    return { runs, bad };
  }

  /**
   * accept(), each run handed to `onRun` as it is complete (its blocks are
   * first .. first + count - 1), in file order, and each bad block to
   * `onBad`: no object or array per run or per chunk. A run's `data` is a
   * view of the chunk's, or of a buffer of the assembler's for a block put
   * together from parts: valid until `onRun` returns (copy what you keep). A sync's fetch goes through here, a chunk at a
   * time; at 1 GiB the objects of accept() were a seventh of all it allocated.
   */
  acceptRuns(chunk: RemoteChunk, onRun: (position: number, data: Uint8Array, first: number, count: number) => void, onBad: (err: BlockChecksumError) => void): void {
    const { params } = this.state.checksums;
    const { blockSize: bs, length } = params;
    const { offset, data } = chunk;
    if (!Number.isSafeInteger(offset) || offset < 0 || (data.length > 0 && offset >= length)) {
      throw new OutOfRangeError(`data at offset ${offset} lies outside the target (length ${length})`);
    }
    if (data.length === 0) return;
    // Bytes past the end of the target cannot belong to it.
    const end = Math.min(offset + data.length, length);
    // The run of whole blocks being gathered, as a stretch of `data`: blocks
    // runFirst .. runFirst + runCount - 1, from runStart to runEnd.
    let runFirst = -1;
    let runCount = 0;
    let runStart = 0;
    let runEnd = 0;
    this.batchCount = 0; // digests of an earlier chunk's bytes
    const { present, partial } = this.state;
    /** Hands the run gathered so far to `onRun`, if there is one, and starts none. */
    const flush = (): void => {
      if (runCount > 0) onRun(runStart, data.subarray(runStart - offset, runEnd - offset), runFirst, runCount);
      runCount = 0;
    };

    for (let i = Math.floor(offset / bs); i * bs < end; i++) {
      const start = i * bs;
      const stop = Math.min(start + bs, length);
      if (present[i] === 1) {
        flush();
        continue;
      }
      const from = Math.max(offset, start);
      const to = Math.min(end, stop);
      const whole = from === start && to === stop && !partial.has(i);
      let good: boolean;
      let partData: Uint8Array | undefined;
      if (whole) {
        good = !this.verify || (to - from === bs ? this.checksWhole(i, data, from - offset, Math.floor((end - start) / bs)) : this.checks(i, data.subarray(from - offset, to - offset)));
      } else {
        const part = this.addPart(i, from - start, data.subarray(from - offset, to - offset));
        if (!covers(part, stop - start)) {
          flush();
          continue;
        }
        partial.delete(i);
        partData = part.data.subarray(0, stop - start);
        good = !this.verify || this.checks(i, partData);
      }
      if (!good) {
        // The good run before it first: consumers see blocks in file order.
        flush();
        onBad(new BlockChecksumError(i, start));
        continue;
      }
      if (whole && runCount > 0 && runEnd === start) {
        // The run goes on: still a stretch of the caller's chunk.
        runEnd = stop;
        runCount++;
        continue;
      }
      flush();
      if (whole) {
        runFirst = i;
        runCount = 1;
        runStart = start;
        runEnd = stop;
      } else {
        // A block put together from parts is a run of its own, of its own buffer.
        onRun(start, partData!, i, 1);
      }
    }
    flush();
  }

  /** Bytes currently held for partly received blocks. */
  get partialBytes(): number {
    return this.state.partial.size * this.state.checksums.params.blockSize;
  }

  private checks(index: number, blockData: Uint8Array): boolean {
    let input = blockData;
    if (blockData.length < this.padded.length) {
      // The short last block is checksummed zero padded, as zsyncmake does.
      this.padded.fill(0);
      this.padded.set(blockData, 0);
      input = this.padded;
    }
    return this.state.checksums.strongEquals(index, this.hasher.digest(input));
  }

  /**
   * checks() of full-size block `index`, lying whole in `data` at `at`, with
   * `ahead` full-size blocks from it lying whole in `data` too: their digests
   * are computed together on the first call and looked up by the calls after.
   */
  private checksWhole(index: number, data: Uint8Array, at: number, ahead: number): boolean {
    const db = this.hasher.digestBytes;
    let k = index - this.batchFirst;
    if (k < 0 || k >= this.batchCount) {
      // Up to the next block that needs no digest here (present already, or arriving in parts).
      const limit = Math.min(ahead, BATCH_BLOCKS);
      let count = 1;
      while (count < limit && !this.state.has(index + count) && !this.state.partial.has(index + count)) count++;
      this.hasher.digestBlocks(data, at, this.state.checksums.params.blockSize, count, this.batch, 0);
      this.batchFirst = index;
      this.batchCount = count;
      k = 0;
    }
    return this.state.checksums.strongEquals(index, this.batch, k * db);
  }

  private addPart(index: number, at: number, bytes: Uint8Array): PartialBlock {
    let part = this.state.partial.get(index);
    if (!part) {
      if (this.partialBytes + this.state.checksums.params.blockSize > this.maxPartialBytes) {
        throw new LimitExceededError('maxPartialBytes', `more than ${this.maxPartialBytes} bytes of partly received blocks`);
      }
      part = { data: Buffer.alloc(this.state.checksums.params.blockSize), have: [] };
      this.state.partial.set(index, part);
    }
    part.data.set(bytes, at);
    addInterval(part.have, at, at + bytes.length);
    return part;
  }
}

/** Adds [s, e) to a sorted list of disjoint intervals, merging what touches. */
function addInterval(list: Array<[number, number]>, s: number, e: number): void {
  if (e <= s) return;
  const out: Array<[number, number]> = [];
  let placed = false;
  for (const [a, b] of list) {
    if (b < s) out.push([a, b]);
    else if (e < a) {
      if (!placed) out.push([s, e]);
      placed = true;
      out.push([a, b]);
    } else {
      s = Math.min(s, a);
      e = Math.max(e, b);
    }
  }
  if (!placed) out.push([s, e]);
  out.sort((p, q) => p[0] - q[0]);
  list.length = 0;
  list.push(...out);
}

function covers(part: PartialBlock, size: number): boolean {
  const first = part.have[0];
  return part.have.length === 1 && first !== undefined && first[0] === 0 && first[1] >= size;
}
