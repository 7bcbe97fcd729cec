import { createHash } from 'node:crypto';
import { InvalidArgumentError } from '../errors.js';
import { Md4 } from './md4-wasm.js';

/** Strong (per-block) checksum algorithms found in control files of any generation. */
export type StrongAlgorithm = 'MD4' | 'MD5' | 'SHA-224';

export const STRONG_ALGORITHMS: readonly StrongAlgorithm[] = ['MD4', 'MD5', 'SHA-224'];

/** Digest length in bytes of each strong algorithm: the most a control file may store. */
export const STRONG_DIGEST_BYTES: Readonly<Record<StrongAlgorithm, number>> = {
  'MD4': 16,
  'MD5': 16,
  'SHA-224': 28,
};

/** Hashes blocks synchronously: one at a time, or several of one size at once. */
export interface StrongHasher {
  readonly algorithm: StrongAlgorithm;
  readonly digestBytes: number;
  /**
   * How many blocks digestBlocks() hashes per pass, at the lowest price per
   * block: 8 for MD4 where the runtime has WebAssembly SIMD (4 cost about as
   * much as 3 one at a time, 8 about as much as 4), else 1. A caller that can
   * guess which blocks it will need next hashes up to this many at once.
   */
  readonly lanes: number;
  /** Digest of `data` (a whole, already padded block), in a new array each call. */
  digest(data: Uint8Array): Uint8Array;
  /**
   * Digests of `count` blocks of `blockSize` bytes lying back to back in `data`
   * from `offset`, written back to back (digestBytes each) into `out` from
   * `outOffset`. No allocation per block: the call for whole blocks.
   */
  digestBlocks(data: Uint8Array, offset: number, blockSize: number, count: number, out: Uint8Array, outOffset: number): void;
}

// Node 20's OpenSSL 3 refuses md4 without the legacy provider, so MD4 is our own
// WebAssembly (md4-wasm.ts): synchronous to set up, and several blocks per pass.
// One instance per thread: JS is single threaded and each call runs to
// completion, so sharing it is safe.
const md4 = new Md4();

class Md4Hasher implements StrongHasher {
  readonly algorithm = 'MD4';
  readonly digestBytes = 16;
  readonly lanes = md4.lanes;
  digest(data: Uint8Array): Uint8Array {
    const out = new Uint8Array(16);
    md4.digestInto(data, out);
    return out;
  }
  digestBlocks(data: Uint8Array, offset: number, blockSize: number, count: number, out: Uint8Array, outOffset: number): void {
    md4.digestBlocksInto(data, offset, blockSize, count, out, outOffset);
  }
}

class NodeHasher implements StrongHasher {
  readonly digestBytes: number;
  private readonly nodeName: string;
  constructor(readonly algorithm: StrongAlgorithm) {
    this.nodeName = algorithm === 'MD5' ? 'md5' : 'sha224';
    this.digestBytes = STRONG_DIGEST_BYTES[algorithm];
  }
  readonly lanes = 1;
  digest(data: Uint8Array): Uint8Array {
    return createHash(this.nodeName).update(data).digest();
  }
  digestBlocks(data: Uint8Array, offset: number, blockSize: number, count: number, out: Uint8Array, outOffset: number): void {
    for (let i = 0; i < count; i++) {
      const at = offset + i * blockSize;
      out.set(createHash(this.nodeName).update(data.subarray(at, at + blockSize)).digest(), outOffset + i * this.digestBytes);
    }
  }
}

const MD4_HASHER = new Md4Hasher();

export function strongHasher(algorithm: StrongAlgorithm = 'MD4'): StrongHasher {
  switch (algorithm) {
    case 'MD4': return MD4_HASHER;
    case 'MD5':
    case 'SHA-224': return new NodeHasher(algorithm);
    default: throw new InvalidArgumentError(`unknown strong checksum algorithm ${String(algorithm)}`);
  }
}

/** MD4 of arbitrary data, for tests and tools. */
export function md4Digest(data: Uint8Array): Buffer {
  const out = Buffer.alloc(16);
  md4.digestInto(data, out);
  return out;
}
