/**
 * The sizes and seeds where off-by-one errors live: empty and one-byte files,
 * files one byte either side of a block, all-zero files, seeds shorter than a
 * block, identical to the target, unrelated to it, or empty. Each case is run
 * through the Sync API and through the streams (the seed written whole and one
 * byte at a time), held to the reference matcher, and must rebuild the target
 * byte for byte. If this regresses, small or padded files sync wrongly or the
 * zero-padded last block is never found.
 */
import { expect } from 'chai';
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
import {
  blockChecksumsSync, getBlocksSync, getInstructionsSync, patchLocalBlocksSync, patchRemoteBlocksSync,
} from '../lib/pyzsync-api.js';
import { BlockIndex } from '../lib/engine/block-index.js';
import { BlockReader } from '../lib/engine/block-reader.js';
import { LocalPatcherStream } from '../lib/engine/local-patcher-stream.js';
import { MatcherStream } from '../lib/engine/matcher-stream.js';
import type { BlockMatch } from '../lib/engine/matcher.js';
import { MemoryFile } from '../lib/engine/positional.js';
import { RemotePatcherStream } from '../lib/engine/remote-patcher-stream.js';
import type { BlockChecksums } from '../lib/engine/block-checksums.js';
import { referenceMatch, type ReferenceMatch } from './reference-matcher.js';
import { applyEdits, chunksOf, makeFile, prng, randomBytes, randomChunks } from './generators.js';

const BS = 2048;

interface SyncOptions {
  blockSize?: number;
  seqMatches?: 1 | 2;
}

/**
 * Syncs `target` from `seed` three ways (Sync API; streams with the seed whole;
 * streams one byte at a time) and checks each against the reference and the
 * target's bytes. Returns the blocks found.
 */
async function syncAllWays(target: Buffer, seed: Buffer, options: SyncOptions = {}): Promise<{ local: ReferenceMatch[]; remote: number[]; checksums: BlockChecksums }> {
  const checksums = blockChecksumsSync(target, { blockSize: options.blockSize ?? BS, ...(options.seqMatches ? { seqMatches: options.seqMatches } : {}) });
  const expected = referenceMatch(checksums, [seed]);

  // Sync API.
  const instructions = getInstructionsSync(seed, checksums);
  const local = instructions.local.map(({ index, seedOffset }) => ({ index, seedOffset }));
  expect(local, 'getInstructionsSync').to.deep.equal(expected);
  const result = Buffer.alloc(target.length, 0xee);
  patchLocalBlocksSync(seed, result, instructions);
  patchRemoteBlocksSync(getBlocksSync(target, instructions.remote, checksums.params), result, instructions.state);
  expect(instructions.state.complete).to.equal(true);
  expect(Buffer.compare(result, target), 'Sync API result').to.equal(0);

  // Streams, the seed whole and (small seeds only) one byte at a time.
  const chunkings = [seed.length > 0 ? [seed] : [], ...(seed.length <= 8192 ? [randomChunks(seed, prng(1), 1)] : [])];
  for (const chunks of chunkings) {
    const output = new MemoryFile();
    const matcher = new MatcherStream(new BlockIndex(checksums));
    const found: ReferenceMatch[] = [];
    await pipeline(
      chunksOf(chunks),
      matcher,
      new Writable({
        objectMode: true,
        write(m: BlockMatch, _e, cb) {
          found.push({ index: m.index, seedOffset: m.seedOffset });
          cb(null);
        },
      }),
    );
    expect(found, `MatcherStream, ${chunks.length} chunks`).to.deep.equal(expected);

    const matcher2 = new MatcherStream(new BlockIndex(checksums));
    await pipeline(chunksOf(chunks), matcher2, new LocalPatcherStream(output, checksums.params));
    await pipeline(new BlockReader(new MemoryFile(target), checksums.params, { ranges: matcher2.missingRanges() }), new RemotePatcherStream(matcher2.state, output));
    expect(matcher2.state.complete).to.equal(true);
    expect(Buffer.compare(output.toBuffer(), target), `streams, ${chunks.length} chunks`).to.equal(0);
  }
  return { local, remote: instructions.remote, checksums };
}

const random = (n: number, seed = n): Buffer => randomBytes(prng(seed), n);

