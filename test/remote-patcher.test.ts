/**
 * Fetched data is trusted only block by block: a block whose bytes fail its
 * strong checksum is refused (ERR_ZSYNC_BLOCK_CHECKSUM) and never written,
 * data outside the target is refused (ERR_ZSYNC_OUT_OF_RANGE), and what is
 * still missing lives in a state that several patch calls share (pyzsync's
 * partial patches), partly received blocks included. If this regresses, a
 * lying or broken server can plant bytes in the output, or a sync resumed in
 * several steps never completes.
 */
import { expect } from 'chai';
import { pipeline } from 'node:stream/promises';
import { BlockChecksumError } from '../lib/errors.js';
import { BlockAssembler, type RemoteChunk } from '../lib/engine/block-assembler.js';
import { MemoryFile } from '../lib/engine/positional.js';
import { RemotePatcherStream } from '../lib/engine/remote-patcher-stream.js';
import { TargetState } from '../lib/engine/target-state.js';
import { blockChecksumsSync, getBlocksSync, patchRemoteBlocks, patchRemoteBlocksSync } from '../lib/pyzsync-api.js';
import { chunksOf, makeFile } from './generators.js';

const BS = 64;
const target = makeFile(99, 10 * BS + 20, BS, 'random'); // 11 blocks, the last 20 bytes
const checksums = blockChecksumsSync(target, { blockSize: BS, seqMatches: 2, weakBytes: 3, strongBytes: 8 });

/** The target with one byte of block `b` flipped. */
function corrupted(b: number, at = 5): Buffer {
  const bad = Buffer.from(target);
  bad[b * BS + at]! ^= 0x40;
  return bad;
}

const blockBytes = (file: Buffer, b: number): Buffer => file.subarray(b * BS, Math.min((b + 1) * BS, target.length));

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(() => expect.fail('expected a rejection'), (err: unknown) => err);
}

