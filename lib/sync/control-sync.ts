/**
 * The part of a sync that follows the control file, whatever carries the data:
 * match the seeds into a working file, fetch what is missing from a RangeSource,
 * check the whole-file hash and only then replace OUTPUT. HTTP (zsync.ts) and
 * the socket client (socket/client.ts) both build on it.
 */
import { EventEmitter } from 'node:events';
import { link, open, rename, stat, unlink, utimes, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { fileHashesOf } from '../control-file/header.js';
import type { ControlFile } from '../control-file/parser.js';
import { BlockIndex } from '../engine/block-index.js';
import { BlockAssembler } from '../engine/block-assembler.js';
import { writeFullySync } from '../engine/positional.js';
import { TargetState } from '../engine/target-state.js';
import type { FetchStats } from '../transport/range-fetcher.js';
import { rangeBytes } from '../transport/range-plan.js';
import { IncompleteError } from './errors.js';
import { verifyFileHashes } from './file-digest.js';
import { helperThreadAvailable } from '../parallel/thread-budget.js';
import type { WorkerHandOff } from '../parallel/worker-hand-off.js';
import { PrefixHasher } from './prefix-hasher.js';
import type { RangeSource } from './range-source.js';
import { matchSeed } from './match-seed.js';
import { matchSeedSplit, SeedScanHelper, splittable } from './split-scan.js';
import { syncWriter } from './sync-io.js';

/** Bytes written between two progress events of the fetch (see ControlSyncOptions.onProgress). */
const PROGRESS_STEP = 256 << 10;

export interface ControlSyncOptions {
  /** Extra seeds (zsync's -i), read after OUTPUT.part and OUTPUT. */
  seeds?: string[];
  /** Keep the replaced file as OUTPUT.zs-old, as zsync does. Default true. */
  keepOld?: boolean;
  /** Fetch rounds for blocks that failed their checksum, at most 5. Default 3. */
  maxAttempts?: number;
  signal?: AbortSignal;
  /**
   * Told how the sync goes. During the fetch: at its first write, at every
   * 256 KiB written or `progressIntervalMs`, whichever comes first, and at
   * the end of each round, not for every piece delivered.
   */
  onProgress?: (progress: ZsyncProgress) => void;
  /** The most time between two progress events of the fetch while bytes arrive, in ms. Default 100. */
  progressIntervalMs?: number;
  /**
   * Helper threads, for files of at least this many bytes: a seed this big is
   * scanned by two threads (split-scan.ts), and for a target this big the
   * whole-file hash is computed by a worker while the fetch fills the file in,
   * instead of by a read of the whole file at the end. Both only while the
   * process has a thread to spare (thread-budget.ts); Infinity turns them off.
   * Default 16 MiB.
   */
  parallelFrom?: number;
}

export const DEFAULT_SYNC_PARALLEL_FROM = 16 << 20;

export interface ZsyncProgress {
  phase: 'control' | 'match' | 'fetch' | 'verify' | 'done';
  /** Bytes done in this phase, of `total`. */
  done: number;
  total: number;
  /** The seed being read, in the match phase. */
  seed?: string;
}

export interface SeedReport {
  path: string;
  bytesRead: number;
  /** Bytes of the target this seed supplied (blocks not already found in an earlier seed). */
  bytesReused: number;
  blocks: number;
}

export interface ZsyncResult {
  ok: true;
  output: string;
  length: number;
  bytesReused: number;
  bytesFetched: number;
  bytesOnWire: number;
  requests: number;
  retries: number;
  seeds: SeedReport[];
  /** Whole-file hashes checked, e.g. ['SHA-1']. */
  verified: string[];
  /** How the servers were found to behave (fallbacks taken). */
  adaptations: string[];
  seconds: { control: number; match: number; fetch: number; verify: number; total: number };
}

/** Emits 'progress' events while `syncTo()` works. */
export class ControlSync extends EventEmitter {
  /**
   * The fsync of the verified result (path, after `before`): replaceable, as
   * SeedScanHelper.spawn is, for tests of what a failing or slow disk does.
   * Process-wide, not for use beside a real sync.
   * @internal
   */
  static syncToDisk: (path: string, before: Promise<void> | undefined) => Promise<void> = syncToDisk;

  /** A scan worker started while the control file loaded (Zsync.run()), for the seed scan to take over. */
  protected warmScan: WorkerHandOff | undefined;

  constructor(private readonly syncOptions: ControlSyncOptions) {
    super();
    if (syncOptions.onProgress) this.on('progress', syncOptions.onProgress);
  }

  /**
   * Builds OUTPUT from the seeds and `openSource()` (asked for only when blocks
   * are missing), verifies it and puts it in place. The caller holds OUTPUT's lock.
   */
  async syncTo(control: ControlFile, output: string, openSource: () => RangeSource, t0: number): Promise<ZsyncResult> {
    const o = this.syncOptions;
    const { header, checksums } = control;
    const params = checksums.params;
    const part = `${output}.part`;
    const t1 = performance.now();

    // Match every seed into a new working file; the old .part is itself a seed, so
    // it is read before it is replaced.
    const state = new TargetState(checksums);
    const seeds = await existingFiles([part, output, ...(o.seeds ?? [])]);
    // A fixed name: a run killed while matching leaves it behind, and the next run
    // (holding the lock) removes it and starts afresh. Removed then created
    // exclusively, so a symlink planted there is never followed.
    const working = join(dirname(output), `.${basename(output)}.zs-new`);
    const reports: SeedReport[] = [];
    await unlink(working).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
    const handle = await open(working, 'wx+', 0o600);
    let fetched: FetchStats = { requests: 0, bytesOnWire: 0, payloadBytes: 0, retries: 0, adaptations: [] };
    let t2 = t1;
    let t3 = t1;
    let hasher: PrefixHasher | undefined;
    let early: Promise<void> | undefined;
    const parallelFrom = o.parallelFrom ?? DEFAULT_SYNC_PARALLEL_FROM;
    let helper: SeedScanHelper | undefined;
    /** The scan's worker, handed over for hashing (discard() stops it unless a PrefixHasher took it). */
    let handed: WorkerHandOff | undefined;
    try {
      // Started before the main thread builds its index, so that the worker's
      // start-up (imports, its own index) overlaps that and the truncate.
      const split = (size: number): boolean => size >= parallelFrom && splittable(size, params);
      if (seeds.some((s) => split(s.size))) helper = SeedScanHelper.start(checksums, working, this.warmScan);
      // Not taken: its thread goes back to the budget (the hash worker's).
      await this.warmScan?.discard();
      this.warmScan = undefined;
      let index: BlockIndex | undefined = new BlockIndex(checksums, { singleState: true });
      await handle.truncate(params.length);
      for (const seed of seeds) {
        if (state.complete) break;
        reports.push(await this.matchSeed(seed.path, seed.size, index, state, handle, split(seed.size) ? helper : undefined));
      }
      // Its memory back for the fetch (8.5-13.5 bytes a block), now rather than
      // at a GC; this function's variables live until the sync returns.
      index.dispose();
      index = undefined;
      // The scan's worker goes on to hash the result (below), or its thread
      // goes back to the budget before a hash worker asks for one.
      handed = helper?.handOver();
      await helper?.close();
      helper = undefined;
      // No fsync here: a torn .part costs nothing (it is only ever read back as a
      // seed, block by verified block); the one fsync is of the verified result.
      await handle.close();
      await rename(working, part);
      t2 = performance.now();
      // The seeds' bytes go to disk while the fetch runs, so that the fsync
      // that counts (of the verified result, below) has only the fetched
      // blocks left to write: 0.17 s off the end of a 256 MiB sync.
      early = writeBack(part);
      const fileHashes = fileHashesOf(header);
      if (params.length >= parallelFrom && (fileHashes.sha1 ?? fileHashes.sha256) !== undefined && (handed || helperThreadAvailable())) {
        hasher = new PrefixHasher(part, fileHashes, handed);
        hasher.follow(state); // the seeds' writes are done: what they found from the start on is final
      }
      await handed?.discard();

      if (!state.complete) {
        const source = openSource();
        const out = await open(part, 'r+');
        try {
          // A block whose bytes fail their checksum is dropped, not written, and
          // asked for again in the next round (a flaky proxy, a mirror mid-update).
          // One source for every round, so that what it learned of the mirrors and
          // its retry budget carry over, and each round counts as an attempt of
          // the ranges it refetches: the rounds stay within the fetcher's bounds.
          const rounds = Math.max(1, Math.min(o.maxAttempts ?? 3, 5));
          let lastBad: Error | undefined;
          for (let round = 0; round < rounds && !state.complete; round++) {
            const { stats, bad } = await this.fetchRound(source, state, out, round, hasher);
            fetched = addStats(fetched, stats);
            if (bad) lastBad = bad;
          }
          if (!state.complete && lastBad) throw lastBad;
        } finally {
          source.close();
          await out.close();
        }
      }
      t3 = performance.now();
    } catch (err) {
      // Before the working file goes: once closed, the scan worker writes no more.
      await helper?.close();
      await handed?.discard();
      hasher?.close();
      await early;
      await handle.close().catch(() => {});
      await unlink(working).catch(() => {});
      throw err;
    }
    if (!state.complete) {
      hasher?.close();
      await early;
      throw new IncompleteError(state.missingCount, 'the sources did not deliver them');
    }

    this.progress({ phase: 'verify', done: 0, total: params.length });
    // The fsync that makes the result durable runs while it is verified: both
    // only read what the fetch wrote, and a file that fails is never renamed.
    // (In turn, 35-40 ms of a 256 MiB sync went to the fsync after the hash.)
    // (Through a promise: a replacement that throws must not skip the wait below.)
    const durable = Promise.resolve().then(() => ControlSync.syncToDisk(part, early));
    durable.catch(() => {}); // awaited below: a failure meanwhile is not an unhandled one
    let verified: string[];
    try {
      verified = hasher
        ? await hasher.verify(params.length).catch((err: unknown) => {
            // The file is complete: a hashing thread that died costs a pass of our own, not the sync.
            if ((err as { code?: string }).code !== 'ERR_ZSYNC_HASH_WORKER') throw err;
            return verifyFileHashes(part, fileHashesOf(header));
          })
        : await verifyFileHashes(part, fileHashesOf(header));
    } catch (err) {
      await durable.catch(() => {}); // no work of this sync outlives it
      throw err;
    }
    if (o.keepOld !== false && (await stat(output).catch(() => undefined))?.isFile()) {
      await unlink(`${output}.zs-old`).catch(() => {});
      await link(output, `${output}.zs-old`).catch(() => {});
    }
    await durable; // on disk before it takes OUTPUT's name
    await rename(part, output);
    if (header.mtime) await utimes(output, header.mtime, header.mtime);
    const t4 = performance.now();
    this.progress({ phase: 'done', done: params.length, total: params.length });

    const bytesReused = reports.reduce((n, r) => n + r.bytesReused, 0);
    return {
      ok: true,
      output,
      length: params.length,
      bytesReused,
      bytesFetched: fetched.payloadBytes,
      bytesOnWire: fetched.bytesOnWire,
      requests: fetched.requests,
      retries: fetched.retries,
      seeds: reports,
      verified,
      adaptations: fetched.adaptations,
      seconds: { control: sec(t0, t1), match: sec(t1, t2), fetch: sec(t2, t3), verify: sec(t3, t4), total: sec(t0, t4) },
    };
  }

  /** One pass over every missing range; bad blocks stay missing and are returned. */
  private async fetchRound(source: RangeSource, state: TargetState, out: FileHandle, round: number, hasher: PrefixHasher | undefined): Promise<{ stats: FetchStats; bad: Error | undefined }> {
    // What RemotePatcherStream does, without a stream: chunks are verified in
    // place and their whole blocks written at once, each request's chunks
    // awaited by its own producer (the fetcher's backpressure), with no
    // objectMode queue between, and no readable-stream to load at start-up.
    const assembler = new BlockAssembler(state);
    // Synchronous writes, as the scan's: the fetch is bound by the main
    // thread's CPU, and an asynchronous write of one run (a few KiB into the
    // page cache) cost 80-100 us of it in thread-pool hand-offs, a synchronous
    // one 12 (1310 runs at 256 MiB, over 5000 at 1 GiB). The price, as in the
    // scan: a disk that stalls holds the event loop, and an abort, until it
    // answers.
    const writer = syncWriter(out.fd);
    let bad: Error | undefined;
    const missing = state.missingPacked();
    const total = rangeBytes(missing);
    // Progress counts the bytes of the blocks written, so never the gaps the
    // fetcher merged in, nor a block twice.
    let done = 0;
    // Synchronous, so that a chunk costs no promise (see ChunkSink).
    const writeSync = writer.writeSync!;
    // Good blocks are written even when a neighbour was bad: nothing fetched is wasted.
    // A block is marked present once written (the hasher reads back what is present).
    // Made once, not per chunk.
    const onRun = (position: number, data: Uint8Array, first: number, count: number): void => {
      writeFullySync(writeSync, data, 0, data.length, position);
      for (let k = 0; k < count; k++) state.add(first + k);
      done += data.length;
    };
    const onBad = (err: Error): void => {
      bad = err;
    };
    // A progress event per 256 KiB written or progressIntervalMs, and at the first write
    // and the last, not per piece: an answer's parts come a few KiB each, and
    // their events were thousands of objects a GiB.
    const interval = this.syncOptions.progressIntervalMs ?? 100;
    let shown = -1;
    let shownAt = 0;
    const stats = await source.fetch(missing, (chunk) => {
      assembler.acceptRuns(chunk, onRun, onBad);
      hasher?.follow(state);
      if (done <= shown) return;
      const now = performance.now();
      if (shown > 0 && done - shown < PROGRESS_STEP && done < total && now - shownAt < interval) return;
      shown = done;
      shownAt = now;
      this.progress({ phase: 'fetch', done, total });
    }, { attempts: round });
    // A round that ends short of its total (bad blocks, fetched again next round) still reports all it wrote.
    if (done > shown) this.progress({ phase: 'fetch', done, total });
    hasher?.follow(state);
    return { stats, bad };
  }

  private async matchSeed(path: string, size: number, index: BlockIndex, state: TargetState, out: FileHandle, helper: SeedScanHelper | undefined): Promise<SeedReport> {
    const options = {
      signal: this.syncOptions.signal,
      onProgress: (done: number) => this.progress({ phase: 'match', done, total: size, seed: path }),
    };
    // Two threads scanning leave no core for a libuv pool thread to write on: the
    // split scan writes synchronously (sync-io.ts), as its worker does.
    const report = helper ? await matchSeedSplit(path, size, index, state, syncWriter(out.fd), helper, options) : await matchSeed(path, index, state, out, options);
    return { path, ...report };
  }

  protected progress(p: ZsyncProgress): void {
    this.emit('progress', p);
  }
}

async function existingFiles(paths: string[]): Promise<Array<{ path: string; size: number }>> {
  const out: Array<{ path: string; size: number }> = [];
  const seen = new Set<string>();
  for (const p of paths) {
    const abs = resolve(p);
    if (seen.has(abs)) continue;
    seen.add(abs);
    const info = await stat(abs).catch(() => undefined);
    if (info?.isFile()) out.push({ path: abs, size: info.size });
  }
  return out;
}

/** fsync of `path`, once `before` (the early write-back) has settled. Rejects as the fsync does. */
async function syncToDisk(path: string, before: Promise<void> | undefined): Promise<void> {
  await before;
  const h = await open(path, 'r+');
  try {
    await h.sync();
  } finally {
    await h.close();
  }
}

/** fdatasync of `path` on its own descriptor, not waited for by the writes on others. Never rejects: the fsync that counts comes later. */
async function writeBack(path: string): Promise<void> {
  try {
    const h = await open(path, 'r');
    await h.datasync().finally(() => h.close());
  } catch {
    // ignored: the fsync of the verified result reports what matters
  }
}

function addStats(a: FetchStats, b: FetchStats): FetchStats {
  return {
    requests: a.requests + b.requests,
    bytesOnWire: a.bytesOnWire + b.bytesOnWire,
    payloadBytes: a.payloadBytes + b.payloadBytes,
    retries: a.retries + b.retries,
    adaptations: [...a.adaptations, ...b.adaptations.filter((n) => !a.adaptations.includes(n))],
  };
}

function sec(a: number, b: number): number {
  return Math.round(b - a) / 1000;
}

