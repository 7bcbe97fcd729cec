/**
 * matchSeed(), the sync's scan loop, in its two ways of writing: straight from
 * the seed's chunk inside the matcher's callback (a writer with writeSync, as
 * the scan threads have), or by copies kept until the chunk is done (a writer
 * that may ask to wait). Both must find the same blocks and write their bytes,
 * whatever the chunks' sizes, with the chunk's buffer written over as soon as
 * the loop asks for the next one.
 */
import { expect } from 'chai';
import { closeSync, ftruncateSync, openSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BlockIndex } from '../lib/engine/block-index.js';
import { blockSpan } from '../lib/engine/params.js';
import { MemoryFile, type PositionalWriter } from '../lib/engine/positional.js';
import { TargetState } from '../lib/engine/target-state.js';
import { blockChecksumsSync } from '../lib/pyzsync-api.js';
import { matchSeed, type MatchSeedOptions, type MatchSeedResult } from '../lib/sync/match-seed.js';
import { readChunksSync, syncWriter } from '../lib/sync/sync-io.js';
import { prng } from './generators.js';
import { makePair, rejection, seededBytes } from './support/sync-fixtures.js';

describe('matchSeed', function () {
  this.timeout(60_000);
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'zs-match-seed-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** The seed's bytes in chunks of uneven sizes, all in one buffer that is scribbled over once the loop moves on. */
  const unevenChunks = (seed: Buffer, blockSize: number) =>
    function* (_path: string, start: number): Generator<Buffer> {
      const sizes = [5 * blockSize + 3, 7, blockSize, 3 * blockSize - 1, 65_537];
      const buf = Buffer.alloc(70_000);
      let i = 0;
      for (let at = start; at < seed.length; ) {
        const n = Math.min(sizes[i++ % sizes.length]!, seed.length - at);
        seed.copy(buf, 0, at, at + n);
        at += n;
        yield buf.subarray(0, n);
        buf.fill(0xa5);
      }
    };

  for (const [blockSize, seqMatches] of [[1024, 2], [2048, 1]] as const) {
    it(`writes from the chunk what it would write from copies, the same blocks and counts (${blockSize}-byte blocks, seqMatches ${seqMatches})`, async () => {
      for (let s = 1; s <= 4; s++) {
        const { oldData, newData } = makePair(s * 7 + blockSize, 400_000 + s * 33_333);
        const sums = blockChecksumsSync(newData, { blockSize, seqMatches, weakBytes: seqMatches === 2 ? 3 : 4, strongBytes: seqMatches === 2 ? 5 : 8 });
        const path = join(dir, `seed-${blockSize}-${s}`);
        await writeFile(path, oldData);
        const read = unevenChunks(oldData, blockSize);
        const direct = new MemoryFile(Buffer.alloc(newData.length, 0xee));
        const copied = new MemoryFile(Buffer.alloc(newData.length, 0xee));
        // No writeSync: the run writer copies, and may ask to wait.
        const copying: PositionalWriter = { write: copied.write.bind(copied) };
        const directState = new TargetState(sums);
        const copiedState = new TargetState(sums);
        const byDirect = await matchSeed(path, new BlockIndex(sums), directState, direct, { read });
        const byCopies = await matchSeed(path, new BlockIndex(sums), copiedState, copying, { read });

        expect([...directState.present]).to.deep.equal([...copiedState.present]);
        expect(byDirect).to.deep.equal(byCopies);
        let found = 0;
        for (let i = 0; i < directState.present.length; i++) {
          if (directState.present[i] !== 1) continue;
          found++;
          const { start, end } = blockSpan({ blockSize, length: newData.length }, i);
          expect(direct.toBuffer().subarray(start, end).equals(newData.subarray(start, end)), `block ${i}, written from the chunk`).to.equal(true);
          expect(copied.toBuffer().subarray(start, end).equals(newData.subarray(start, end)), `block ${i}, written from copies`).to.equal(true);
        }
        expect(byDirect.blocks).to.equal(found);
        expect(found).to.be.greaterThan(0);
      }
    });
  }

  it('fails with the error of a synchronous write that fails inside the scan', async () => {
    const { oldData, newData } = makePair(5, 300_000);
    const sums = blockChecksumsSync(newData, { blockSize: 1024 });
    const path = join(dir, 'failing-write');
    await writeFile(path, oldData);
    let calls = 0;
    const failing: PositionalWriter = {
      write: () => Promise.resolve({ bytesWritten: 0 }),
      writeSync: (_buffer, _offset, length) => {
        if (++calls === 2) throw Object.assign(new Error('EIO: i/o error, write'), { code: 'EIO' });
        return length;
      },
    };
    const err = await matchSeed(path, new BlockIndex(sums), new TargetState(sums), failing).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).to.have.property('code', 'EIO');
  });

  // The split scan's threads read the seed synchronously and write what they
  // find synchronously (syncWriter): matchSeed then scans its chunks in
  // batches of a plain function, awaiting only a turn of the event loop
  // between batches. It must be the scan that reads the same chunks as an
  // async iterable, and still stop, close the reader and let the loop run.
  describe('with synchronous reads into a synchronous writer (the batch path)', () => {
    const CHUNK = 8192;

    interface Reads {
      /** Chunks handed out. */
      chunks: number;
      /** The reader's finally ran (it was closed, or ran to its end). */
      closed: boolean;
    }

    /** Synchronous reads of the seed in CHUNK-byte chunks (readChunksSync), counted, with a finally that records its closing. */
    const syncRead = (reads: Reads) =>
      function* (path: string, start: number, end: number | undefined): Generator<Buffer> {
        try {
          for (const chunk of readChunksSync(path, start, end, CHUNK)) {
            reads.chunks++;
            yield chunk;
          }
        } finally {
          reads.closed = true;
        }
      };

    /** The same chunks as an async iterable: the loop that awaits each chunk. */
    const asyncRead = (reads: Reads) =>
      async function* (path: string, start: number, end: number | undefined): AsyncGenerator<Buffer> {
        yield* syncRead(reads)(path, start, end);
      };

    /** matchSeed into a fresh file through syncWriter(fd); the file's bytes after. */
    async function scanInto(name: string, length: number, run: (output: ReturnType<typeof syncWriter>) => Promise<MatchSeedResult>): Promise<{ result: MatchSeedResult; file: Buffer }> {
      const outPath = join(dir, name);
      const fd = openSync(outPath, 'w+');
      try {
        ftruncateSync(fd, length);
        const result = await run(syncWriter(fd));
        return { result, file: readFileSync(outPath) };
      } finally {
        closeSync(fd);
      }
    }

    const cases = [
      { blockSize: 1024, seqMatches: 2, stretches: undefined },
      { blockSize: 2048, seqMatches: 1, stretches: undefined },
      // Two stretches, each on its own (the scan worker's segments), the first ending mid-chunk.
      { blockSize: 1024, seqMatches: 2, stretches: [{ start: 0, end: 200_003 }, { start: 190_000, end: undefined }] },
    ] as const;
    for (const { blockSize, seqMatches, stretches } of cases) {
      it(`finds, writes and reports what the scan of the same chunks as an async iterable does (${blockSize}-byte blocks, seqMatches ${seqMatches}${stretches ? ', two stretches' : ''})`, async () => {
        for (let s = 1; s <= 3; s++) {
          const { oldData, newData } = makePair(s * 11 + blockSize, 350_000 + s * 40_000);
          const sums = blockChecksumsSync(newData, { blockSize, seqMatches, weakBytes: seqMatches === 2 ? 3 : 4, strongBytes: seqMatches === 2 ? 5 : 8 });
          const path = join(dir, `batch-seed-${blockSize}-${s}`);
          await writeFile(path, oldData);
          const options = (read: MatchSeedOptions['read'], progress: number[]): MatchSeedOptions => ({ read, onProgress: (n) => progress.push(n), ...(stretches ? { stretches } : {}) });
          const syncReads: Reads = { chunks: 0, closed: false };
          const asyncReads: Reads = { chunks: 0, closed: false };
          const syncProgress: number[] = [];
          const asyncProgress: number[] = [];
          const syncState = new TargetState(sums);
          const asyncState = new TargetState(sums);
          const bySync = await scanInto(`batch-sync-${blockSize}-${s}`, newData.length, (out) => matchSeed(path, new BlockIndex(sums), syncState, out, options(syncRead(syncReads), syncProgress)));
          const byAsync = await scanInto(`batch-async-${blockSize}-${s}`, newData.length, (out) => matchSeed(path, new BlockIndex(sums), asyncState, out, options(asyncRead(asyncReads), asyncProgress)));

          expect(syncReads.chunks, 'several batches of chunks').to.be.greaterThan(16);
          expect(bySync.result).to.deep.equal(byAsync.result);
          expect(syncProgress).to.deep.equal(asyncProgress);
          expect(syncReads).to.deep.equal(asyncReads);
          expect(Buffer.from(syncState.present).equals(Buffer.from(asyncState.present))).to.equal(true);
          expect(bySync.file.equals(byAsync.file), 'the same bytes written').to.equal(true);
          let found = 0;
          for (let i = 0; i < syncState.present.length; i++) {
            if (syncState.present[i] !== 1) continue;
            found++;
            const { start, end } = blockSpan({ blockSize, length: newData.length }, i);
            expect(bySync.file.subarray(start, end).equals(newData.subarray(start, end)), `block ${i}`).to.equal(true);
          }
          expect(bySync.result.blocks).to.equal(found);
          expect(found).to.be.greaterThan(0);
          expect(found).to.be.below(syncState.present.length);
        }
      });
    }

    it('an AbortSignal aborted mid-scan rejects with ERR_ZSYNC_ABORTED, stops reading, and closes the reader', async () => {
      const { oldData, newData } = makePair(41, 400_000);
      const sums = blockChecksumsSync(newData, { blockSize: 1024 });
      const path = join(dir, 'batch-abort');
      await writeFile(path, oldData);
      const reads: Reads = { chunks: 0, closed: false };
      const controller = new AbortController();
      let progressAfterAbort = 0;
      let abortedAt = 0;
      const err = await rejection(
        scanInto('batch-abort-out', newData.length, (out) =>
          matchSeed(path, new BlockIndex(sums), new TargetState(sums), out, {
            read: syncRead(reads),
            signal: controller.signal,
            onProgress: () => {
              if (controller.signal.aborted) progressAfterAbort++;
              // Inside the third chunk's batch: no turn of the event loop between.
              if (reads.chunks === 3) {
                controller.abort();
                abortedAt = reads.chunks;
              }
            },
          }),
        ),
      );
      expect(err).to.have.property('code', 'ERR_ZSYNC_ABORTED');
      expect(reads.closed, "the reader's finally ran").to.equal(true);
      expect(progressAfterAbort).to.equal(0);
      expect(reads.chunks - abortedAt, 'chunks read after the abort').to.equal(0);
      expect(reads.chunks).to.be.below(Math.ceil(oldData.length / CHUNK));
    });

    it('an AbortSignal aborted before the scan rejects with ERR_ZSYNC_ABORTED and reads nothing', async () => {
      const { oldData, newData } = makePair(42, 200_000);
      const sums = blockChecksumsSync(newData, { blockSize: 1024 });
      const path = join(dir, 'batch-abort-before');
      await writeFile(path, oldData);
      const reads: Reads = { chunks: 0, closed: false };
      const err = await rejection(scanInto('batch-abort-before-out', newData.length, (out) => matchSeed(path, new BlockIndex(sums), new TargetState(sums), out, { read: syncRead(reads), signal: AbortSignal.abort() })));
      expect(err).to.have.property('code', 'ERR_ZSYNC_ABORTED');
      // The signal is checked before each read: the reader was never started,
      // so it opened nothing (and has no finally to run).
      expect(reads.chunks).to.equal(0);
      expect(reads.closed).to.equal(false);
    });

    it('stops once the target is complete, closing the reader, without reading the rest of the seed', async () => {
      // The target whole (whole blocks: a short last one is found only zero padded, at a seed's end), then 1.5 MB that the scan need not read.
      const target = seededBytes(prng(43), 100 * 1024);
      const seed = Buffer.concat([target, seededBytes(prng(44), 1_500_000)]);
      const sums = blockChecksumsSync(target, { blockSize: 1024 });
      const path = join(dir, 'batch-complete');
      await writeFile(path, seed);
      const reads: Reads = { chunks: 0, closed: false };
      const state = new TargetState(sums);
      const { result, file } = await scanInto('batch-complete-out', target.length, (out) => matchSeed(path, new BlockIndex(sums), state, out, { read: syncRead(reads) }));
      expect(state.complete).to.equal(true);
      expect(file.equals(target)).to.equal(true);
      expect(reads.closed, "the reader's finally ran").to.equal(true);
      // Not a chunk past the one that completed it.
      expect(reads.chunks).to.be.at.most(Math.ceil(target.length / CHUNK) + 1);
      expect(result.bytesRead).to.equal(reads.chunks * CHUNK);
      expect(result.blocks).to.equal(sums.blockCount);
    });

    it('gives the event loop a turn every few chunks of a long synchronous scan', async () => {
      const { oldData, newData } = makePair(45, 600_000);
      const sums = blockChecksumsSync(newData, { blockSize: 1024 });
      const path = join(dir, 'batch-turns');
      await writeFile(path, oldData);
      const reads: Reads = { chunks: 0, closed: false };
      // A turn of the loop, each noting how many chunks had been read by then.
      const turns: number[] = [];
      let scanning = true;
      const turn = (): void => {
        if (!scanning) return;
        turns.push(reads.chunks);
        setImmediate(turn);
      };
      setImmediate(turn);
      let timerAt = -1;
      setTimeout(() => (timerAt = reads.chunks), 0);
      const total = Math.ceil(oldData.length / CHUNK);
      await scanInto('batch-turns-out', newData.length, async (out) => {
        try {
          return await matchSeed(path, new BlockIndex(sums), new TargetState(sums), out, { read: syncRead(reads) });
        } finally {
          scanning = false;
        }
      });
      expect(reads.chunks).to.equal(total);
      expect(total).to.be.greaterThan(8 * 6);
      // The first turn comes before the scan ends, and the turns keep coming: at most 8 chunks apart.
      expect(turns[0], 'chunks read at the first turn').to.be.within(1, 8);
      const during = turns.filter((n) => n < total);
      expect(during.length).to.be.at.least(Math.floor(total / 8) - 1);
      for (let i = 1; i < turns.length; i++) expect(turns[i]! - turns[i - 1]!, `turn ${i}`).to.be.at.most(8);
      // A timer set before the scan fires during it, too.
      expect(timerAt, 'chunks read when the timer fired').to.be.within(1, total - 1);
    });
  });
});