describe('RemotePatcherStream refuses bad data', () => {
  it('a corrupted block fails the stream with ERR_ZSYNC_BLOCK_CHECKSUM naming the block, and its bytes are never written', async () => {
    const state = new TargetState(checksums);
    const output = new MemoryFile(Buffer.alloc(target.length)); // zeros before
    const err = await rejection(pipeline(chunksOf([{ offset: 0, data: corrupted(4) }]), new RemotePatcherStream(state, output)));
    expect(err).to.be.instanceOf(BlockChecksumError);
    expect(err).to.have.property('code', 'ERR_ZSYNC_BLOCK_CHECKSUM');
    expect(err).to.have.property('block', 4);
    expect(err).to.have.property('offset', 4 * BS);
    expect(blockBytes(output.toBuffer(), 4).equals(Buffer.alloc(BS))).to.equal(true);
    expect(state.has(4)).to.equal(false);
    // The good blocks of the same chunk were kept.
    for (const b of [0, 1, 2, 3, 5, 6, 7, 8, 9, 10]) {
      expect(state.has(b), `block ${b}`).to.equal(true);
      expect(blockBytes(output.toBuffer(), b).equals(blockBytes(target, b))).to.equal(true);
    }
  });

  it('a corrupted block leaves earlier content at its place untouched', async () => {
    const state = new TargetState(checksums);
    const output = new MemoryFile(Buffer.alloc(target.length, 0x55));
    const err = await rejection(pipeline(chunksOf([{ offset: 7 * BS, data: blockBytes(corrupted(7), 7) }]), new RemotePatcherStream(state, output)));
    expect(err).to.have.property('code', 'ERR_ZSYNC_BLOCK_CHECKSUM');
    expect(output.toBuffer().equals(Buffer.alloc(target.length, 0x55))).to.equal(true);
  });

  it('a corrupted block that arrives in pieces across chunks is refused once complete, and not written', async () => {
    const state = new TargetState(checksums);
    const output = new MemoryFile(Buffer.alloc(target.length));
    const bad = corrupted(2, 50);
    const pieces: RemoteChunk[] = [
      { offset: 2 * BS + 40, data: bad.subarray(2 * BS + 40, 3 * BS) },
      { offset: 2 * BS, data: bad.subarray(2 * BS, 2 * BS + 40) },
    ];
    const err = await rejection(pipeline(chunksOf(pieces), new RemotePatcherStream(state, output)));
    expect(err).to.have.property('code', 'ERR_ZSYNC_BLOCK_CHECKSUM');
    expect(err).to.have.property('block', 2);
    expect(output.toBuffer().equals(Buffer.alloc(target.length))).to.equal(true);
    expect(state.has(2)).to.equal(false);
    expect(state.partial.has(2)).to.equal(false);
  });

  it('a corrupted short last block is refused (checked zero padded, as zsyncmake sums it)', async () => {
    const state = new TargetState(checksums);
    const output = new MemoryFile(Buffer.alloc(target.length));
    const bad = corrupted(10, 3);
    const err = await rejection(pipeline(chunksOf([{ offset: 10 * BS, data: bad.subarray(10 * BS) }]), new RemotePatcherStream(state, output)));
    expect(err).to.have.property('block', 10);
    expect(output.toBuffer().equals(Buffer.alloc(target.length))).to.equal(true);
  });

  it("with onBadBlock 'skip' a bad block emits 'bad-block', stays missing, and the stream goes on", async () => {
    const state = new TargetState(checksums);
    const output = new MemoryFile(Buffer.alloc(target.length));
    const patcher = new RemotePatcherStream(state, output, { onBadBlock: 'skip' });
    const events: BlockChecksumError[] = [];
    patcher.on('bad-block', (e: BlockChecksumError) => events.push(e));
    await pipeline(chunksOf([{ offset: 0, data: corrupted(6) }]), patcher);
    expect(events).to.have.length(1);
    expect(events[0]).to.have.property('code', 'ERR_ZSYNC_BLOCK_CHECKSUM');
    expect(events[0]).to.have.property('block', 6);
    expect(patcher.badBlocks).to.equal(1);
    expect(state.missingBlocks()).to.deep.equal([6]);
    expect(blockBytes(output.toBuffer(), 6).equals(Buffer.alloc(BS))).to.equal(true);
    // Good data for it later completes the file.
    await pipeline(chunksOf([{ offset: 6 * BS, data: blockBytes(target, 6) }]), new RemotePatcherStream(state, output));
    expect(state.complete).to.equal(true);
    expect(output.toBuffer().equals(target)).to.equal(true);
  });

  it('whole blocks checked several per pass: in chunks of many blocks, at any offset and in any order, exactly the corrupted ones are refused', () => {
    // 150 blocks, the last one short: batches of 64 and SIMD passes of 8 end in
    // every position relative to the corrupted blocks and the chunk edges.
    const big = makeFile(7, 149 * BS + 33, BS, 'random');
    const sums = blockChecksumsSync(big, { blockSize: BS, seqMatches: 1, weakBytes: 4, strongBytes: 16 });
    const badBlocks = [0, 7, 8, 63, 64, 65, 100, 149];
    const sent = Buffer.from(big);
    for (const b of badBlocks) sent[b * BS + (b % BS)]! ^= 0x01;
    for (const cut of [1, 5 * BS + 3, 64 * BS, 70 * BS + 1]) {
      const state = new TargetState(sums);
      const assembler = new BlockAssembler(state);
      const got = Buffer.alloc(big.length);
      const refused: number[] = [];
      // Two chunks split at `cut`, the second one first.
      for (const chunk of [{ offset: cut, data: sent.subarray(cut) }, { offset: 0, data: sent.subarray(0, cut) }]) {
        const { runs, bad } = assembler.accept(chunk);
        for (const run of runs) {
          got.set(run.data, run.position);
          for (const b of run.blocks) state.add(b);
        }
        refused.push(...bad.map((e) => e.block));
      }
      expect(refused.sort((a, b) => a - b), `refused, cut at ${cut}`).to.deep.equal(badBlocks);
      // The same blocks again, now right: judged by these bytes, not the earlier ones'.
      const again = assembler.accept({ offset: 0, data: big });
      expect(again.bad).to.deep.equal([]);
      expect(again.runs.flatMap((r) => r.blocks)).to.deep.equal(badBlocks);
      expect(state.missingBlocks(), `cut at ${cut}`).to.deep.equal(badBlocks);
      for (let b = 0; b < 150; b++) {
        const want = badBlocks.includes(b) ? Buffer.alloc(Math.min(BS, big.length - b * BS)) : big.subarray(b * BS, Math.min((b + 1) * BS, big.length));
        expect(got.subarray(b * BS, Math.min((b + 1) * BS, big.length)).equals(want), `block ${b}, cut at ${cut}`).to.equal(true);
      }
    }
  });

  it('with verify off (pyzsync check_hashes=False) the data is taken as it is', async () => {
    const state = new TargetState(checksums);
    const output = new MemoryFile();
    await pipeline(chunksOf([{ offset: 0, data: corrupted(1) }]), new RemotePatcherStream(state, output, { verify: false }));
    expect(state.complete).to.equal(true);
    expect(output.toBuffer().equals(corrupted(1))).to.equal(true);
  });

  it('data at or beyond the end of the target, or at a negative offset, is ERR_ZSYNC_OUT_OF_RANGE', async () => {
    for (const offset of [target.length, target.length + 1000, -1]) {
      const state = new TargetState(checksums);
      const err = await rejection(pipeline(chunksOf([{ offset, data: Buffer.alloc(10) }]), new RemotePatcherStream(state, new MemoryFile())));
      expect(err, `offset ${offset}`).to.have.property('code', 'ERR_ZSYNC_OUT_OF_RANGE');
      expect(() => patchRemoteBlocksSync([{ offset, data: Buffer.alloc(10) }], Buffer.alloc(target.length), state)).to.throw().with.property('code', 'ERR_ZSYNC_OUT_OF_RANGE');
    }
  });

  it('patchRemoteBlocksSync refuses a corrupted block the same way and leaves the result as it was there', () => {
    const state = new TargetState(checksums);
    const result = Buffer.alloc(target.length);
    expect(() => patchRemoteBlocksSync([{ offset: 3 * BS, data: blockBytes(corrupted(3), 3) }], result, state))
      .to.throw(BlockChecksumError).with.property('block', 3);
    expect(result.equals(Buffer.alloc(target.length))).to.equal(true);
    expect(state.missingCount).to.equal(11);
  });
});

