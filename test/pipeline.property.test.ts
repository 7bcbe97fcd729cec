/**
 * The whole engine, stream by stream, rebuilds the new file byte for byte:
 * ChecksumStream -> ChecksumCollector -> BlockIndex -> MatcherStream ->
 * LocalPatcherStream, then the missing ranges -> BlockReader (or arbitrary,
 * shuffled, overlapping chunks) -> RemotePatcherStream(s) sharing one state.
 * Every stream gets random chunk boundaries. If this regresses, a sync produces
 * a wrong or incomplete file (which the whole-file SHA-1 would only report
 * after the fact), for some chunking, hash lengths or block size.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { createHash } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
import { BlockIndex } from '../lib/engine/block-index.js';
import { BlockReader } from '../lib/engine/block-reader.js';
import { ChecksumCollector } from '../lib/engine/checksum-collector.js';
import { ChecksumStream } from '../lib/engine/checksum-stream.js';
import type { ChecksumRecord } from '../lib/engine/checksummer.js';
import { LocalPatcherStream } from '../lib/engine/local-patcher-stream.js';
import { MatcherStream } from '../lib/engine/matcher-stream.js';
import { MemoryFile } from '../lib/engine/positional.js';
import { RemotePatcherStream } from '../lib/engine/remote-patcher-stream.js';
import type { RemoteChunk } from '../lib/engine/block-assembler.js';
import type { BlockChecksums } from '../lib/engine/block-checksums.js';
import { blockChecksumsSync } from '../lib/pyzsync-api.js';
import { between, chunksOf, prng, randomChunks, randomMaxChunk, shuffle, syncCaseArb, type SyncCase } from './generators.js';

interface HashChoice {
  seqMatches?: 1 | 2;
  weakBytes?: number;
  strongBytes?: number;
}

/**
 * Hash lengths long enough that a false match is out of the question (a sync
 * relies on the whole-file SHA-1 for that), or zsyncmake's defaults (undefined).
 */
const hashArb: fc.Arbitrary<HashChoice> = fc.oneof(
  fc.record({ seqMatches: fc.constantFrom<1 | 2>(1, 2), weakBytes: fc.integer({ min: 2, max: 4 }), strongBytes: fc.integer({ min: 5, max: 16 }) }),
  fc.record({ seqMatches: fc.constant<2>(2), weakBytes: fc.integer({ min: 1, max: 4 }), strongBytes: fc.integer({ min: 4, max: 16 }) }),
  fc.constant({}),
);

const caseArb: fc.Arbitrary<SyncCase> = fc.oneof(
  { weight: 20, arbitrary: syncCaseArb([16, 32, 64, 128, 256], 64, 200) },
  { weight: 1, arbitrary: syncCaseArb([2048, 4096], 64, 80) },
);

/** Checksums of the new file through ChecksumStream, fed in random chunks. */
async function streamChecksums(c: SyncCase, h: HashChoice, rand: () => number): Promise<BlockChecksums> {
  const collector = new ChecksumCollector(h);
  let result: BlockChecksums | undefined;
  await pipeline(
    chunksOf(randomChunks(c.target, rand, randomMaxChunk(rand, c.blockSize, c.target.length))),
    new ChecksumStream({ blockSize: c.blockSize, readableHighWaterMark: between(rand, 1, 64) }),
    new Writable({
      objectMode: true,
      write(record: ChecksumRecord, _e, cb) {
        if (record.kind === 'block') collector.add(record);
        else result = collector.finish(record);
        cb();
      },
    }),
  );
  if (!result) throw new Error('no summary');
  return result;
}

/**
 * The missing ranges as a transport might deliver them: cut at random points
 * (mid-block too), some pieces sent twice, all in random order.
 */
function scrambledChunks(target: Buffer, ranges: ReadonlyArray<{ start: number; end: number }>, rand: () => number, blockSize: number): RemoteChunk[] {
  const pieces: RemoteChunk[] = [];
  const max = between(rand, 1, blockSize * 3);
  for (const r of ranges) {
    for (let o = r.start; o < r.end; ) {
      const n = Math.min(r.end - o, between(rand, 1, max));
      pieces.push({ offset: o, data: target.subarray(o, o + n) });
      if (rand() % 8 === 0) pieces.push({ offset: o, data: Buffer.from(target.subarray(o, o + n)) });
      o += n;
    }
  }
  return shuffle(pieces, rand);
}

