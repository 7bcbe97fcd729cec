/**
 * The seed scan over two threads (lib/sync/split-scan.ts): on random edited
 * pairs it must find every block the single-thread scan finds (a superset or
 * the same) and write exactly the target's bytes for them; through zsync() it
 * must give a byte-identical OUTPUT; a scan worker that dies must fail the sync
 * with ERR_ZSYNC_SCAN_WORKER, promptly, leaving OUTPUT untouched; and the
 * helper threads stay within the process-wide budget.
 */
import { expect } from 'chai';
import { mkdir, mkdtemp, open, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { BlockIndex } from '../lib/engine/block-index.js';
import { blockSpan } from '../lib/engine/params.js';
import { TargetState } from '../lib/engine/target-state.js';
import { acquireHelperThread, helperThreadAvailable, maxHelperThreads } from '../lib/parallel/thread-budget.js';
import { blockChecksumsSync } from '../lib/pyzsync-api.js';
import { matchSeed } from '../lib/sync/match-seed.js';
import { PrefixHasher } from '../lib/sync/prefix-hasher.js';
import { readChunksSync } from '../lib/sync/sync-io.js';
import { hasBit, packBits } from '../lib/sync/block-bits.js';
import { matchSeedSplit, SeedScanHelper } from '../lib/sync/split-scan.js';
import type { WorkerHandOff } from '../lib/parallel/worker-hand-off.js';
import { zsync } from '../lib/zsync.js';
import { startFaultServer, type FaultServer } from './support/fault-server.js';
import { makePair, outputChecks, rejection, zsyncmake } from './support/sync-fixtures.js';
import { needTool } from './support/tools.js';

/**
 * Waits for a free helper thread: a hash worker of an earlier test gives its
 * slot back only once its thread has exited, and with two cores there is one.
 */
async function helperFree(): Promise<void> {
  for (let i = 0; i < 500 && !helperThreadAvailable(); i++) await new Promise((r) => setTimeout(r, 10));
  expect(helperThreadAvailable(), 'a helper thread is free').to.equal(true);
}

describe('seed scan over two threads', function () {
  this.timeout(60_000);
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'zs-split-'));
  });
  after(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** Scans `seed` for `target`'s blocks into a fresh file, on one thread or two. */
  async function scan(target: Buffer, seed: Buffer, blockSize: number, seqMatches: 1 | 2, split: boolean, name: string, segments: { segmentSize?: number; mainSegments?: number } = {}): Promise<{ present: Uint8Array; file: Buffer; blocks: number; bytesReused: number; bytesRead: number }> {
    const sums = blockChecksumsSync(target, { blockSize, seqMatches, weakBytes: seqMatches === 2 ? 3 : 4, strongBytes: seqMatches === 2 ? 5 : 8 });
    const seedPath = join(dir, `${name}.seed`);
    const outPath = join(dir, `${name}.out`);
    await writeFile(seedPath, seed);
    const out = await open(outPath, 'w+');
    await out.truncate(target.length);
    const index = new BlockIndex(sums);
    const state = new TargetState(sums);
    if (split) await helperFree();
    const helper = split ? SeedScanHelper.start(sums, outPath) : undefined;
    if (split) expect(helper, 'a helper thread is free').to.not.equal(undefined);
    try {
      const r = helper ? await matchSeedSplit(seedPath, seed.length, index, state, out, helper, segments) : await matchSeed(seedPath, index, state, out);
      return { present: state.present, file: await readFile(outPath), blocks: r.blocks, bytesReused: r.bytesReused, bytesRead: r.bytesRead };
    } finally {
      await helper?.close();
      await out.close();
    }
  }

  // How the seed is cut and shared: the default (a 32nd of the seed) and the
  // smallest segments allowed (twice the overlap: the most boundaries), each
  // with the worker taking all but the main thread's first one or two (so the
  // worker's stretches, overlaps and padded tail are what is tested; left to
  // itself, the main thread would take them all before a worker started
  // through tsx asks); segments as they come; and a single segment.
  const SPLITS: Array<{ segmentSize?: number; mainSegments?: number }> = [
    { mainSegments: 1 },
    { segmentSize: 1, mainSegments: 2 },
    { segmentSize: 150_000, mainSegments: 1 },
    { segmentSize: 1 },
    { segmentSize: 1 << 30 },
  ];
  for (const [blockSize, seqMatches] of [[1024, 2], [2048, 1], [4096, 2]] as const) {
    it(`finds at least the single scan's blocks, with the target's bytes, reading the seed once (${blockSize}-byte blocks, seqMatches ${seqMatches})`, async () => {
      for (let seed = 1; seed <= SPLITS.length; seed++) {
        const { oldData, newData } = makePair(seed * 31 + blockSize, 700_000 + seed * 50_000);
        const split = SPLITS[seed - 1]!;
        const one = await scan(newData, oldData, blockSize, seqMatches, false, `one-${seed}`);
        const two = await scan(newData, oldData, blockSize, seqMatches, true, `two-${seed}`, split);
        const params = { blockSize, length: newData.length };
        let more = 0;
        for (let i = 0; i < one.present.length; i++) {
          if (one.present[i] === 1) expect(two.present[i], `seed ${seed}: block ${i} found by one thread, not by two`).to.equal(1);
          if (two.present[i] !== 1) continue;
          if (one.present[i] !== 1) more++;
          const { start, end } = blockSpan(params, i);
          expect(two.file.subarray(start, end).equals(newData.subarray(start, end)), `seed ${seed}: block ${i}'s bytes`).to.equal(true);
        }
        expect(two.blocks, `seed ${seed}: blocks reported`).to.equal(one.blocks + more);
        expect(two.bytesReused).to.be.at.least(one.bytesReused);
        expect(two.bytesRead, `seed ${seed}: every byte counted once`).to.equal(oldData.length);
      }
    });
  }

  it('tells the worker the main thread\'s blocks as a bit a block, each block read back as it was', () => {
    for (const n of [0, 1, 7, 8, 9, 1000, 1001]) {
      const present = new Uint8Array(n).map((_, i) => (i % 3 === 0 || i === n - 1 ? 1 : 0));
      const bits = packBits(present);
      expect(bits.length, `${n} blocks`).to.equal(Math.ceil(n / 8));
      for (let i = 0; i < n; i++) expect(hasBit(bits, i), `block ${i} of ${n}`).to.equal(present[i] === 1);
    }
  });

  it('a second seed: the worker is told the blocks the first one gave, a bit a block, skips just those, and finds the rest', async () => {
    const blockSize = 2048;
    const { newData } = makePair(91, 800_000);
    const sums = blockChecksumsSync(newData, { blockSize, seqMatches: 1, weakBytes: 4, strongBytes: 8 });
    // The first seed is the target with every third block zeroed; the second
    // is the target itself. So the blocks still missing after the first seed
    // sit between blocks already present, all along the second one.
    const first = Buffer.from(newData);
    for (let b = 0; b * blockSize < first.length; b += 3) first.fill(0, b * blockSize, Math.min((b + 1) * blockSize, first.length));
    await writeFile(join(dir, 'second-a.seed'), first);
    await writeFile(join(dir, 'second-b.seed'), newData);
    async function run(split: boolean): Promise<{ before: Uint8Array; present: Uint8Array; blocks: number; file: Buffer }> {
      const outPath = join(dir, `second-${split}.out`);
      const out = await open(outPath, 'w+');
      await out.truncate(newData.length);
      const index = new BlockIndex(sums);
      const state = new TargetState(sums);
      if (split) await helperFree();
      const helper = split ? SeedScanHelper.start(sums, outPath) : undefined;
      try {
        await matchSeed(join(dir, 'second-a.seed'), index, state, out);
        const before = Uint8Array.from(state.present);
        // The worker takes every segment of the second seed but the first.
        const r = helper ? await matchSeedSplit(join(dir, 'second-b.seed'), newData.length, index, state, out, helper, { mainSegments: 1 }) : await matchSeed(join(dir, 'second-b.seed'), index, state, out);
        return { before, present: state.present, blocks: r.blocks, file: await readFile(outPath) };
      } finally {
        await helper?.close();
        await out.close();
      }
    }
    const one = await run(false);
    const two = await run(true);
    expect(two.before).to.deep.equal(one.before);
    expect(one.before.filter((p) => p === 0).length, 'blocks left for the second seed').to.equal(Math.ceil(sums.blockCount / 3));
    expect([...two.present], 'every block, on two threads as on one').to.deep.equal([...one.present]);
    expect(two.blocks).to.equal(one.blocks);
    expect(one.blocks).to.equal(Math.ceil(sums.blockCount / 3));
    expect(two.file.equals(newData)).to.equal(true);
  });

  it('the worker scans the seed\'s zero-padded end when it has the last segment: a target ending in a short block found there', async () => {
    const blockSize = 2048;
    const { newData } = makePair(77, 600_000 + 123);
    // The seed is the target itself: its last block is short, found only in the padded tail.
    const two = await scan(newData, newData, blockSize, 1, true, 'tail', { segmentSize: 1, mainSegments: 1 });
    expect([...two.present].every((p) => p === 1), 'every block, the short last one too').to.equal(true);
    expect(two.file.equals(newData)).to.equal(true);
  });

  it('a seed of identical blocks on both sides of the split: the same blocks as one thread', async () => {
    const blockSize = 2048;
    const unit = Buffer.alloc(blockSize, 7);
    const target = Buffer.concat([unit, Buffer.alloc(blockSize, 1), unit, Buffer.alloc(blockSize, 2)]);
    const seed = Buffer.concat(Array.from({ length: 400 }, (_, i) => (i % 3 === 0 ? Buffer.alloc(blockSize, 2) : unit)));
    const one = await scan(target, seed, blockSize, 1, false, 'rep-one');
    const two = await scan(target, seed, blockSize, 1, true, 'rep-two');
    expect([...two.present]).to.deep.equal([...one.present]);
    expect(two.blocks).to.equal(one.blocks);
  });

  it('stays within the helper-thread budget: no helper when every slot is taken', () => {
    const sums = blockChecksumsSync(Buffer.alloc(8192, 3), { blockSize: 2048 });
    const held: Array<() => void> = [];
    try {
      for (let r = acquireHelperThread(); r; r = acquireHelperThread()) held.push(r);
      expect(held.length).to.be.at.most(maxHelperThreads);
      expect(SeedScanHelper.start(sums, join(dir, 'none'))).to.equal(undefined);
    } finally {
      for (const release of held) release();
    }
    const again = acquireHelperThread();
    expect(again, 'slots come back').to.not.equal(undefined);
    again!();
  });

  it('a warm scan worker that died before a helper took it over is not handed over: start() spawns another', async () => {
    const spawn = SeedScanHelper.spawn;
    let spawned = 0;
    SeedScanHelper.spawn = () => (++spawned === 1 ? new Worker('process.exit(0)', { eval: true }) : spawn());
    try {
      await helperFree();
      const warm = SeedScanHelper.prewarm();
      expect(warm, 'a thread was free').to.not.equal(undefined);
      await new Promise((resolve) => setTimeout(resolve, 50));
      for (let i = 0; i < 100 && warm!.alive; i++) await new Promise((resolve) => setTimeout(resolve, 20));
      expect(warm!.alive, 'the warm worker exited').to.equal(false);
      const sums = blockChecksumsSync(Buffer.alloc(8192, 3), { blockSize: 2048 });
      const path = join(dir, 'warm-dead');
      await writeFile(path, '');
      const helper = SeedScanHelper.start(sums, path, warm);
      expect(helper, 'a helper with a new worker').to.not.equal(undefined);
      expect(spawned).to.equal(2);
      await helper!.close();
      const release = acquireHelperThread();
      expect(release, 'one thread held, and given back').to.not.equal(undefined);
      release!();
    } finally {
      SeedScanHelper.spawn = spawn;
    }
  });

  describe('through zsync()', function () {
    const SIZE = 1_200_000;
    const pair = makePair(4242, SIZE);
    const { oldOutput, expectUntouched, expectNew } = outputChecks(pair.oldData, pair.newData, new Date('2021-01-02T03:04:05Z'));
    let fs: FaultServer;
    let n = 0;
    before(async function () {
      const make = needTool(this, 'zsyncmake');
      await writeFile(join(dir, 'new.bin'), pair.newData);
      await zsyncmake(make, join(dir, 'new.bin'), 'new.bin', join(dir, 'new.bin.zsync'));
      fs = await startFaultServer({ files: { '/new.bin': pair.newData, '/new.bin.zsync': await readFile(join(dir, 'new.bin.zsync')) }, dataPath: '/new.bin' });
    });
    after(async () => {
      await fs?.stop();
    });
    const spawn = SeedScanHelper.spawn;
    afterEach(() => {
      SeedScanHelper.spawn = spawn;
    });
    async function workDir(): Promise<string> {
      const work = join(dir, `w${n++}`);
      await mkdir(work);
      return work;
    }

    it('gives a byte-identical OUTPUT, fetching no more than the single scan', async () => {
      const one = join(await workDir(), 'out.bin');
      const two = join(await workDir(), 'out.bin');
      await oldOutput(one);
      await oldOutput(two);
      const r1 = await zsync(fs.url('/new.bin.zsync'), { output: one, parallelFrom: Infinity });
      await helperFree();
      const r2 = await zsync(fs.url('/new.bin.zsync'), { output: two, parallelFrom: 0 });
      await expectNew(one);
      await expectNew(two);
      expect(r2.bytesReused).to.be.at.least(r1.bytesReused);
      expect(r2.bytesFetched).to.be.at.most(r1.bytesFetched);
      expect(r2.seeds[0]!.bytesRead).to.equal((await stat(`${two}.zs-old`)).size);
    });

    for (const [how, worker] of [
      ['exits at once', () => new Worker('process.exit(3)', { eval: true })],
      ['throws', () => new Worker('throw new Error("boom")', { eval: true })],
      ['answers with an error', () => new Worker('require("node:worker_threads").parentPort.on("message", (m) => { if (m.scan) require("node:worker_threads").parentPort.postMessage({ error: "disk on fire" }); })', { eval: true })],
      ['never answers, then dies', () => new Worker('require("node:worker_threads").parentPort.on("message", () => {}); setTimeout(() => process.exit(1), 300)', { eval: true })],
    ] as const) {
      it(`a scan worker that ${how}: ERR_ZSYNC_SCAN_WORKER, OUTPUT untouched, no stray files`, async () => {
        SeedScanHelper.spawn = worker;
        const work = await workDir();
        const out = join(work, 'out.bin');
        await oldOutput(out);
        await helperFree();
        const err = await rejection(zsync(fs.url('/new.bin.zsync'), { output: out, parallelFrom: 0 }));
        expect(err).to.have.property('code', 'ERR_ZSYNC_SCAN_WORKER');
        await expectUntouched(out);
        expect(await readdir(work)).to.deep.equal(['out.bin']);
        // Its thread went back to the budget.
        const release = acquireHelperThread();
        expect(release).to.not.equal(undefined);
        release!();
      });
    }

    it('a control file that fails to load stops the warm scan worker and gives its thread back before rejecting', async () => {
      let spawned = 0;
      SeedScanHelper.spawn = () => {
        spawned++;
        return spawn();
      };
      const out = join(await workDir(), 'out.bin');
      await oldOutput(out);
      await helperFree();
      const err = await rejection(zsync(fs.url('/missing.zsync'), { output: out, parallelFrom: 0 }));
      expect(err).to.have.property('code', 'ERR_ZSYNC_CONTROL_UNAVAILABLE');
      expect(spawned, 'a worker was started ahead').to.equal(1);
      const release = acquireHelperThread();
      expect(release, 'its thread is free at once').to.not.equal(undefined);
      release!();
      await expectUntouched(out);
    });

    it('an abort while a scan worker hangs (never answers) rejects with ERR_ZSYNC_ABORTED at once: OUTPUT untouched, no lock or working file left', async () => {
      SeedScanHelper.spawn = () => new Worker('require("node:worker_threads").parentPort.on("message", () => {})', { eval: true });
      const work = await workDir();
      const out = join(work, 'out.bin');
      await oldOutput(out);
      await helperFree();
      const stop = new AbortController();
      const syncing = zsync(fs.url('/new.bin.zsync'), { output: out, parallelFrom: 0, signal: stop.signal });
      setTimeout(() => stop.abort(), 200);
      const err = await rejection(syncing);
      expect(err).to.have.property('code', 'ERR_ZSYNC_ABORTED');
      await expectUntouched(out);
      expect(await readdir(work)).to.deep.equal(['out.bin']);
    });

    it('the scan\'s worker goes on to hash the result: the hash runs in that same worker, no fallback pass, OUTPUT verified', async () => {
      const handOver = SeedScanHelper.prototype.handOver;
      const verify = PrefixHasher.prototype.verify;
      const handed: Array<WorkerHandOff | undefined> = [];
      const verified: Array<{ sameWorker: boolean; ok: boolean }> = [];
      SeedScanHelper.prototype.handOver = function (this: SeedScanHelper) {
        const h = handOver.call(this);
        handed.push(h);
        return h;
      };
      PrefixHasher.prototype.verify = async function (this: PrefixHasher, length: number) {
        const sameWorker = (this as unknown as { worker: Worker }).worker === handed[0]?.worker;
        try {
          const r = await verify.call(this, length);
          verified.push({ sameWorker, ok: true });
          return r;
        } catch (err) {
          verified.push({ sameWorker, ok: false });
          throw err;
        }
      };
      try {
        const out = join(await workDir(), 'out.bin');
        await oldOutput(out);
        await helperFree();
        const result = await zsync(fs.url('/new.bin.zsync'), { output: out, parallelFrom: 0 });
        expect(handed).to.have.length(1);
        expect(handed[0], 'the scan worker was handed over').to.not.equal(undefined);
        expect(verified, 'hashed by the handed worker, which answered').to.deep.equal([{ sameWorker: true, ok: true }]);
        expect(result.verified).to.deep.equal(['SHA-1']);
        await expectNew(out);
        // Its thread went back to the budget with the hash.
        await helperFree();
      } finally {
        SeedScanHelper.prototype.handOver = handOver;
        PrefixHasher.prototype.verify = verify;
      }
    });

    it('a scan worker that dies right after it is handed over costs a verify pass, not a hang: OUTPUT is the new file', async () => {
      // A stand-in scan worker: it claims no segment (the main thread scans them all), then exits when told the scan is done.
      SeedScanHelper.spawn = () => new Worker(`
        const { parentPort } = require('node:worker_threads');
        parentPort.on('message', (m) => {
          if (m.scan) parentPort.postMessage({ found: new Int32Array(0), bytesRead: 0 });
          if (m.done) process.exit(0);
        });`, { eval: true });
      const out = join(await workDir(), 'out.bin');
      await oldOutput(out);
      await helperFree();
      const result = await zsync(fs.url('/new.bin.zsync'), { output: out, parallelFrom: 0 });
      expect(result.verified).to.deep.equal(['SHA-1']);
      await expectNew(out);
      await helperFree();
    });

    it('a scan worker handed over when the target is too small for a hash worker is stopped, and its thread is free at once', async () => {
      // The seed (old and new data together) is split; the target, shorter than parallelFrom, is hashed on the main thread.
      const work = await workDir();
      const out = join(work, 'out.bin');
      const seed = join(work, 'seed.bin');
      await writeFile(seed, Buffer.concat([pair.oldData, pair.newData]));
      await helperFree();
      let handedOver = 0;
      const handOver = SeedScanHelper.prototype.handOver;
      SeedScanHelper.prototype.handOver = function (this: SeedScanHelper) {
        const h = handOver.call(this);
        if (h) handedOver++;
        return h;
      };
      try {
        const result = await zsync(fs.url('/new.bin.zsync'), { output: out, seeds: [seed], parallelFrom: pair.newData.length + 1 });
        expect(handedOver).to.equal(1);
        expect(result.verified).to.deep.equal(['SHA-1']);
        const release = acquireHelperThread();
        expect(release, 'the slot is free when the sync returns').to.not.equal(undefined);
        release!();
        await expectNew(out);
      } finally {
        SeedScanHelper.prototype.handOver = handOver;
      }
    });

    it('a hash worker that dies before the end costs a verify pass, not the sync: OUTPUT is the new file', async () => {
      const follow = PrefixHasher.prototype.follow;
      let calls = 0;
      PrefixHasher.prototype.follow = function (this: PrefixHasher, state) {
        if (++calls === 1) void (this as unknown as { worker: Worker }).worker.terminate();
        return follow.call(this, state);
      };
      try {
        const out = join(await workDir(), 'out.bin');
        await oldOutput(out);
        await helperFree();
        const result = await zsync(fs.url('/new.bin.zsync'), { output: out, parallelFrom: 0 });
        expect(calls, 'the hash worker ran').to.be.greaterThan(0);
        expect(result.verified).to.deep.equal(['SHA-1']);
        await expectNew(out);
      } finally {
        PrefixHasher.prototype.follow = follow;
      }
    });
  });

  it('a split scan with synchronous reads still gives the event loop turns (timers, signals, Ctrl-C run during it)', async () => {
    // A seed with nothing of the target: no block is written, so no write's I/O gives a turn either.
    const seedPath = join(dir, 'turns-seed.bin');
    await writeFile(seedPath, makePair(99, 24 << 20).newData);
    const checksums = blockChecksumsSync(makePair(98, 1 << 20).newData, { blockSize: 4096 });
    const state = new TargetState(checksums);
    const out = await open(join(dir, 'turns-out.bin'), 'w+');
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    try {
      await matchSeed(seedPath, new BlockIndex(checksums), state, out, { read: readChunksSync, end: 20 << 20 });
      const during = ticks;
      expect(during, 'timer callbacks ran while the scan ran').to.be.greaterThan(0);
    } finally {
      clearInterval(timer);
      await out.close();
    }
  });
});
