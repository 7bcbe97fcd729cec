import type { Worker } from 'node:worker_threads';
import type { BlockChecksums } from '../engine/block-checksums.js';
import type { BlockIndex } from '../engine/block-index.js';
import { blockSpan } from '../engine/params.js';
import type { PositionalWriter } from '../engine/positional.js';
import type { TargetState } from '../engine/target-state.js';
import { AbortedError } from '../errors.js';
import { acquireHelperThread } from '../parallel/thread-budget.js';
import { spawnWorker } from '../parallel/spawn-worker.js';
import { ScanWorkerError } from './errors.js';
import { readChunksSync } from './read-sync.js';
import { matchSeed, type MatchSeedOptions, type MatchSeedResult } from './match-seed.js';

/**
 * Share of the seed the main thread scans. It also writes its blocks and runs
 * the event loop, and the worker starts later (its imports, its own index), so
 * it takes a little less than half.
 */
const MAIN_SHARE = 0.55;

/** Windows (of blockSize * seqMatches) the two parts overlap by, either side of the split. */
const OVERLAP_WINDOWS = 4;

/**
 * The worker's young generation, in MB. V8 grows it each time the objects that
 * survived its collections add up to its size, so the longer the scan the
 * bigger it got: 17.8 MB of worker heap scanning a 1 GiB seed against 11.2 at
 * 256 MiB. At 6 MB (4 too) it stays at 11 MB whatever the seed's length, for
 * the same CPU time; 8 MB or more changed nothing.
 */
const WORKER_YOUNG_GENERATION_MB = 6;

type Reply = { progress: number } | { found: Int32Array; bytesRead: number } | { error: string };

/**
 * A second thread for the seed scan: the one CPU-bound phase of a sync (MD4,
 * rsum, the scan loop) split over two cores. The worker (scan-worker.ts) reads
 * the same checksums (when they are in shared memory, as a parsed control
 * file's are), builds its own index, scans the later part of each seed it is
 * given and writes what it finds into the working file itself: sending the
 * blocks' bytes back for the main thread to write would cost a copy and the
 * main thread's time, which is what the split is to save.
 *
 * Threads are drawn from the process-wide helper budget (thread-budget.ts):
 * start() returns undefined when none is free, and the caller scans alone.
 */
export class SeedScanHelper {
  /** Starts the worker; replaced by tests to make one fail. */
  static spawn: () => Worker = () => spawnWorker(import.meta.url, 'scan-worker', { maxYoungGenerationSizeMb: WORKER_YOUNG_GENERATION_MB });

  private readonly worker: Worker;
  private readonly release: () => void;
  private pending: { ok: (r: { found: Int32Array; bytesRead: number }) => void; fail: (e: Error) => void; progress: (n: number) => void } | undefined;
  /** Set once the worker has failed or gone: every later scan fails with it. */
  private failure: Error | undefined;
  private closed = false;

  /**
   * A helper for a sync whose working file is `output`, or undefined when the
   * process has no helper thread to spare. Starts the worker at once, so its
   * start-up overlaps the main thread's own preparations.
   */
  static start(checksums: BlockChecksums, output: string): SeedScanHelper | undefined {
    const release = acquireHelperThread();
    if (!release) return undefined;
    try {
      return new SeedScanHelper(checksums, output, release);
    } catch (err) {
      release();
      throw err;
    }
  }

  private constructor(checksums: BlockChecksums, output: string, release: () => void) {
    this.release = release;
    this.worker = SeedScanHelper.spawn();
    this.worker.on('message', (msg: Reply) => {
      const p = this.pending;
      if ('progress' in msg) p?.progress(msg.progress);
      else if ('found' in msg) {
        this.pending = undefined;
        p?.ok(msg);
      } else this.fail(new ScanWorkerError(msg.error));
    });
    this.worker.on('error', (err: Error) => this.fail(new ScanWorkerError(err.message, err)));
    this.worker.on('exit', (code) => {
      this.release();
      if (!this.closed) this.fail(new ScanWorkerError(`the scan worker exited with code ${code}`));
    });
    // Not transferred: the main thread scans with the same arrays. Sums in
    // shared memory (a parsed control file's) are shared, others copied.
    this.worker.postMessage({ init: { params: checksums.params, weak: checksums.weak, strong: checksums.strong, output } });
  }