describe('partial patches: the state carries what is missing from one call to the next', () => {
  const all = Array.from({ length: checksums.blockCount }, (_, i) => i);

  it('patchRemoteBlocks called twice, with each half of the blocks, completes the file', async () => {
    const state = new TargetState(checksums);
    const output = new MemoryFile();
    const blocks = getBlocksSync(target, all, checksums.params).flatMap((c) =>
      // one chunk per block, as pyzsync's get_blocks yields them
      Array.from({ length: Math.ceil(c.data.length / BS) }, (_, i) => ({ offset: c.offset + i * BS, data: c.data.subarray(i * BS, (i + 1) * BS) })));
    const pivot = Math.floor(blocks.length / 2);
    await patchRemoteBlocks(blocks.slice(0, pivot), output, state);
    expect(state.missingBlocks()).to.deep.equal(all.slice(pivot));
    await patchRemoteBlocks(blocks.slice(pivot), output, state);
    expect(state.complete).to.equal(true);
    expect(output.toBuffer().equals(target)).to.equal(true);
  });

  it('a block split in the middle across two calls is kept in part, then completed by the second call', async () => {
    const state = new TargetState(checksums);
    const output = new MemoryFile();
    const cut = 5 * BS + 17;
    await patchRemoteBlocks([{ offset: 0, data: target.subarray(0, cut) }], output, state);
    expect(state.missingBlocks()).to.deep.equal([5, 6, 7, 8, 9, 10]);
    expect(state.partial.has(5)).to.equal(true);
    await patchRemoteBlocks([{ offset: cut, data: target.subarray(cut) }], output, state);
    expect(state.complete).to.equal(true);
    expect(state.partial.size).to.equal(0);
    expect(output.toBuffer().equals(target)).to.equal(true);
  });

  it('the Sync form does the same with halves split mid-block, in reverse order', () => {
    const state = new TargetState(checksums);
    const result = Buffer.alloc(target.length);
    const cut = 3 * BS + 1;
    patchRemoteBlocksSync([{ offset: cut, data: target.subarray(cut) }], result, state);
    expect(state.missingBlocks()).to.deep.equal([0, 1, 2, 3]);
    patchRemoteBlocksSync([{ offset: 0, data: target.subarray(0, cut) }], result, state);
    expect(state.complete).to.equal(true);
    expect(result.equals(target)).to.equal(true);
  });

  it('data for blocks already present is ignored, even when it is wrong', async () => {
    const state = new TargetState(checksums);
    const output = new MemoryFile();
    await patchRemoteBlocks([{ offset: 0, data: target }], output, state);
    await patchRemoteBlocks([{ offset: 0, data: corrupted(0) }], output, state);
    expect(output.toBuffer().equals(target)).to.equal(true);
  });
});