describe('edge cases', function () {
  this.timeout(60_000);

  it('an empty target has no blocks: nothing to find, nothing to fetch, an empty result', async () => {
    const { local, remote, checksums } = await syncAllWays(Buffer.alloc(0), random(5000));
    expect(checksums.blockCount).to.equal(0);
    expect(checksums.fileHashes.sha1).to.equal('da39a3ee5e6b4b0d3255bfef95601890afd80709');
    expect(local).to.deep.equal([]);
    expect(remote).to.deep.equal([]);
  });

  it('a 1-byte target is one zero-padded block: found where the seed ends with that byte', async () => {
    const target = Buffer.from('x');
    expect((await syncAllWays(target, Buffer.from('abcx'))).local).to.deep.equal([{ index: 0, seedOffset: 3 }]);
    // "x" followed by other bytes is not "x" followed by zeros.
    const { local, remote } = await syncAllWays(target, Buffer.from('xab'));
    expect(local).to.deep.equal([]);
    expect(remote).to.deep.equal([0]);
  });

  it('a target of blockSize - 1 bytes is found at the end of a seed, padded with zeros', async () => {
    const target = random(BS - 1);
    const seed = Buffer.concat([random(300, 1), target]);
    expect((await syncAllWays(target, seed)).local).to.deep.equal([{ index: 0, seedOffset: 300 }]);
  });

  it('a target of exactly blockSize bytes is one whole block, found anywhere in the seed', async () => {
    const target = random(BS);
    const seed = Buffer.concat([random(777, 2), target, random(100, 3)]);
    expect((await syncAllWays(target, seed)).local).to.deep.equal([{ index: 0, seedOffset: 777 }]);
  });

  it('a target of blockSize + 1 bytes (seqMatches 2) is found as a pair, its 1-byte last block from the seed\'s padded end', async () => {
    const target = random(BS + 1);
    const { local, checksums } = await syncAllWays(target, Buffer.from(target));
    expect(checksums.params.seqMatches).to.equal(2);
    expect(local).to.deep.equal([{ index: 0, seedOffset: 0 }, { index: 1, seedOffset: BS }]);
  });

  it('an all-zero target is rebuilt from any run of zeros in the seed, every block at once', async () => {
    for (const seqMatches of [1, 2] as const) {
      const target = Buffer.alloc(64 * 64 + 10);
      const seed = Buffer.concat([random(500), Buffer.alloc(200), random(300, 9)]);
      const { local, remote } = await syncAllWays(target, seed, { blockSize: 64, seqMatches });
      expect(remote, `seqMatches ${seqMatches}`).to.deep.equal([]);
      expect(new Set(local.map((m) => m.index)).size).to.equal(65);
    }
  });

  it('an all-zero seed gives an all-zero target, and no blocks of a random one', async () => {
    await syncAllWays(Buffer.alloc(3 * BS), Buffer.alloc(5 * BS));
    const { local } = await syncAllWays(random(3 * BS), Buffer.alloc(5 * BS));
    expect(local).to.deep.equal([]);
  });

  it('a seed shorter than one block can still hold the short last block (seqMatches 1), but never a pair (seqMatches 2)', async () => {
    const target = random(5 * BS + 100);
    const seed = target.subarray(5 * BS);
    expect((await syncAllWays(target, seed, { seqMatches: 1 })).local).to.deep.equal([{ index: 5, seedOffset: 0 }]);
    expect((await syncAllWays(target, seed, { seqMatches: 2 })).local).to.deep.equal([]);
    expect((await syncAllWays(target, target.subarray(0, 100))).local).to.deep.equal([]);
  });

  it('a seed identical to the target yields every block at its own offset, nothing to fetch', async () => {
    for (const seqMatches of [1, 2] as const) {
      const target = makeFile(4, 20 * 256 + 33, 256, 'random');
      const { local, remote, checksums } = await syncAllWays(target, Buffer.from(target), { blockSize: 256, seqMatches });
      expect(remote).to.deep.equal([]);
      expect(local).to.deep.equal(Array.from({ length: checksums.blockCount }, (_, i) => ({ index: i, seedOffset: i * 256 })));
    }
  });

  it('a seed with no data in common finds nothing: every block is fetched', async () => {
    const target = random(4 * BS + 5, 11);
    const { local, remote } = await syncAllWays(target, random(6000, 12));
    expect(local).to.deep.equal([]);
    expect(remote).to.deep.equal([0, 1, 2, 3, 4]);
  });

  it('an empty seed finds nothing: every block is fetched', async () => {
    const { local, remote } = await syncAllWays(random(2 * BS + 1, 13), Buffer.alloc(0));
    expect(local).to.deep.equal([]);
    expect(remote).to.deep.equal([0, 1, 2]);
  });

  it('the matcher fed one byte at a time finds what it finds from whole buffers (8 KiB, 16-byte blocks, edited seed)', async () => {
    for (const seqMatches of [1, 2] as const) {
      const target = makeFile(21, 8192, 16, 'mixed');
      const seed = applyEdits(target, [
        { kind: 'insert', at: 0.3, len: 5, fill: 'random' },
        { kind: 'delete', at: 0.6, len: 20 },
        { kind: 'duplicate', from: 0.1, len: 24, to: 0.9 },
      ], 16, 5);
      const { local } = await syncAllWays(target, seed, { blockSize: 16, seqMatches });
      expect(local.length).to.be.greaterThan(256);
    }
  });
});
