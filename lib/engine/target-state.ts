import type { BlockChecksums } from './block-checksums.js';
import { blocksToRanges } from './params.js';

/** A byte range of the target, [start, end). */
export interface ByteRange {
  start: number;
  end: number;
}

/** A block of which only some bytes have arrived (see RemotePatcherStream). */
export interface PartialBlock {
  /** The block's bytes so far, zero elsewhere: blockSize long. */
  data: Buffer;
  /** Sorted, disjoint [start, end) offsets within the block already received. */
  have: Array<[number, number]>;
}

/**
 * What a client has of the target: which blocks are present (matched from a seed
 * or received and verified) and the partly received ones. It outlives any one
 * stream, so several seeds can be matched into it in turn and several remote
 * patches can fill it bit by bit (pyzsync's "partial patches").
 */
export class TargetState {
  readonly checksums: BlockChecksums;
  /** 1 where the block is present. Read directly by the matcher's hot paths. */
  readonly present: Uint8Array;
  /** Blocks of which only some bytes have arrived, by index. */
  readonly partial = new Map<number, PartialBlock>();
  private missing: number;

  constructor(checksums: BlockChecksums) {
    this.checksums = checksums;
    this.present = new Uint8Array(checksums.blockCount);
    this.missing = checksums.blockCount;
  }

  get blockCount(): number {
    return this.checksums.blockCount;
  }

  get missingCount(): number {
    return this.missing;
  }

  /** True once every block is present. */
  get complete(): boolean {
    return this.missing === 0;
  }

  has(index: number): boolean {
    return this.present[index] === 1;
  }

  /** Marks a block present. Returns false if it already was. */
  add(index: number): boolean {
    if (this.present[index] === 1) return false;
    this.present[index] = 1;
    this.missing--;
    this.partial.delete(index);
    return true;
  }

  /** Indices of the blocks still missing, ascending. */
  missingBlocks(): number[] {
    const out: number[] = [];
    const p = this.present;
    for (let i = 0; i < p.length; i++) if (p[i] === 0) out.push(i);
    return out;
  }

  /**
   * The missing part of the target as merged byte ranges, ascending, the last
   * one cut at the file's length: what a transport must fetch.
   */
  missingRanges(): ByteRange[] {
    return blocksToRanges(this.checksums.params, this.missingBlocks());
  }

  /** Bytes of the target still missing. */
  missingBytes(): number {
    let n = 0;
    for (const r of this.missingRanges()) n += r.end - r.start;
    return n;
  }
}