  /** Scans `path` from `start` to its end in the worker; resolves with the blocks it found beyond `present`. */
  scan(path: string, start: number, present: Uint8Array, onProgress: (bytesRead: number) => void): Promise<{ found: Int32Array; bytesRead: number }> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((ok, fail) => {
      this.pending = { ok, fail, progress: onProgress };
      this.worker.postMessage({ scan: { path, start, present } });
    });
  }

  /**
   * Stops the worker and gives its thread back to the budget. Once this has
   * resolved the worker writes nothing more (a terminated thread's writes in
   * flight are abandoned with it, to a file the caller is about to remove).
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.pending?.fail(new ScanWorkerError('the scan worker was closed'));
    this.pending = undefined;
    await this.worker.terminate();
    this.release();
  }

  private fail(err: Error): void {
    this.failure ??= err;
    const p = this.pending;
    this.pending = undefined;
    p?.fail(this.failure);
  }
}

/** True when a seed of `size` bytes is worth splitting: both parts well longer than their overlap. */
export function splittable(size: number, params: { blockSize: number; seqMatches: number }): boolean {
  return size >= 16 * OVERLAP_WINDOWS * params.blockSize * params.seqMatches;
}

/**
 * matchSeed() over two threads: the main thread scans the first part of the
 * seed (into `output`, `state` and the report), the helper the rest; then the
 * helper's blocks are merged into `state`. The parts overlap by a few windows
 * either side of the split, so a run of matches that crosses it is picked up
 * by the worker whatever the alignment the main thread's scan arrived with;
 * blocks both find are written twice, with the same bytes. The result is the
 * single scan's in practice (test/split-scan.test.ts): a block can be missed
 * only where the same target block occurs on both sides of the split and the
 * single scan's finding it first changed where the scan went next.
 *
 * If the worker fails, the main scan is stopped and the ScanWorkerError thrown;
 * the caller throws the working file away.
 */
export async function matchSeedSplit(path: string, size: number, index: BlockIndex, state: TargetState, output: PositionalWriter, helper: SeedScanHelper, options: MatchSeedOptions = {}): Promise<MatchSeedResult> {
  const params = index.checksums.params;
  const window = params.blockSize * params.seqMatches;
  const overlap = OVERLAP_WINDOWS * window;
  const split = Math.round((size * MAIN_SHARE) / params.blockSize) * params.blockSize;
  let mainRead = 0;
  let workerRead = 0;
  const progress = (): void => options.onProgress?.(Math.min(size, mainRead + workerRead));
  const stop = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, stop.signal]) : stop.signal;
  const remote = helper.scan(path, split - overlap, state.present, (n) => {
    workerRead = n;
    progress();
  });
  // A worker failure ends the main scan at its next chunk, not after it.
  remote.catch(() => stop.abort());
  let local: MatchSeedResult;
  try {
    local = await matchSeed(path, index, state, output, {
      signal,
      start: 0,
      end: split + overlap,
      // Both cores scan: async reads would wait for a core (read-sync.ts).
      read: readChunksSync,
      onProgress: (n) => {
        mainRead = n;
        progress();
      },
    });
  } catch (err) {
    // The worker's error, not the AbortedError it caused here.
    if (err instanceof AbortedError && stop.signal.aborted && !options.signal?.aborted) await remote;
    throw err;
  }
  // An abort must not wait for the worker's half (a worker stuck on a hung
  // mount would hold the sync, its lock and its files for good): the caller
  // terminates the worker on the way out.
  const { found, bytesRead } = await untilAborted(remote, options.signal);
  let { bytesReused, blocks } = local;
  for (const id of found) {
    if (!state.add(id)) continue; // the main thread found it too
    const span = blockSpan(params, id);
    bytesReused += span.end - span.start;
    blocks++;
  }
  options.onProgress?.(size);
  // Bytes of the seed read, the overlap that both threads read counted once
  // (the seed may have shrunk since `size` was taken).
  const workerStart = Math.max(0, split - overlap);
  const both = Math.max(0, Math.min(local.bytesRead, workerStart + bytesRead) - workerStart);
  return { bytesRead: local.bytesRead + bytesRead - both, bytesReused, blocks };
}

/** `work`, or an AbortedError as soon as `signal` fires. */
function untilAborted<T>(work: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return work;
  if (signal.aborted) return Promise.reject(new AbortedError(signal.reason));
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(new AbortedError(signal.reason));
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
