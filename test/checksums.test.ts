/**
 * Known answers for the two checksums every control file is built from (rsum
 * and MD4), the rolling update the matcher relies on, and ChecksumStream's
 * promise that its output does not depend on how its input is chunked. If
 * these regress, our control files stop matching zsyncmake's, or the matcher
 * misses blocks whose window was reached by rolling instead of recomputing.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { createHash } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
import { rsumBlock, rsumRoll, rsumScalar, weakMask } from '../lib/checksums/rsum.js';
import { RSUM_SIMD, rsumSimd } from '../lib/checksums/rsum-wasm.js';
import { md4Digest, strongHasher } from '../lib/checksums/strong.js';
import { ChecksumStream } from '../lib/engine/checksum-stream.js';
import type { ChecksumRecord } from '../lib/engine/checksummer.js';
import { chunksOf, makeFile, prng, randomBytes, randomChunks, between } from './generators.js';
import { RFC1320_VECTORS } from './support/md4-vectors.js';

/** rsum straight from zsync-format's definition, with unbounded integers. */
function rsumByDefinition(block: Uint8Array, L: number): number {
  let a = 0n;
  let b = 0n;
  for (let i = 0; i < L; i++) {
    const c = BigInt(block[i] ?? 0); // zero padded
    a += c;
    b += BigInt(L - i) * c;
  }
  return Number(((a % 65536n) << 16n) | (b % 65536n));
}

describe('rsum (zsync\'s weak checksum)', () => {
  it('of 1,2,3,4 in a 4-byte block is a = 10, b = 4*1 + 3*2 + 2*3 + 1*4 = 20', () => {
    expect(rsumBlock(Uint8Array.of(1, 2, 3, 4), 0, 4)).to.equal(0x000a0014);
  });

  it('of "abc" in a 16-byte block counts the zero padding: a = 294, b = 16*97 + 15*98 + 14*99 = 4408', () => {
    expect(rsumBlock(Buffer.from('abc'), 0, 16)).to.equal(0x01261138);
  });

  it('of 1,2 padded to 4 bytes is a = 3, b = 4*1 + 3*2 = 10', () => {
    expect(rsumBlock(Uint8Array.of(1, 2), 0, 4)).to.equal(0x0003000a);
    expect(rsumBlock(Uint8Array.of(9, 9, 1, 2), 2, 4)).to.equal(0x0003000a);
  });

  it('wraps at 16 bits, with no Adler-32 modulus: 300 bytes of 0xff give a = 76500 mod 2^16, b = 255*45150 mod 2^16', () => {
    expect(rsumBlock(Buffer.alloc(300, 0xff), 0, 300)).to.equal(0x2ad4ada2);
  });

  it('wraps correctly over a block longer than 64 KiB (70000 bytes of 0xff)', () => {
    expect(rsumBlock(Buffer.alloc(70000, 0xff), 0, 70000)).to.equal(0x5e90a6c8);
  });

  it('of an all-zero block, and of an empty one, is 0', () => {
    expect(rsumBlock(Buffer.alloc(2048), 0, 2048)).to.equal(0);
    expect(rsumBlock(Buffer.alloc(0), 0, 2048)).to.equal(0);
  });

  it('equals the definition on random blocks of 16 to 4096 bytes, at any start, padded past the end', () => {
    fc.assert(
      fc.property(fc.integer({ min: 4, max: 12 }), fc.integer(), fc.nat(), (log, seed, startSeed) => {
        const L = 2 ** log;
        const rand = prng(seed);
        const data = randomBytes(rand, between(rand, 1, 3 * L));
        const start = startSeed % data.length;
        const expected = rsumByDefinition(data.subarray(start, start + L), L);
        expect(rsumBlock(data, start, L)).to.equal(expected);
      }),
      { numRuns: 200 },
    );
  });

  it(`in SIMD${RSUM_SIMD ? '' : ' (not on this runtime)'} and in plain JavaScript equals the definition on random blocks of 1 to 70000 bytes (several 64 KiB pieces), at any start, padded past the end`, function () {
    if (!RSUM_SIMD) this.skip();
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 70000 }), fc.integer(), fc.nat(), fc.nat(200), (L, seed, startSeed, short) => {
        const rand = prng(seed);
        // Sometimes the data ends inside the block: the rest is zero padding.
        const data = randomBytes(rand, Math.max(1, L + 100 - short));
        const start = startSeed % data.length;
        const expected = rsumByDefinition(data.subarray(start, start + L), L);
        expect(rsumSimd(data, start, L), 'SIMD').to.equal(expected);
        expect(rsumScalar(data, start, L), 'JavaScript').to.equal(expected);
      }),
      { numRuns: 200 },
    );
  });

  for (const L of [16, 64, 256, 2048, 4096]) {
    it(`rolled one byte at a time equals recomputed, at every offset of a random buffer (block ${L}), into the zero-padded end`, () => {
      const rand = prng(L);
      const data = randomBytes(rand, 5 * L + 7);
      const shift = Math.log2(L);
      const padded = Buffer.concat([data, Buffer.alloc(L)]);
      let rolled = rsumBlock(data, 0, L);
      let mismatches = 0;
      for (let x = 0; x < data.length; x++) {
        if (rolled !== rsumBlock(data, x, L)) mismatches++;
        rolled = rsumRoll(rolled, padded[x]!, padded[x + L]!, shift);
      }
      expect(mismatches).to.equal(0);
      expect(rolled).to.equal(rsumBlock(data, data.length, L)); // the all-padding window: 0
      expect(rolled).to.equal(0);
    });
  }

  it('weakMask keeps the last weakBytes of the 4 big-endian bytes (2 keep all of b, 3 add the low byte of a)', () => {
    const packed = 0x12345678;
    expect(packed & weakMask(1)).to.equal(0x78);
    expect(packed & weakMask(2)).to.equal(0x5678);
    expect(packed & weakMask(3)).to.equal(0x345678);
    expect((packed & weakMask(4)) >>> 0).to.equal(0x12345678);
  });
});

