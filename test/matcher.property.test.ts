/**
 * The matcher finds exactly the blocks zsync 0.6.2 would, at the same seed
 * offsets: held to the brute-force reference (test/reference-matcher.ts) over
 * random targets, random edits of them and random chunkings. If this
 * regresses, a sync either fetches blocks the seed had (slower, still correct)
 * or, worse, places seed bytes where they do not belong; and several seeds (-i
 * given more than once) no longer add up to what zsync finds.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
import { blockChecksumsSync, getInstructionsSync } from '../lib/pyzsync-api.js';
import { BlockIndex } from '../lib/engine/block-index.js';
import { MatcherStream } from '../lib/engine/matcher-stream.js';
import { TargetState } from '../lib/engine/target-state.js';
import { blocksToRanges } from '../lib/engine/params.js';
import type { BlockChecksums } from '../lib/engine/block-checksums.js';
import { Matcher, type BlockMatch } from '../lib/engine/matcher.js';
import { referenceMatch, type ReferenceMatch } from './reference-matcher.js';
import { chunksOf, prng, randomChunks, randomMaxChunk, syncCaseArb, between, type SyncCase } from './generators.js';

const SMALL_BLOCKS = [16, 32, 64, 128, 256];
const BIG_BLOCKS = [2048, 4096];

/** Mostly small blocks (fast); now and then 2048 or 4096 with 64-72 blocks. */
const caseArb: fc.Arbitrary<SyncCase> = fc.oneof(
  { weight: 30, arbitrary: syncCaseArb(SMALL_BLOCKS, 64, 200) },
  { weight: 1, arbitrary: syncCaseArb(BIG_BLOCKS, 64, 72) },
);

/** Hash lengths over the whole allowed range: short ones make weak and strong collisions common. */
const hashArb = fc.record({
  seqMatches: fc.constantFrom<1 | 2>(1, 2),
  weakBytes: fc.integer({ min: 1, max: 4 }),
  strongBytes: fc.integer({ min: 1, max: 16 }),
});

function checksumsOf(c: SyncCase, h: { seqMatches: 1 | 2; weakBytes: number; strongBytes: number }): BlockChecksums {
  return blockChecksumsSync(c.target, { blockSize: c.blockSize, ...h });
}

/** Feeds one seed through a MatcherStream in random chunks; returns its matches. */
async function streamMatches(index: BlockIndex, state: TargetState, seed: Buffer, rand: () => number): Promise<{ matches: BlockMatch[]; stream: MatcherStream }> {
  const bs = index.checksums.params.blockSize;
  // Small buffers force the window to be carried across many refills.
  const bufferSize = [0, between(rand, 1, 8 * bs), 1 << 20][rand() % 3]!;
  const stream = new MatcherStream(index, { state, bufferSize });
  const matches: BlockMatch[] = [];
  await pipeline(
    chunksOf(randomChunks(seed, rand, randomMaxChunk(rand, bs, seed.length))),
    stream,
    new Writable({ objectMode: true, write(m: BlockMatch, _e, cb) { matches.push(m); cb(); } }),
  );
  return { matches, stream };
}

const strip = (ms: ReadonlyArray<{ index: number; seedOffset: number }>): ReferenceMatch[] => ms.map(({ index, seedOffset }) => ({ index, seedOffset }));

/** The seed's window at x, zero padded past its end. */
function windowAt(seed: Uint8Array, x: number, bs: number): Buffer {
  const w = Buffer.alloc(bs);
  if (x < seed.length) w.set(seed.subarray(x, Math.min(x + bs, seed.length)));
  return w;
}

function complement(blockCount: number, found: Iterable<number>): number[] {
  const s = new Set(found);
  const out: number[] = [];
  for (let i = 0; i < blockCount; i++) if (!s.has(i)) out.push(i);
  return out;
}

