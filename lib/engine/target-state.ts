import type { BlockChecksums } from './block-checksums.js';
import { unpackRanges, type PackedRanges } from './packed-ranges.js';
import { blockBytes } from './params.js';

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
    return unpackRanges(this.missingPacked()) as ByteRange[];
  }

  /** missingRanges(), packed (see PackedRanges): what a sync's fetch starts with. */
  missingPacked(): PackedRanges {
    // Two passes over `present`, counting the runs and then writing them:
    // no list of block numbers or of objects between.
    const { blockSize, length } = this.checksums.params;
    const p = this.present;
    let runs = 0;
    for (let i = 0; i < p.length; i++) if (p[i] === 0 && (i === 0 || p[i - 1] !== 0)) runs++;
    const out = new Float64Array(2 * runs);
    let n = 0;
    for (let i = 0; i < p.length; i++) {
      if (p[i] !== 0) continue;
      let j = i + 1;
      while (j < p.length && p[j] === 0) j++;
      out[n++] = i * blockSize;
      out[n++] = Math.min(j * blockSize, length);
      i = j;
    }
    return out;
  }

  /** Bytes of the target still missing. */
  missingBytes(): number {
    const p = this.present;
    let n = 0;
    for (let i = 0; i < p.length; i++) if (p[i] === 0) n += blockBytes(this.checksums.params, i);
    return n;
  }
}
