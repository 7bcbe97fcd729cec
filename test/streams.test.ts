/**
 * Contracts of the individual streams that the end-to-end properties do not
 * pin down on their own: a BlockIndex is the target's, not a seed's (it can
 * serve several independent matching states), LocalPatcherStream cuts the last
 * block at the file's length and refuses blocks outside the file, BlockReader
 * emits exactly the requested bytes in bounded chunks. If these regress,
 * reusing an index silently loses matches, or the output file grows past the
 * target's length.
 */
import { expect } from 'chai';
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
import { BlockIndex } from '../lib/engine/block-index.js';
import { BlockReader } from '../lib/engine/block-reader.js';
import type { RemoteChunk } from '../lib/engine/block-assembler.js';
import { LocalPatcherStream } from '../lib/engine/local-patcher-stream.js';
import { MatcherStream } from '../lib/engine/matcher-stream.js';
import { MemoryFile } from '../lib/engine/positional.js';
import { TargetState } from '../lib/engine/target-state.js';
import { blockChecksumsSync, getInstructionsSync } from '../lib/pyzsync-api.js';
import { referenceMatch } from './reference-matcher.js';
import { applyEdits, chunksOf, makeFile } from './generators.js';

describe('BlockIndex', () => {
  for (const seqMatches of [1, 2] as const) {
    it(`serves several independent states: matching one seed does not hide blocks from the next state (seqMatches ${seqMatches})`, () => {
      const target = makeFile(3, 64 * 16, 16, 'random');
      const checksums = blockChecksumsSync(target, { blockSize: 16, seqMatches, weakBytes: 4, strongBytes: 16 });
      const index = new BlockIndex(checksums);
      const seed = applyEdits(target, [{ kind: 'move', from: 0.1, len: 80, to: 0.7 }, { kind: 'duplicate', from: 0.5, len: 64, to: 0.2 }], 16, 1);
      const expected = referenceMatch(checksums, [seed]);
      const first = getInstructionsSync(seed, index).local;
      const second = getInstructionsSync(seed, index).local; // a fresh state, the same index
      expect(first).to.deep.equal(expected);
      expect(second).to.deep.equal(expected);
    });
  }

  it('serves a second state: seed A A B against target A B finds block 0 again (minimal case)', () => {
    const A = Buffer.from('0123456789abcdef');
    const B = Buffer.from('ghijklmnopqrstuv');
    const index = new BlockIndex(blockChecksumsSync(Buffer.concat([A, B]), { blockSize: 16, seqMatches: 1, weakBytes: 4, strongBytes: 16 }));
    const seed = Buffer.concat([A, A, B]);
    const expected = [{ index: 0, seedOffset: 0 }, { index: 1, seedOffset: 32 }];
    expect(getInstructionsSync(seed, index).local).to.deep.equal(expected);
    expect(getInstructionsSync(seed, index).local).to.deep.equal(expected);
  });

  it('a MatcherStream refuses a state made for other checksums', () => {
    const a = blockChecksumsSync(Buffer.alloc(100, 1), { blockSize: 16 });
    const b = blockChecksumsSync(Buffer.alloc(100, 1), { blockSize: 16 });
    expect(() => new MatcherStream(new BlockIndex(a), { state: new TargetState(b) })).to.throw().with.property('code', 'ERR_ZSYNC_INVALID_ARGUMENT');
  });
});

describe('LocalPatcherStream', () => {
  const params = { blockSize: 16, length: 40 }; // blocks 0, 1 and a short 2

  it('writes each block at index * blockSize, the last cut to the file length', async () => {
    const output = new MemoryFile();
    const blocks = [2, 0, 1].map((index) => ({ index, data: Buffer.alloc(16, index + 1) }));
    await pipeline(chunksOf(blocks), new LocalPatcherStream(output, params));
    expect(output.length).to.equal(40);
    expect(output.toBuffer()).to.deep.equal(Buffer.concat([Buffer.alloc(16, 1), Buffer.alloc(16, 2), Buffer.alloc(8, 3)]));
  });

  it('refuses a block index outside the file with ERR_ZSYNC_OUT_OF_RANGE', async () => {
    for (const index of [3, -1]) {
      const err = await pipeline(chunksOf([{ index, data: Buffer.alloc(16) }]), new LocalPatcherStream(new MemoryFile(), params)).then(() => null, (e: unknown) => e);
      expect(err, `index ${index}`).to.have.property('code', 'ERR_ZSYNC_OUT_OF_RANGE');
    }
  });
});

describe('BlockReader', () => {
  const file = makeFile(8, 1000, 64, 'random');
  const params = { blockSize: 64, length: 1000 };

  async function read(options: ConstructorParameters<typeof BlockReader>[2]): Promise<RemoteChunk[]> {
    const out: RemoteChunk[] = [];
    await pipeline(new BlockReader(new MemoryFile(file), params, options), new Writable({ objectMode: true, write(c: RemoteChunk, _e, cb) { out.push(c); cb(); } }));
    return out;
  }

  it('emits the bytes of the given blocks, merged into ranges, in chunks of at most chunkSize', async () => {
    const chunks = await read({ blocks: [15, 1, 2, 7], chunkSize: 50 });
    expect(chunks.every((c) => c.data.length <= 50 && c.data.length > 0)).to.equal(true);
    const covered = new Map<number, number>();
    for (const c of chunks) {
      expect(Buffer.from(c.data).equals(file.subarray(c.offset, c.offset + c.data.length))).to.equal(true);
      for (let i = 0; i < c.data.length; i++) covered.set(c.offset + i, (covered.get(c.offset + i) ?? 0) + 1);
    }
    const expected = [...Array.from({ length: 128 }, (_, i) => 64 + i), ...Array.from({ length: 64 }, (_, i) => 448 + i), ...Array.from({ length: 40 }, (_, i) => 960 + i)];
    expect([...covered.keys()].sort((a, b) => a - b)).to.deep.equal(expected);
    expect([...covered.values()].every((n) => n === 1)).to.equal(true);
  });

  it('refuses a range past the end of the file with ERR_ZSYNC_OUT_OF_RANGE', () => {
    expect(() => new BlockReader(new MemoryFile(file), params, { ranges: [{ start: 900, end: 1001 }] })).to.throw().with.property('code', 'ERR_ZSYNC_OUT_OF_RANGE');
    expect(() => new BlockReader(new MemoryFile(file), params, { blocks: [16] })).to.throw().with.property('code', 'ERR_ZSYNC_OUT_OF_RANGE');
  });
});