describe('Matcher against the brute-force reference (property)', function () {
  this.timeout(240_000);

  it('getInstructionsSync finds the same blocks at the same seed offsets, in the same order, as the reference', () => {
    fc.assert(
      fc.property(caseArb, hashArb, (c, h) => {
        const checksums = checksumsOf(c, h);
        const expected = referenceMatch(checksums, [c.seed]);
        const got = getInstructionsSync(c.seed, checksums);
        expect(strip(got.local)).to.deep.equal(expected);
        expect(got.remote).to.deep.equal(complement(checksums.blockCount, expected.map((m) => m.index)));
      }),
      { numRuns: 150 },
    );
  });

  it('MatcherStream, fed in random chunks with a small or large buffer, emits what the reference finds, with the seed bytes of each window', async () => {
    await fc.assert(
      fc.asyncProperty(caseArb, hashArb, async (c, h) => {
        const checksums = checksumsOf(c, h);
        const expected = referenceMatch(checksums, [c.seed]);
        const index = new BlockIndex(checksums);
        const { matches, stream } = await streamMatches(index, new TargetState(checksums), c.seed, prng(c.rngSeed));
        expect(strip(matches)).to.deep.equal(expected);
        for (const m of matches) {
          expect(Buffer.from(m.data.subarray(0, c.blockSize)).equals(windowAt(c.seed, m.seedOffset, c.blockSize)), `data of block ${m.index}`).to.equal(true);
        }
        const missing = complement(checksums.blockCount, expected.map((m) => m.index));
        expect(stream.missingBlocks()).to.deep.equal(missing);
        expect(stream.missingRanges()).to.deep.equal(blocksToRanges(checksums.params, missing));
      }),
      { numRuns: 150 },
    );
  });

  it('Matcher.writeTo, fed through one reused chunk buffer, finds what the reference finds, each match\'s bytes still right when its write() returns', () => {
    fc.assert(
      fc.property(caseArb, hashArb, (c, h) => {
        const checksums = checksumsOf(c, h);
        const expected = referenceMatch(checksums, [c.seed]);
        const rand = prng(c.rngSeed);
        const bs = c.blockSize;
        const bufferSize = [0, between(rand, 1, 8 * bs), 1 << 20][rand() % 3]!;
        const matcher = new Matcher(new BlockIndex(checksums), { bufferSize });
        const chunks = randomChunks(c.seed, rand, randomMaxChunk(rand, bs, c.seed.length));
        // As the sync reads: every chunk into the same buffer, written over once its write() is done.
        const scratch = Buffer.alloc(chunks.reduce((most, k) => Math.max(most, k.length), 1));
        const got: ReferenceMatch[] = [];
        const batch: Array<{ index: number; seedOffset: number; buf: Buffer; at: number }> = [];
        const check = (): void => {
          // The bytes are promised only until the next write() or end(): check them now.
          for (const m of batch) {
            expect(Buffer.from(m.buf.subarray(m.at, m.at + bs)).equals(windowAt(c.seed, m.seedOffset, bs)), `data of block ${m.index}`).to.equal(true);
            got.push({ index: m.index, seedOffset: m.seedOffset });
          }
          batch.length = 0;
        };
        const sink = (index: number, seedOffset: number, buf: Buffer, at: number): void => {
          batch.push({ index, seedOffset, buf, at });
        };
        for (const chunk of chunks) {
          chunk.copy(scratch);
          matcher.writeTo(scratch.subarray(0, chunk.length), sink);
          check();
          scratch.fill(0xa5);
        }
        matcher.endTo(sink);
        check();
        expect(got).to.deep.equal(expected);
      }),
      { numRuns: 150 },
    );
  });

  it('several seeds on one TargetState find what one reference run over all of them finds, and no block twice', async () => {
    const twoSeeds = fc.tuple(caseArb, fc.array(fc.integer({ min: 0, max: 1 << 30 }), { minLength: 1, maxLength: 3 }));
    await fc.assert(
      fc.asyncProperty(twoSeeds, hashArb, async ([c, cuts], h) => {
        // The seeds: pieces of the one edited seed (each a separate file), so that
        // together they hold what the single seed held, split at random offsets.
        const points = [...new Set(cuts.map((x) => x % (c.seed.length + 1)))].sort((a, b) => a - b);
        const seeds: Buffer[] = [];
        let prev = 0;
        for (const p of [...points, c.seed.length]) {
          seeds.push(c.seed.subarray(prev, p));
          prev = p;
        }
        seeds.push(c.target.subarray(0, Math.floor(c.target.length / 2))); // and a last one with half the target
        const checksums = checksumsOf(c, h);
        const expected = referenceMatch(checksums, seeds);

        const index = new BlockIndex(checksums);
        const state = new TargetState(checksums);
        const rand = prng(c.rngSeed);
        const got: ReferenceMatch[] = [];
        const seen = new Set<number>();
        for (const seed of seeds) {
          const before = new Set(seen);
          const { matches } = await streamMatches(index, state, seed, rand);
          for (const m of matches) {
            expect(before.has(m.index), `block ${m.index} found again by a later seed`).to.equal(false);
            expect(seen.has(m.index), `block ${m.index} found twice in one seed`).to.equal(false);
            seen.add(m.index);
          }
          got.push(...strip(matches));
        }
        expect(got).to.deep.equal(expected);
        expect(state.missingBlocks()).to.deep.equal(complement(checksums.blockCount, seen));
      }),
      { numRuns: 100 },
    );
  });

  it('getInstructionsSync with a shared state equals the reference over the same seeds', () => {
    fc.assert(
      fc.property(syncCaseArb(SMALL_BLOCKS, 64, 120), hashArb, (c, h) => {
        const checksums = checksumsOf(c, h);
        const seeds = [c.seed, c.target];
        const expected = referenceMatch(checksums, seeds);
        const first = getInstructionsSync(seeds[0]!, checksums);
        const second = getInstructionsSync(seeds[1]!, checksums, { state: first.state });
        expect(strip([...first.local, ...second.local])).to.deep.equal(expected);
        expect(second.remote).to.deep.equal(complement(checksums.blockCount, expected.map((m) => m.index)));
        expect(second.state).to.equal(first.state);
      }),
      { numRuns: 100 },
    );
  });

  it('with seqMatches 1 and full-length sums, a block is found exactly when its bytes sit at a seed offset not inside an earlier match', () => {
    // A check of the reference's own reading of the rules, by content alone.
    fc.assert(
      fc.property(syncCaseArb(SMALL_BLOCKS, 64, 100), (c) => {
        const bs = c.blockSize;
        const checksums = blockChecksumsSync(c.target, { blockSize: bs, seqMatches: 1, weakBytes: 4, strongBytes: 16 });
        const { local } = getInstructionsSync(c.seed, checksums);
        const contentOf = (i: number): string => windowAt(c.target, i * bs, bs).subarray(0, bs).toString('hex');
        const idsByContent = new Map<string, number[]>();
        for (let i = 0; i < checksums.blockCount; i++) {
          const k = windowAt(c.target, i * bs, bs).toString('hex');
          idsByContent.set(k, [...(idsByContent.get(k) ?? []), i]);
        }
        // Found blocks: the seed window holds their (padded) content.
        const foundAt = new Map<number, number>();
        for (const m of local) {
          expect(windowAt(c.seed, m.seedOffset, bs).toString('hex')).to.equal(contentOf(m.index));
          foundAt.set(m.index, m.seedOffset);
        }
        // Scanned offsets: all but those strictly inside a match's window.
        const skipped = new Uint8Array(c.seed.length);
        for (const m of local) skipped.fill(1, m.seedOffset + 1, m.seedOffset + bs);
        const violations: string[] = [];
        for (let x = 0; x < c.seed.length; x++) {
          if (skipped[x] === 1) continue;
          for (const id of idsByContent.get(windowAt(c.seed, x, bs).toString('hex')) ?? []) {
            const at = foundAt.get(id);
            if (at === undefined) violations.push(`block ${id} is at seed offset ${x} but was not found`);
            else if (at > x) violations.push(`block ${id} is at seed offset ${x} but was found later, at ${at}`);
          }
        }
        expect(violations).to.deep.equal([]);
      }),
      { numRuns: 100 },
    );
  });
});

