import { weakMask } from '../checksums/rsum.js';
import { InvalidArgumentError } from '../errors.js';
import { blockCountOf, validateParams, type ChecksumParams } from './params.js';

/** Whole-file digests, lowercase hex, as a control file's `SHA-1:` / `File-Hash:` give them. */
export interface FileHashes {
  sha1?: string;
  sha256?: string;
}

/**
 * The checksums of every block of a target file, truncated as its control file
 * stores them: what a client knows of the file before it has any of it.
 * Memory: 4 + strongBytes bytes per block.
 */
export class BlockChecksums {
  readonly params: ChecksumParams;
  readonly blockCount: number;
  /** Per block: the stored part of the packed rsum, masked, as int32. */
  readonly weak: Int32Array;
  /** Per block: the first `strongBytes` of the strong digest, back to back. */
  readonly strong: Uint8Array;
  readonly fileHashes: FileHashes;

  constructor(params: ChecksumParams, weak: Int32Array, strong: Uint8Array, fileHashes: FileHashes = {}) {
    validateParams(params);
    const blockCount = blockCountOf(params);
    if (weak.length !== blockCount || strong.length !== blockCount * params.strongBytes) {
      throw new InvalidArgumentError(`expected checksums for ${blockCount} blocks, got ${weak.length} weak and ${strong.length / params.strongBytes} strong`);
    }
    // Masked in place: the arrays are taken over, not copied (a control file's
    // checksums can be a few hundred MB). Written only where the mask changes
    // something: sums in shared memory, already masked, are read meanwhile by
    // another thread (split-scan.ts), which must see them unchanged.
    const mask = weakMask(params.weakBytes);
    for (let i = 0; i < weak.length; i++) {
      const masked = weak[i]! & mask;
      if (masked !== weak[i]) weak[i] = masked;
    }
    this.params = params;
    this.blockCount = blockCount;
    this.weak = weak;
    this.strong = strong;
    this.fileHashes = fileHashes;
  }

  /** True when the first strongBytes of the digest at `digest[at]` equal block `index`'s stored strong sum. */
  strongEquals(index: number, digest: Uint8Array, at = 0): boolean {
    const n = this.params.strongBytes;
    const s = this.strong;
    const base = index * n;
    for (let i = 0; i < n; i++) if (s[base + i] !== digest[at + i]) return false;
    return true;
  }
}
