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
import fc from 'fast-check';
import { pipeline } from 'node:stream/promises';
import { BlockChecksumError } from '../lib/errors.js';
import { BlockAssembler, type RemoteChunk } from '../lib/engine/block-assembler.js';
import { MemoryFile } from '../lib/engine/positional.js';
import { RemotePatcherStream } from '../lib/engine/remote-patcher-stream.js';
import { TargetState } from '../lib/engine/target-state.js';
import { blockChecksumsSync, getBlocksSync, patchRemoteBlocks, patchRemoteBlocksSync } from '../lib/pyzsync-api.js';
import { between, chunksOf, makeFile, prng, randomChunks, randomMaxChunk, shuffle } from './generators.js';

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

describe('BlockAssembler.acceptRuns hands over what accept() returns, run by run', () => {
  interface Run {
    position: number;
    data: Uint8Array;
    blocks: number[];
  }

  /** acceptRuns() of one chunk, its runs as accept() lists them; each run's blocks marked present as it comes, as the fetch does. */
  function byRuns(assembler: BlockAssembler, chunk: RemoteChunk): { runs: Run[]; bad: BlockChecksumError[] } {
    const runs: Run[] = [];
    const bad: BlockChecksumError[] = [];
    assembler.acceptRuns(
      chunk,
      (position, data, first, count) => {
        expect(count, 'a run has a block at least').to.be.at.least(1);
        const blocks = Array.from({ length: count }, (_, k) => first + k);
        runs.push({ position, data, blocks });
        for (const b of blocks) assembler.state.add(b);
      },
      (err) => bad.push(err),
    );
    return { runs, bad };
  }

  /** accept() of one chunk; its runs' blocks marked present once it returns. */
  function byAccept(assembler: BlockAssembler, chunk: RemoteChunk): { runs: Run[]; bad: BlockChecksumError[] } {
    const got = assembler.accept(chunk);
    for (const run of got.runs) for (const b of run.blocks) assembler.state.add(b);
    return got;
  }

  /**
   * What a chunk must complete, worked out byte by byte from what has arrived
   * before it: a block of the target is good when its bytes are the target's.
   * A run of whole blocks is the stretch of the chunk where they lie; a block
   * put together from parts is a run of its own, of bytes of its own.
   */
  class Reference {
    readonly present: boolean[];
    readonly parts = new Map<number, { bytes: Buffer; have: Uint8Array }>();
    constructor(readonly file: Buffer, readonly bs: number, present: boolean[]) {
      this.present = [...present];
    }

    accept(chunk: RemoteChunk): { runs: Run[]; bad: number[] } {
      const { file, bs } = this;
      const runs: Run[] = [];
      const bad: number[] = [];
      if (chunk.data.length === 0) return { runs, bad }; // nothing arrived
      const end = Math.min(chunk.offset + chunk.data.length, file.length);
      let run: Run | undefined;
      const close = (): void => {
        if (run) runs.push(run);
        run = undefined;
      };
      for (let i = Math.floor(chunk.offset / bs); i * bs < end; i++) {
        const start = i * bs;
        const stop = Math.min(start + bs, file.length);
        const want = file.subarray(start, stop);
        if (this.present[i]) {
          close();
          continue;
        }
        const from = Math.max(chunk.offset, start);
        const to = Math.min(end, stop);
        const bytes = chunk.data.subarray(from - chunk.offset, to - chunk.offset);
        if (from === start && to === stop && !this.parts.has(i)) {
          if (!Buffer.from(bytes).equals(want)) {
            bad.push(i);
            close();
            continue;
          }
          if (run === undefined) run = { position: start, data: bytes, blocks: [] };
          else run.data = chunk.data.subarray(run.position - chunk.offset, stop - chunk.offset);
          run.blocks.push(i);
          this.present[i] = true;
          continue;
        }
        close();
        let part = this.parts.get(i);
        if (!part) this.parts.set(i, (part = { bytes: Buffer.alloc(bs), have: new Uint8Array(bs) }));
        part.bytes.set(bytes, from - start);
        part.have.fill(1, from - start, to - start);
        if (part.have.subarray(0, stop - start).includes(0)) continue;
        this.parts.delete(i);
        const whole = part.bytes.subarray(0, stop - start);
        if (!whole.equals(want)) {
          bad.push(i);
          continue;
        }
        runs.push({ position: start, data: Buffer.from(whole), blocks: [i] });
        this.present[i] = true;
      }
      close();
      return { runs, bad };
    }
  }

  interface Case {
    file: Buffer;
    bs: number;
    present: boolean[];
    chunks: RemoteChunk[];
  }

  /**
   * A target, blocks already present, and chunks for it: several passes over
   * random stretches of it, each cut at random (mid-block too), some chunks
   * with a byte flipped, some reaching past the end, a few empty, all in one
   * list shuffled or not (so chunks overlap, repeat and come in any order).
   */
  const caseArb: fc.Arbitrary<Case> = fc
    .record({ bs: fc.constantFrom(16, 64), blocks: fc.integer({ min: 1, max: 150 }), tail: fc.nat(63), seed: fc.integer() })
    .map(({ bs, blocks, tail, seed }) => {
      const rand = prng(seed);
      const length = blocks * bs + (tail % bs);
      const file = makeFile(seed, length, bs, 'mixed');
      const count = Math.ceil(length / bs);
      const present = Array.from({ length: count }, () => rand() % 8 === 0);
      const chunks: RemoteChunk[] = [];
      const passes = between(rand, 1, 4);
      for (let p = 0; p < passes; p++) {
        let from = 0;
        let to = length;
        if (rand() % 2 === 0) {
          from = between(rand, 0, length - 1);
          to = between(rand, from + 1, length);
        }
        // The whole target with some chunks' bytes corrupted, and junk past its end.
        const sent = Buffer.concat([file, Buffer.alloc(16, 0x5a)]);
        let at = from;
        // A hundred chunks a pass at most: one-byte chunks of small stretches only.
        const maxChunk = Math.max(randomMaxChunk(rand, bs, to - from), Math.ceil((to - from) / 50));
        for (const piece of randomChunks(sent.subarray(from, to), rand, maxChunk)) {
          let data: Uint8Array = piece;
          if (rand() % 5 === 0) {
            // A copy with a byte flipped, a view into a bigger buffer as a transport's chunks are.
            const copy = Buffer.from(sent.subarray(Math.max(0, at - 7), at + piece.length));
            const skip = at - Math.max(0, at - 7);
            copy[skip + (rand() % piece.length)]! ^= 1 << rand() % 8;
            data = copy.subarray(skip);
          }
          if (at + piece.length === length && rand() % 3 === 0) data = sent.subarray(at, length + between(rand, 1, 16));
          chunks.push({ offset: at, data });
          at += piece.length;
        }
      }
      for (let k = rand() % 3; k > 0; k--) chunks.push({ offset: rand() % (length + 10), data: new Uint8Array(0) });
      if (rand() % 4 !== 0) shuffle(chunks, rand);
      return { file, bs, present, chunks };
    });

  it('gives the same runs and bad blocks as accept(), and what the bytes received say, for any chunks in any order (fast-check)', () => {
    // What the cases reached, over all of them.
    const reached = { runsFromParts: 0, longRuns: 0, bad: 0, skippedPresent: 0 };
    fc.assert(
      fc.property(caseArb, ({ file, bs, present, chunks }) => {
        const sums = blockChecksumsSync(file, { blockSize: bs, seqMatches: 1, weakBytes: 4, strongBytes: 16 });
        const states = [new TargetState(sums), new TargetState(sums)] as const;
        for (const state of states) present.forEach((p, i) => p && state.add(i));
        const [viaRuns, viaAccept] = states.map((s) => new BlockAssembler(s));
        const reference = new Reference(file, bs, present);
        for (const chunk of chunks) {
          const got = byRuns(viaRuns!, chunk);
          const accepted = byAccept(viaAccept!, chunk);
          const presentBefore = [...reference.present];
          const want = reference.accept(chunk);
          reached.runsFromParts += want.runs.filter((r) => r.data.buffer !== chunk.data.buffer).length;
          reached.longRuns += want.runs.filter((r) => r.blocks.length > 8).length;
          reached.bad += want.bad.length;
          if (chunk.data.length > 0) reached.skippedPresent += presentBefore.slice(Math.floor(chunk.offset / bs), Math.ceil((chunk.offset + chunk.data.length) / bs)).filter(Boolean).length;
          const at = `chunk at ${chunk.offset} of ${chunk.data.length}`;
          // Each run as position, blocks and bytes, and where its bytes lie:
          // in the chunk at the run's place, or not in the chunk (a block from parts).
          const runs = (list: Run[]): string => list.map((r) => {
            const inChunk = r.data.buffer === chunk.data.buffer && r.data.byteOffset === chunk.data.byteOffset + r.position - chunk.offset;
            return `${r.position} [${r.blocks.join()}] ${r.data.length} ${inChunk ? 'view of the chunk' : 'own bytes'} ${Buffer.from(r.data.buffer, r.data.byteOffset, r.data.length).toString('hex')}`;
          }).join('\n');
          const bad = (list: BlockChecksumError[]): string => list.map((e) => `${e.block}@${e.offset}`).join();
          // (Compared first without chai: thousands of chunks.)
          const same = (a: string, b: string, what: string): void => {
            if (a !== b) expect(a, `${at}: ${what}`).to.equal(b);
          };
          // The same as accept()...
          same(runs(got.runs), runs(accepted.runs), "runs, against accept()'s");
          same(bad(got.bad), bad(accepted.bad), "bad blocks, against accept()'s");
          // ...and what the bytes say: a run of whole blocks is a view of the
          // chunk where they lie, a block from parts has bytes of its own.
          same(runs(got.runs), runs(want.runs), 'runs, against what the bytes say');
          same(bad(got.bad), want.bad.map((b) => `${b}@${b * bs}`).join(), 'bad blocks, against what the bytes say');
          for (const r of got.runs) same(String(r.data.length), String(Math.min(r.position + r.blocks.length * bs, file.length) - r.position), `length of the run at ${r.position}`);
          // Both states alike, and as the bytes say: present blocks, and blocks held in part.
          const presentNow = reference.present.map((p) => (p ? 1 : 0)).join('');
          same(states[0].present.join(''), presentNow, 'present blocks (acceptRuns)');
          same(states[1].present.join(''), presentNow, 'present blocks (accept)');
          const partsNow = [...reference.parts.keys()].sort((a, b) => a - b).join();
          same([...states[0].partial.keys()].sort((a, b) => a - b).join(), partsNow, 'blocks held in part (acceptRuns)');
          same([...states[1].partial.keys()].sort((a, b) => a - b).join(), partsNow, 'blocks held in part (accept)');
        }
      }),
      { numRuns: 300 },
    );
    for (const [what, n] of Object.entries(reached)) expect(n, what).to.be.greaterThan(20);
  });

  it('a run is a maximal stretch of consecutive whole blocks of the chunk: a present block or a bad one ends it', () => {
    const state = new TargetState(checksums);
    state.add(3);
    const sent = corrupted(7);
    const chunk = { offset: 0, data: sent.subarray(0, 11 * BS) }; // every block, the short last one too
    const { runs, bad } = byRuns(new BlockAssembler(state), chunk);
    expect(runs.map((r) => r.blocks)).to.deep.equal([[0, 1, 2], [4, 5, 6], [8, 9, 10]]);
    expect(runs.map((r) => r.position)).to.deep.equal([0, 4 * BS, 8 * BS]);
    expect(runs.map((r) => r.data.length)).to.deep.equal([3 * BS, 3 * BS, 2 * BS + 20]);
    for (const r of runs) {
      expect(r.data.buffer).to.equal(sent.buffer);
      expect(r.data.byteOffset).to.equal(sent.byteOffset + r.position);
      expect(Buffer.from(r.data).equals(target.subarray(r.position, r.position + r.data.length))).to.equal(true);
    }
    expect(bad.map((e) => e.block)).to.deep.equal([7]);
    expect(state.missingBlocks()).to.deep.equal([7]);
  });

  it('a block completed from parts is a run of its own, of its own bytes, between the runs of the chunk that completes it', () => {
    const state = new TargetState(checksums);
    const assembler = new BlockAssembler(state);
    // The end of block 2 first: held in part, nothing handed over.
    const first = byRuns(assembler, { offset: 2 * BS + 10, data: target.subarray(2 * BS + 10, 3 * BS) });
    expect(first.runs).to.deep.equal([]);
    expect(state.partial.has(2)).to.equal(true);
    // Then blocks 0 to 4 whole: block 2 lies whole in this chunk too, but is finished from its parts.
    const chunk = { offset: 0, data: Buffer.from(target.subarray(0, 5 * BS)) };
    const { runs, bad } = byRuns(assembler, chunk);
    expect(bad).to.deep.equal([]);
    expect(runs.map((r) => r.blocks)).to.deep.equal([[0, 1], [2], [3, 4]]);
    expect(runs.map((r) => r.position)).to.deep.equal([0, 2 * BS, 3 * BS]);
    expect(runs[0]!.data.buffer).to.equal(chunk.data.buffer);
    expect(runs[1]!.data.buffer).to.not.equal(chunk.data.buffer);
    expect(runs[2]!.data.buffer).to.equal(chunk.data.buffer);
    for (const r of runs) expect(Buffer.from(r.data).equals(target.subarray(r.position, r.position + r.blocks.length * BS))).to.equal(true);
    expect(state.partial.size).to.equal(0);
    expect(state.missingBlocks()).to.deep.equal([5, 6, 7, 8, 9, 10]);
  });

  it('a block finished by a chunk that starts inside it is a run of its own, before the run of the whole blocks after it', () => {
    const state = new TargetState(checksums);
    const assembler = new BlockAssembler(state);
    byRuns(assembler, { offset: 4 * BS, data: target.subarray(4 * BS, 4 * BS + 30) });
    const { runs } = byRuns(assembler, { offset: 4 * BS + 30, data: target.subarray(4 * BS + 30) });
    expect(runs.map((r) => r.blocks)).to.deep.equal([[4], [5, 6, 7, 8, 9, 10]]);
    expect(Buffer.from(runs[0]!.data).equals(blockBytes(target, 4))).to.equal(true);
    expect(state.missingBlocks()).to.deep.equal([0, 1, 2, 3]);
  });
});