describe('Matcher.write(): what a match\'s data is, and how long it holds', function () {
  this.timeout(120_000);

  it('each match\'s data holds the seed\'s window for as long as it is kept, whatever the chunking and chunk type', () => {
    fc.assert(
      fc.property(caseArb, hashArb, fc.boolean(), (c, h, plain) => {
        const checksums = checksumsOf(c, h);
        const rand = prng(c.rngSeed);
        const bs = c.blockSize;
        const matcher = new Matcher(new BlockIndex(checksums), { bufferSize: [0, between(rand, 1, 8 * bs)][rand() % 2]! });
        const kept: BlockMatch[] = [];
        for (const piece of randomChunks(c.seed, rand, randomMaxChunk(rand, bs, c.seed.length))) {
          // A chunk of its own, as a Buffer or as a plain Uint8Array that starts 3 bytes into its memory.
          let chunk: Uint8Array = Buffer.from(piece);
          if (plain) {
            const memory = new Uint8Array(piece.length + 5);
            memory.set(piece, 3);
            chunk = memory.subarray(3, 3 + piece.length);
          }
          matcher.write(chunk, (m) => kept.push(m));
        }
        matcher.end((m) => kept.push(m));
        expect(strip(kept)).to.deep.equal(referenceMatch(checksums, [c.seed]));
        // Checked only now, after every later write went through the matcher's own buffers.
        for (const m of kept) {
          expect(Buffer.from(m.data.subarray(0, bs)).equals(windowAt(c.seed, m.seedOffset, bs)), `data of block ${m.index}`).to.equal(true);
        }
      }),
      { numRuns: 150 },
    );
  });

  it('a chunk of at least two windows is not copied: its matches are views of it, except the last window or two, carried over', () => {
    const bs = 256;
    const target = makeDistinctBlocks(40, bs, 3);
    const checksums = blockChecksumsSync(target, { blockSize: bs, seqMatches: 1, weakBytes: 4, strongBytes: 16 });
    const matcher = new Matcher(new BlockIndex(checksums));
    const seed = Buffer.from(target);
    const found: BlockMatch[] = [];
    matcher.write(seed, (m) => found.push(m));
    matcher.end((m) => found.push(m));
    expect(found).to.have.length(40);
    for (const m of found) {
      const view = m.data.buffer === seed.buffer && m.data.byteOffset === seed.byteOffset + m.seedOffset;
      // The window at len - c needs the byte after the chunk to roll on: it is tested after the carry.
      expect(view, `block ${m.index}`).to.equal(m.seedOffset < seed.length - bs);
    }
  });

  it('a consumer that throws leaves the caller\'s chunk untouched, and the matcher refuses more seed until restart()', () => {
    const bs = 16;
    const target = makeDistinctBlocks(20, bs, 9);
    const checksums = blockChecksumsSync(target, { blockSize: bs, seqMatches: 1, weakBytes: 4, strongBytes: 16 });
    const matcher = new Matcher(new BlockIndex(checksums), { bufferSize: 0 });
    matcher.write(target.subarray(0, 40), () => {});
    const chunk = Buffer.from(target.subarray(40, 200));
    const before = Buffer.from(chunk);
    let n = 0;
    expect(() => matcher.write(chunk, () => {
      if (++n === 4) throw new Error('consumer failed');
    })).to.throw('consumer failed');
    expect(() => matcher.write(target.subarray(200, 205), () => {})).to.throw(/restart/);
    expect(() => matcher.end(() => {})).to.throw(/restart/);
    expect(chunk.equals(before), 'the chunk is as it was').to.equal(true);
    matcher.restart();
    const found: number[] = [];
    matcher.write(target.subarray(14 * bs), (m) => found.push(m.index));
    matcher.end((m) => found.push(m.index));
    expect(found, 'blocks the failed write never reached').to.deep.equal([14, 15, 16, 17, 18, 19]);
  });
});