describe('the stream pipeline rebuilds the new file (property)', function () {
  this.timeout(240_000);

  it('checksums -> matcher -> local patch -> missing ranges -> remote patch gives the new file byte for byte', async () => {
    await fc.assert(
      fc.asyncProperty(caseArb, hashArb, fc.boolean(), async (c, h, viaReader) => {
        const rand = prng(c.rngSeed);
        const checksums = await streamChecksums(c, h, rand);
        // Chunking does not change the checksums: the same as from one whole Buffer.
        const whole = blockChecksumsSync(c.target, { blockSize: c.blockSize, ...h });
        expect(checksums.params).to.deep.equal(whole.params);
        expect(Buffer.from(checksums.strong).equals(Buffer.from(whole.strong))).to.equal(true);
        expect([...checksums.weak]).to.deep.equal([...whole.weak]);
        expect(checksums.fileHashes.sha1).to.equal(createHash('sha1').update(c.target).digest('hex'));

        const output = new MemoryFile();
        const matcher = new MatcherStream(new BlockIndex(checksums), {
          bufferSize: [0, between(rand, 1, 10 * c.blockSize), 1 << 20][rand() % 3]!,
          readableHighWaterMark: between(rand, 1, 32),
        });
        await pipeline(
          chunksOf(randomChunks(c.seed, rand, randomMaxChunk(rand, c.blockSize, c.seed.length))),
          matcher,
          new LocalPatcherStream(output, checksums.params, { highWaterMark: between(rand, 1, 64) }),
        );
        const state = matcher.state;
        const ranges = matcher.missingRanges();
        const missingBytes = ranges.reduce((n, r) => n + r.end - r.start, 0);
        expect(state.missingBytes()).to.equal(missingBytes);

        if (viaReader) {
          const reader = new BlockReader(new MemoryFile(c.target), checksums.params, { ranges, chunkSize: between(rand, 1, 4 * c.blockSize) });
          await pipeline(reader, new RemotePatcherStream(state, output));
        } else {
          // Two patch streams on one state: the second continues where the first stopped.
          const chunks = scrambledChunks(c.target, ranges, rand, c.blockSize);
          const half = between(rand, 0, chunks.length);
          const first = new RemotePatcherStream(state, output);
          await pipeline(chunksOf(chunks.slice(0, half)), first);
          const second = new RemotePatcherStream(state, output);
          await pipeline(chunksOf(chunks.slice(half)), second);
          expect(first.badBlocks + second.badBlocks).to.equal(0);
        }
        expect(state.complete).to.equal(true);
        expect(state.partial.size).to.equal(0);
        expect(output.length).to.equal(c.target.length);
        expect(Buffer.compare(output.toBuffer(), c.target)).to.equal(0);
      }),
      { numRuns: 150 },
    );
  });

  it('with seqMatches 1 and 2 alike: both settings rebuild the same file from the same seed', async () => {
    await fc.assert(
      fc.asyncProperty(syncCaseArb([16, 64, 256], 64, 150), fc.integer({ min: 2, max: 4 }), async (c, weakBytes) => {
        for (const seqMatches of [1, 2] as const) {
          const checksums = blockChecksumsSync(c.target, { blockSize: c.blockSize, seqMatches, weakBytes, strongBytes: 8 });
          const rand = prng(c.rngSeed + seqMatches);
          const output = new MemoryFile();
          const matcher = new MatcherStream(new BlockIndex(checksums));
          await pipeline(chunksOf(randomChunks(c.seed, rand, randomMaxChunk(rand, c.blockSize, c.seed.length))), matcher, new LocalPatcherStream(output, checksums.params));
          await pipeline(
            new BlockReader(new MemoryFile(c.target), checksums.params, { blocks: matcher.missingBlocks(), chunkSize: between(rand, 1, 3 * c.blockSize) }),
            new RemotePatcherStream(matcher.state, output),
          );
          expect(Buffer.compare(output.toBuffer(), c.target), `seqMatches ${seqMatches}`).to.equal(0);
        }
      }),
      { numRuns: 100 },
    );
  });
});
