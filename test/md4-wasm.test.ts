/**
 * Our WebAssembly MD4 (lib/checksums/md4-wasm.ts) is zsync's strong checksum:
 * a wrong digest means control files that zsync rejects and blocks the matcher
 * never finds. So: RFC 1320's test vectors, agreement with hash-wasm's MD4 (the
 * implementation it replaced) on random messages of any length, the padding
 * boundaries, messages longer than the module's input area, and the SIMD
 * kernels (4 and 8 messages per pass) agreeing with the scalar one for every
 * block size, block count and alignment.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { createRequire } from 'node:module';
import type { createMD4 as CreateMD4, IHasher } from 'hash-wasm';
import { Md4, MD4_SIMD } from '../lib/checksums/md4-wasm.js';
import { md4Digest, strongHasher, STRONG_ALGORITHMS } from '../lib/checksums/strong.js';
import { prng, randomBytes } from './generators.js';
import { RFC1320_VECTORS } from './support/md4-vectors.js';

const { createMD4 } = createRequire(import.meta.url)('hash-wasm/dist/md4.umd.min.js') as { createMD4: typeof CreateMD4 };

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

describe('WebAssembly MD4', () => {
  const scalar = new Md4({ simd: false });
  const simd = new Md4();
  let reference: IHasher;

  before(async () => {
    reference = await createMD4();
  });

  /** hash-wasm's MD4 of data: the answer we must give. */
  function expected(data: Uint8Array): string {
    reference.init();
    reference.update(data);
    return reference.digest('hex');
  }

  function ours(md4: Md4, data: Uint8Array, start = 0, end = data.length): string {
    const out = new Uint8Array(16);
    md4.digestInto(data, out, 0, start, end);
    return hex(out);
  }

  describe('RFC 1320 test vectors (section A.5)', () => {
    const vectors = RFC1320_VECTORS;
    for (const [input, digest] of vectors) {
      const bytes = Buffer.from(input, 'latin1');
      it(`MD4("${input.length > 20 ? input.slice(0, 20) + '...' : input}") = ${digest}, from the scalar kernel, md4Digest and the 4-lane kernel`, () => {
        expect(ours(scalar, bytes)).to.equal(digest);
        expect(md4Digest(bytes).toString('hex')).to.equal(digest);
        const four = Buffer.concat([bytes, bytes, bytes, bytes]);
        const out = new Uint8Array(64);
        simd.digestBlocksInto(four, 0, bytes.length, 4, out, 0);
        expect(hex(out)).to.equal(digest.repeat(4));
      });
    }
  });

  it('pads correctly at every length around the 56- and 64-byte boundaries (one padding chunk or two)', () => {
    const rand = prng(56);
    for (const len of [54, 55, 56, 57, 63, 64, 65, 118, 119, 120, 121, 127, 128, 129]) {
      const data = randomBytes(rand, len);
      expect(ours(scalar, data), `length ${len}`).to.equal(expected(data));
      const out = new Uint8Array(64);
      simd.digestBlocksInto(Buffer.concat([data, data, data, data]), 0, len, 4, out, 0);
      expect(hex(out), `4 x length ${len}`).to.equal(expected(data).repeat(4));
    }
  });

  it('equals hash-wasm on random messages of 0 to 10000 bytes, taken from anywhere in a larger array', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 10000 }), fc.nat(100), fc.nat(100), fc.integer(), (len, before, after, seed) => {
        const data = randomBytes(prng(seed), before + len + after);
        const message = data.subarray(before, before + len);
        const want = expected(message);
        expect(ours(scalar, data, before, before + len)).to.equal(want);
        expect(ours(simd, message)).to.equal(want);
        expect(md4Digest(message).toString('hex')).to.equal(want);
      }),
      { numRuns: 300 },
    );
  });

  it('equals hash-wasm on messages longer than the 1 MiB input area (hashed through it in pieces)', () => {
    const rand = prng(1);
    for (const len of [(1 << 20) + 1, 3 * (1 << 20) + 77, 2 << 20]) {
      const data = randomBytes(rand, len);
      expect(ours(scalar, data), `length ${len}`).to.equal(expected(data));
    }
  });

  it('keeps no state between calls: the same message gives the same digest after others', () => {
    const a = ours(scalar, Buffer.from('abc'));
    ours(scalar, Buffer.alloc(5000, 7));
    simd.digestBlocksInto(Buffer.alloc(4096 * 5, 1), 0, 4096, 5, new Uint8Array(80), 0);
    expect(ours(scalar, Buffer.from('abc'))).to.equal(a);
    expect(ours(simd, Buffer.from('abc'))).to.equal(a);
  });

  describe('many blocks per call (digestBlocksInto)', () => {
    /** Each block's digest, one scalar call per block. */
    function oneByOne(data: Uint8Array, offset: number, size: number, count: number): string {
      let out = '';
      for (let i = 0; i < count; i++) out += ours(scalar, data, offset + i * size, offset + (i + 1) * size);
      return out;
    }

    function check(md4: Md4, size: number, count: number, offset: number, outOffset: number, seed: number): void {
      const data = randomBytes(prng(seed), offset + size * count + 13);
      const out = new Uint8Array(outOffset + 16 * count + 16).fill(0xa5);
      md4.digestBlocksInto(data, offset, size, count, out, outOffset);
      expect(hex(out.subarray(outOffset, outOffset + 16 * count)), `${count} blocks of ${size} at ${offset}`).to.equal(oneByOne(data, offset, size, count));
      // Nothing outside the digests is written.
      expect(out.subarray(0, outOffset).every((b) => b === 0xa5)).to.equal(true);
      expect(out.subarray(outOffset + 16 * count).every((b) => b === 0xa5)).to.equal(true);
    }

    it(`runs ${MD4_SIMD ? 'the SIMD kernels here (this runtime validates them)' : 'the scalar kernel only (this runtime refuses SIMD)'}`, () => {
      expect(simd.lanes).to.equal(MD4_SIMD ? 8 : 1);
      expect(scalar.lanes).to.equal(1);
    });

    it('equals one scalar digest per block, for block sizes 16 to 65536 (powers of two), 1 to 20 blocks, unaligned offsets', () => {
      fc.assert(
        fc.property(fc.integer({ min: 4, max: 16 }), fc.integer({ min: 1, max: 20 }), fc.nat(63), fc.nat(40), fc.integer(), (log, count, offset, outOffset, seed) => {
          check(simd, 2 ** log, count, offset, outOffset, seed);
        }),
        { numRuns: 150 },
      );
    });

    it('equals one scalar digest per block for odd block sizes 1 to 5000', () => {
      fc.assert(
        fc.property(fc.integer({ min: 1, max: 5000 }), fc.integer({ min: 1, max: 19 }), fc.nat(63), fc.integer(), (size, count, offset, seed) => {
          check(simd, size, count, offset, 0, seed);
        }),
        { numRuns: 150 },
      );
    });

    it('handles every remainder after passes of 8 and 4 (1 to 17 blocks of 2048)', () => {
      for (let count = 1; count <= 17; count++) check(simd, 2048, count, 3, 5, count);
    });

    it('hashes more blocks than fit the input area at once (batches), and blocks too big for a SIMD pass', () => {
      check(simd, 16, 5000, 1, 0, 16); // batches of at most 2048 digests
      check(simd, 4096, 600, 7, 0, 4096); // batches of 1 MiB of input
      check(simd, 256 << 10, 3, 0, 0, 256); // 8 x 256 KiB > 1 MiB: one at a time
      check(simd, 3 << 20, 2, 5, 0, 3); // longer than the input area itself
    });

    it('without SIMD gives the same digests', () => {
      check(scalar, 4096, 9, 1, 0, 9);
      check(scalar, 1000, 3, 0, 0, 3);
    });
  });

  describe('StrongHasher.digestBlocks', () => {
    for (const algorithm of STRONG_ALGORITHMS) {
      it(`${algorithm}: equals digest() of each block`, () => {
        const hasher = strongHasher(algorithm);
        const data = randomBytes(prng(7), 5 + 11 * 512);
        const out = new Uint8Array(11 * hasher.digestBytes + 3);
        hasher.digestBlocks(data, 5, 512, 11, out, 3);
        for (let i = 0; i < 11; i++) {
          const one = hasher.digest(data.subarray(5 + i * 512, 5 + (i + 1) * 512));
          expect(hex(out.subarray(3 + i * hasher.digestBytes, 3 + (i + 1) * hasher.digestBytes)), `block ${i}`).to.equal(hex(one));
        }
      });
    }

    it('MD4 hashes 8 blocks per pass where SIMD runs; MD5 and SHA-224 one', () => {
      expect(strongHasher('MD4').lanes).to.equal(MD4_SIMD ? 8 : 1);
      expect(strongHasher('MD5').lanes).to.equal(1);
      expect(strongHasher('SHA-224').lanes).to.equal(1);
    });
  });
});