describe('Matcher: strong digests computed ahead of a run of matches', () => {
  /** Feeds the seed in chunks of `chunk` bytes; returns the matches and the matcher. */
  function run(checksums: BlockChecksums, seed: Buffer, chunk: number, options: { bufferSize: number }): { matches: ReferenceMatch[]; matcher: Matcher } {
    const matcher = new Matcher(new BlockIndex(checksums), options);
    const matches: ReferenceMatch[] = [];
    const emit = (m: BlockMatch): void => {
      matches.push({ index: m.index, seedOffset: m.seedOffset });
    };
    for (let o = 0; o < seed.length; o += chunk) matcher.write(seed.subarray(o, o + chunk), emit);
    matcher.end(emit);
    return { matches, matcher };
  }

  for (const seqMatches of [1, 2] as const) {
    it(`seqMatches ${seqMatches}: a seed equal to the target finds every block in place, one strong check per block, across many buffer refills`, () => {
      const bs = 2048;
      const target = makeDistinctBlocks(37, bs, 1);
      const checksums = blockChecksumsSync(target, { blockSize: bs, seqMatches, weakBytes: 4, strongBytes: 16 });
      // Chunks under two windows, gathered in a buffer of a few windows, and chunks scanned in place.
      for (const chunk of [3000, 5 * bs + 7]) {
        const { matches, matcher } = run(checksums, target, chunk, { bufferSize: 5 * bs });
        expect(matches).to.deep.equal(Array.from({ length: 37 }, (_, i) => ({ index: i, seedOffset: i * bs })));
        // Windows checked, not digests computed (some were computed ahead and never needed).
        expect(matcher.stats.strongChecks).to.equal(37);
      }
    });
  }

  it('restart() forgets the digests computed ahead: the next stretch, at the same offsets, finds its own blocks', () => {
    const bs = 64;
    const target = makeDistinctBlocks(12, bs, 5);
    const checksums = blockChecksumsSync(target, { blockSize: bs, seqMatches: 1, weakBytes: 4, strongBytes: 16 });
    const matcher = new Matcher(new BlockIndex(checksums));
    const found: ReferenceMatch[] = [];
    const emit = (m: BlockMatch): void => {
      found.push({ index: m.index, seedOffset: m.seedOffset });
    };
    // A run of blocks 0-3 (and a byte, so that the last window is tested) leaves
    // digests computed ahead for offsets 0, 64, 128...
    matcher.write(target.subarray(0, 4 * bs + 1), emit);
    // ...where the next stretch has blocks 6-9.
    matcher.restart();
    matcher.write(target.subarray(6 * bs, 10 * bs), emit);
    matcher.end(emit);
    expect(found).to.deep.equal([0, 1, 2, 3, 6, 7, 8, 9].map((index, i) => ({ index, seedOffset: (i % 4) * bs })));
  });

  it('a digest handed out stays valid while the next window\'s is computed (pairs: the pair A B twice in the target, A\'s digest left from an earlier, failed check)', () => {
    const bs = 64;
    const rand = prng(5);
    const block = (): Buffer => randomBlock(rand, bs);
    const [P, Q, A, B, X, Y] = [block(), block(), block(), block(), block(), block()];
    // P2 differs from P with the same rsum (+1, -2, +1 on three bytes): the window
    // at 0 passes the weak check against the pair P Q and fails the strong one,
    // after its digest was computed along with those of the windows after it,
    // up to A's at 3 * bs.
    const P2 = Buffer.from(P);
    P2[0] = 100;
    P2[1] = 100;
    P2[2] = 100;
    P[0] = 99;
    P[1] = 102;
    P[2] = 99;
    const target = Buffer.concat([P, Q, A, B, X, A, B, Y]);
    const seed = Buffer.concat([P2, Q, block(), A, B, block(), block(), block(), block(), block()]);
    const checksums = blockChecksumsSync(target, { blockSize: bs, seqMatches: 2, weakBytes: 4, strongBytes: 16 });
    const { matches } = run(checksums, seed, seed.length, { bufferSize: 1 << 20 });
    expect(matches).to.deep.equal(referenceMatch(checksums, [seed]));
    // Both copies of A B come from 3 * bs: checking the second copy needs A's digest again, after B's.
    expect(matches.filter((m) => m.seedOffset === 3 * bs).map((m) => m.index)).to.deep.equal([2, 5]);
  });

  it('runs broken by inserted bytes, in small buffers and chunks, find what the reference finds', () => {
    fc.assert(
      fc.property(fc.integer({ min: 4, max: 8 }), fc.array(fc.nat(), { minLength: 1, maxLength: 6 }), fc.constantFrom<1 | 2>(1, 2), fc.integer(), (log, cuts, seqMatches, seed) => {
        const bs = 2 ** log;
        const rand = prng(seed);
        const target = makeDistinctBlocks(60, bs, seed);
        // The seed: the target with a few random bytes inserted, each breaking a run.
        const points = [...new Set(cuts.map((c) => c % target.length))].sort((a, b) => a - b);
        const parts: Buffer[] = [];
        let prev = 0;
        for (const p of points) {
          parts.push(target.subarray(prev, p), Buffer.from([rand() & 0xff]));
          prev = p;
        }
        parts.push(target.subarray(prev));
        const seedBytes = Buffer.concat(parts);
        const checksums = blockChecksumsSync(target, { blockSize: bs, seqMatches, weakBytes: 4, strongBytes: 16 });
        // Chunks up to 6 blocks: with pairs (two windows = 4 blocks) both gathered and scanned in place.
        const { matches } = run(checksums, seedBytes, between(rand, 1, 6 * bs), { bufferSize: between(rand, 1, 6 * bs) });
        expect(matches).to.deep.equal(referenceMatch(checksums, [seedBytes]));
      }),
      { numRuns: 100 },
    );
  });
});

function randomBlock(rand: () => number, bs: number): Buffer {
  const out = Buffer.alloc(bs);
  for (let i = 0; i < bs; i++) out[i] = rand() & 0xff;
  return out;
}

/** `count` blocks of `bs` random bytes: no two alike, so each block is found at exactly one place. */
function makeDistinctBlocks(count: number, bs: number, seed: number): Buffer {
  const rand = prng(seed);
  const out = Buffer.alloc(count * bs);
  for (let i = 0; i < out.length; i++) out[i] = rand() & 0xff;
  return out;
}