describe('MD4 (the strong checksum), RFC 1320 test vectors', () => {
  const vectors = RFC1320_VECTORS;
  for (const [input, hex] of vectors) {
    it(`MD4("${input.length > 20 ? input.slice(0, 20) + '...' : input}") = ${hex}`, () => {
      expect(md4Digest(Buffer.from(input, 'latin1')).toString('hex')).to.equal(hex);
      expect(Buffer.from(strongHasher('MD4').digest(Buffer.from(input, 'latin1'))).toString('hex')).to.equal(hex);
    });
  }

  it('gives each input its own digest when called repeatedly (no state leaks between blocks)', () => {
    const a = md4Digest(Buffer.from('abc')).toString('hex');
    md4Digest(Buffer.alloc(5000, 7));
    expect(md4Digest(Buffer.from('abc')).toString('hex')).to.equal(a);
  });
});

describe('ChecksumStream', function () {
  this.timeout(120_000);

  async function records(chunks: readonly Uint8Array[], blockSize: number, sha256 = false): Promise<ChecksumRecord[]> {
    const out: ChecksumRecord[] = [];
    await pipeline(
      chunksOf(chunks),
      new ChecksumStream({ blockSize, sha256 }),
      new Writable({ objectMode: true, write(r: ChecksumRecord, _e, cb) { out.push(r); cb(); } }),
    );
    return out;
  }

  /** What the records must be, block by block from the definition: padded block, rsum, MD4. */
  function expectedRecords(file: Buffer, blockSize: number): unknown[] {
    const out: unknown[] = [];
    for (let i = 0; i * blockSize < file.length; i++) {
      const block = Buffer.alloc(blockSize);
      file.copy(block, 0, i * blockSize, (i + 1) * blockSize);
      out.push({ kind: 'block', index: i, weak: rsumByDefinition(block, blockSize) >>> 0, strong: md4Digest(block).toString('hex') });
    }
    return out;
  }

  const hexStrong = (rs: ChecksumRecord[]): unknown[] =>
    rs.map((r) => (r.kind === 'block' ? { ...r, strong: Buffer.from(r.strong).toString('hex') } : r));

  it('emits the same records however the input is chunked (whole, random slices, one byte at a time), and they follow the definition', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          { weight: 12, arbitrary: fc.record({ blockSize: fc.constantFrom(16, 32, 64, 128, 256), blocks: fc.integer({ min: 64, max: 200 }) }) },
          { weight: 1, arbitrary: fc.record({ blockSize: fc.constantFrom(2048, 4096), blocks: fc.integer({ min: 64, max: 80 }) }) },
        ),
        fc.nat(4095),
        fc.integer(),
        fc.constantFrom<'mixed' | 'random' | 'zeros'>('mixed', 'random', 'zeros'),
        async ({ blockSize, blocks }, tail, seed, style) => {
          const file = makeFile(seed, blocks * blockSize + (tail % blockSize), blockSize, style);
          const rand = prng(seed);
          const whole = hexStrong(await records([file], blockSize, true));
          const sliced = hexStrong(await records(randomChunks(file, rand, between(rand, 1, 3 * blockSize)), blockSize, true));
          expect(sliced).to.deep.equal(whole);
          if (file.length <= 8192) {
            expect(hexStrong(await records(randomChunks(file, rand, 1), blockSize, true))).to.deep.equal(whole);
          }
          const blockCount = Math.ceil(file.length / blockSize);
          expect(whole.slice(0, -1)).to.deep.equal(expectedRecords(file, blockSize));
          expect(whole[whole.length - 1]).to.deep.equal({
            kind: 'summary',
            length: file.length,
            blockCount,
            blockSize,
            strongAlgorithm: 'MD4',
            sha1: createHash('sha1').update(file).digest('hex'),
            sha256: createHash('sha256').update(file).digest('hex'),
          });
        },
      ),
      { numRuns: 100 },
    );
  });

  it('does not keep references to the caller\'s chunks: reusing a chunk buffer after writing it changes nothing', async () => {
    const file = makeFile(7, 50 * 16 + 5, 16, 'random');
    const expected = hexStrong(await records([file], 16));
    const out: ChecksumRecord[] = [];
    const stream = new ChecksumStream({ blockSize: 16 });
    stream.on('data', (r: ChecksumRecord) => out.push(r));
    const scratch = Buffer.alloc(7);
    for (let o = 0; o < file.length; o += 7) {
      const n = file.copy(scratch, 0, o, o + 7);
      await new Promise<void>((resolve, reject) => stream.write(scratch.subarray(0, n), (err) => (err ? reject(err) : resolve())));
      scratch.fill(0xaa); // the stream must have copied what it keeps
    }
    await new Promise<void>((resolve) => stream.end(resolve));
    expect(hexStrong(out)).to.deep.equal(expected);
  });

  it('of an empty file emits only a summary: length 0, no blocks, the SHA-1 of nothing', async () => {
    const rs = await records([], 2048);
    expect(rs).to.deep.equal([{ kind: 'summary', length: 0, blockCount: 0, blockSize: 2048, strongAlgorithm: 'MD4', sha1: 'da39a3ee5e6b4b0d3255bfef95601890afd80709' }]);
  });

  it('refuses a block size that is not a power of two from 16 up', () => {
    for (const blockSize of [0, 8, 100, 3000]) {
      expect(() => new ChecksumStream({ blockSize }), String(blockSize)).to.throw().with.property('code', 'ERR_ZSYNC_INVALID_ARGUMENT');
    }
  });
});
