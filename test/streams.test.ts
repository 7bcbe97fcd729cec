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

describe('MatcherStream', () => {
  it('a writer may reuse its buffer once a write has called back: every match keeps the seed\'s bytes, and each block found is patched in with the target\'s', async () => {
    const bs = 64;
    const target = makeFile(11, 300 * bs + 17, bs, 'random');
    const seed = applyEdits(target, [{ kind: 'insert', at: 1000, len: 333, fill: 'random' }, { kind: 'delete', at: 9000, len: 100 }, { kind: 'duplicate', from: 0, len: 4 * bs, to: 15000 }], bs, 3);
    const checksums = blockChecksumsSync(target, { blockSize: bs, seqMatches: 1, weakBytes: 4, strongBytes: 16 });
    for (const size of [1000, bs, 7 * bs + 3]) {
      const matcher = new MatcherStream(new BlockIndex(checksums));
      const output = new MemoryFile();
      const patcher = new LocalPatcherStream(output, checksums.params);
      const matches: Array<{ seedOffset: number; data: Buffer }> = [];
      matcher.on('data', (m: { index: number; seedOffset: number; data: Buffer }) => {
        matches.push(m);
        patcher.write(m);
      });
      // One buffer, refilled for every write as soon as the write has called back.
      const buf = Buffer.alloc(size);
      for (let o = 0; o < seed.length; o += size) {
        const n = seed.copy(buf, 0, o, o + size);
        await new Promise<void>((resolve, reject) => matcher.write(buf.subarray(0, n), (err?: Error | null) => (err ? reject(err) : resolve())));
        buf.fill(0xa5);
      }
      await new Promise<void>((resolve) => matcher.end(resolve));
      await new Promise<void>((resolve) => patcher.end(resolve));
      expect(matches.length, `chunks of ${size}`).to.be.greaterThan(250);
      for (const m of matches) {
        const window = Buffer.alloc(bs);
        seed.copy(window, 0, m.seedOffset, m.seedOffset + bs);
        expect(m.data.equals(window), `chunks of ${size}: match at ${m.seedOffset}`).to.equal(true);
      }
      // The blocks found are those of one whole-buffer scan, and each is in place with the target's bytes.
      const missing = matcher.missingBlocks();
      expect(missing).to.deep.equal(getInstructionsSync(seed, checksums).remote);
      const file = output.toBuffer();
      for (let i = 0; i < checksums.blockCount; i++) {
        if (missing.includes(i)) continue;
        const end = Math.min(target.length, (i + 1) * bs);
        expect(file.subarray(i * bs, end).equals(target.subarray(i * bs, end)), `chunks of ${size}: block ${i}`).to.equal(true);
      }
    }
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
