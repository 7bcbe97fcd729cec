import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import type { createMD4 as CreateMD4, IHasher } from 'hash-wasm';
import { InvalidArgumentError } from '../errors.js';

/** Strong (per-block) checksum algorithms found in control files of any generation. */
export type StrongAlgorithm = 'MD4' | 'MD5' | 'SHA-224';

export const STRONG_ALGORITHMS: readonly StrongAlgorithm[] = ['MD4', 'MD5', 'SHA-224'];

/** Digest length in bytes of each strong algorithm: the most a control file may store. */
export const STRONG_DIGEST_BYTES: Readonly<Record<StrongAlgorithm, number>> = {
  'MD4': 16,
  'MD5': 16,
  'SHA-224': 28,
};

/** Hashes one block at a time, synchronously. */
export interface StrongHasher {
  readonly algorithm: StrongAlgorithm;
  readonly digestBytes: number;
  /**
   * Digest of `data` (a whole, already padded block), in a new array each call:
   * the matcher keeps one window's digest while it computes the next one's.
   */
  digest(data: Uint8Array): Uint8Array;
}

// Node 20's OpenSSL 3 refuses md4 without the legacy provider, so MD4 comes from
// hash-wasm (about 650 MB/s per 2 KiB block here). Instantiating its WebAssembly
// is asynchronous; doing it once at load lets every later hash be synchronous.
// Its MD4-only bundle: the package's index (every algorithm's WebAssembly, as
// base64) took 35-60 ms to load and 35-48 ms more to create an MD4, against
// 2-4 ms and 3-4 ms, on every start of the CLI.
const { createMD4 } = createRequire(import.meta.url)('hash-wasm/dist/md4.umd.min.js') as { createMD4: typeof CreateMD4 };
const md4: IHasher = await createMD4();

class Md4Hasher implements StrongHasher {
  readonly algorithm = 'MD4';
  readonly digestBytes = 16;
  digest(data: Uint8Array): Uint8Array {
    // hash-wasm keeps one state per instance; JS is single threaded and digest()
    // runs to completion, so sharing the instance is safe.
    md4.init();
    md4.update(data);
    return md4.digest('binary');
  }
}

class NodeHasher implements StrongHasher {
  readonly digestBytes: number;
  private readonly nodeName: string;
  constructor(readonly algorithm: StrongAlgorithm) {
    this.nodeName = algorithm === 'MD5' ? 'md5' : 'sha224';
    this.digestBytes = STRONG_DIGEST_BYTES[algorithm];
  }
  digest(data: Uint8Array): Uint8Array {
    return createHash(this.nodeName).update(data).digest();
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
  return Buffer.from(MD4_HASHER.digest(data));
}
