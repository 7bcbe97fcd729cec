import type { Worker } from 'node:worker_threads';
import type { BlockChecksums } from '../engine/block-checksums.js';
import type { BlockIndex } from '../engine/block-index.js';
import { blockBytes } from '../engine/params.js';
import type { PositionalWriter } from '../engine/positional.js';
import { releaseMemory } from '../engine/release-memory.js';
import type { TargetState } from '../engine/target-state.js';
import { AbortedError } from '../errors.js';
import { acquireHelperThread } from '../parallel/thread-budget.js';
import { MODULE_ROOT } from '../module-root.js';
import { spawnWorker } from '../parallel/spawn-worker.js';
import { WorkerHandOff } from '../parallel/worker-hand-off.js';
import { packBits } from './block-bits.js';
import { ScanWorkerError } from './errors.js';
import { readChunksSync } from './sync-io.js';
import { SegmentClaims } from './segment-claims.js';
import { matchSeed, type MatchSeedOptions, type MatchSeedResult } from './match-seed.js';

/** Windows (of blockSize * seqMatches) a part is read beyond its segment's end, and the next one before its start. */
const OVERLAP_WINDOWS = 4;

/**
 * Most bytes per segment by default: small enough that the thread which
 * finishes first waits at most for one segment of the other's (a few tens of
 * ms), large enough that the worker's per-segment start (a matcher, a run
 * writer, the overlap read twice) is noise. A smaller seed gets about 32.
 */
const SEGMENT_BYTES = 8 << 20;
const SEGMENTS = 32;

/**
 * The worker's young generation, in MB. V8 grows it each time the objects that
 * survived its collections add up to its size, so the longer the scan the
 * bigger it got: 17.8 MB of worker heap scanning a 1 GiB seed against 11.2 at
 * 256 MiB. At 6 MB (4 too) it stays at 11 MB whatever the seed's length, for
 * the same CPU time; 8 MB or more changed nothing.
 */
const WORKER_YOUNG_GENERATION_MB = 6;

type Reply = { progress: number } | { found: Int32Array; bytesRead: number } | { error: string };

/** How a seed is cut into segments: the scan message's geometry, the same on both threads. */
export interface SeedSegments {
  /** The seed's size when the scan began. */
  size: number;
  /** Bytes per segment (a multiple of the block size); the last one may be shorter. */
  segmentSize: number;
  count: number;
  /** Bytes read beyond a part's end, and before the start of the part after it. */
  overlap: number;
}

export interface MatchSeedSplitOptions extends MatchSeedOptions {
  /** Bytes per segment (rounded up to whole blocks, at least twice the overlap); for tests. Default a 32nd of the seed, at most 8 MiB. */
  segmentSize?: number;
  /**
   * Segments the main thread takes at most, the worker the rest: for tests,
   * whose worker (started through tsx) would otherwise find nothing left to
   * take. Default: as many as it gets to first.
   */
  mainSegments?: number;
}

/**
 * A second thread for the seed scan: the one CPU-bound phase of a sync (MD4,
 * rsum, the scan loop) split over two cores. The worker (scan-worker.ts) reads
 * the same checksums (when they are in shared memory, as a parsed control
 * file's are), builds its own index, scans the segments of each seed it
 * claims and writes what it finds into the working file itself: sending the
 * blocks' bytes back for the main thread to write would cost a copy and the
 * main thread's time, which is what the split is to save.
 *
 * Threads are drawn from the process-wide helper budget (thread-budget.ts):
 * start() returns undefined when none is free, and the caller scans alone.
 */
export class SeedScanHelper {
  /** Starts the worker; replaced by tests to make one fail. */
  static spawn: () => Worker = () => spawnWorker(MODULE_ROOT, 'sync/scan-worker', { resourceLimits: { maxYoungGenerationSizeMb: WORKER_YOUNG_GENERATION_MB } });

  private readonly worker: Worker;
  private readonly release: () => void;
  private pending: { ok: (r: { found: Int32Array; bytesRead: number }) => void; fail: (e: Error) => void; progress: (n: number) => void } | undefined;
  /** Set once the worker has failed or gone: every later scan fails with it. */
  private failure: Error | undefined;
  private closed = false;

  /**
   * A worker started before the sums are known (while the control file
   * downloads), for a later start() to take over; undefined when the process
   * has no helper thread to spare. A worker takes 60-90 ms to start on an idle
   * core and two or three times that beside a busy main thread, and the scan
   * splits its work evenly only from when the worker is ready.
   */
  static prewarm(): WorkerHandOff | undefined {
    const release = acquireHelperThread();
    if (!release) return undefined;
    try {
      return new WorkerHandOff(SeedScanHelper.spawn(), release);
    } catch (err) {
      release();
      throw err;
    }
  }

  /**
   * A helper for a sync whose working file is `output`, or undefined when the
   * process has no helper thread to spare. Takes over `warm`'s worker when it
   * is alive, else starts one at once (a warm one that died meanwhile is not
   * handed over: its helper would wait for replies for good), so that its
   * start-up overlaps the main thread's own preparations.
   */
  static start(checksums: BlockChecksums, output: string, warm?: WorkerHandOff): SeedScanHelper | undefined {
    if (warm && warm.take() === undefined) {
      try {
        return new SeedScanHelper(checksums, output, warm.release, warm.worker);
      } catch (err) {
        void warm.worker.terminate();
        warm.release();
        throw err;
      }
    }
    const release = acquireHelperThread();
    if (!release) return undefined;
    try {
      return new SeedScanHelper(checksums, output, release, SeedScanHelper.spawn());
    } catch (err) {
      release();
      throw err;
    }
  }

  private constructor(checksums: BlockChecksums, output: string, release: () => void, worker: Worker) {
    this.release = release;
    this.worker = worker;
    this.worker.on('message', this.onMessage);
    this.worker.on('error', this.onError);
    this.worker.on('exit', this.onExit);
    // Not transferred: the main thread scans with the same arrays. Sums in
    // shared memory (a parsed control file's) are shared, others copied.
    this.worker.postMessage({ init: { params: checksums.params, weak: checksums.weak, strong: checksums.strong, output } });
  }

  /**
   * Scans the segments of `path` the worker claims from the back of `claims`,
   * until none is left; resolves with the blocks it found beyond `present` and
   * the bytes of its segments it read (overlaps not counted).
   */
  scan(path: string, segments: SeedSegments, claims: SegmentClaims, present: Uint8Array, onProgress: (bytesRead: number) => void): Promise<{ found: Int32Array; bytesRead: number }> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((ok, fail) => {
      this.pending = { ok, fail, progress: onProgress };
      const had = packBits(present);
      this.worker.postMessage({ scan: { path, segments, claims: claims.shared, had } }, [had.buffer]);
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

  /**
   * The worker, its scans done, for PrefixHasher to hash the result with
   * (prefix-hash-handler.ts), and its thread's release: the hash starts at
   * once instead of after another worker's start-up (60-150 ms). The worker
   * closes the working file and drops its index. Undefined when the worker
   * failed, is closed or still scanning; then close() it.
   */
  handOver(): WorkerHandOff | undefined {
    if (this.closed || this.failure || this.pending) return undefined;
    this.closed = true;
    // Watched by the hand-off before these go: no moment without listeners.
    const handOff = new WorkerHandOff(this.worker, this.release);
    this.worker.off('message', this.onMessage);
    this.worker.off('error', this.onError);
    this.worker.off('exit', this.onExit);
    this.worker.postMessage({ done: true });
    return handOff;
  }

  private readonly onMessage = (msg: Reply): void => {
    const p = this.pending;
    if ('progress' in msg) p?.progress(msg.progress);
    else if ('found' in msg) {
      this.pending = undefined;
      p?.ok(msg);
    } else this.fail(new ScanWorkerError(msg.error));
  };

  private readonly onError = (err: Error): void => this.fail(new ScanWorkerError(err.message, err));

  private readonly onExit = (code: number): void => {
    this.release();
    if (!this.closed) this.fail(new ScanWorkerError(`the scan worker exited with code ${code}`));
  };

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

/** The segments of a seed of `size` bytes: whole blocks, each at least twice the overlap, at most MAX_SEGMENTS of them. */
export function seedSegments(size: number, params: { blockSize: number; seqMatches: number }, segmentSize = Math.min(SEGMENT_BYTES, size / SEGMENTS)): SeedSegments {
  const overlap = OVERLAP_WINDOWS * params.blockSize * params.seqMatches;
  const least = Math.max(segmentSize, 2 * overlap, Math.ceil(size / SegmentClaims.MAX_SEGMENTS));
  const bytes = Math.ceil(least / params.blockSize) * params.blockSize;
  return { size, segmentSize: bytes, count: Math.max(1, Math.ceil(size / bytes)), overlap };
}

/**
 * matchSeed() over two threads: the seed is cut into segments, which the main
 * thread takes from the front (one scan of a growing prefix, into `output`,
 * `state` and the report) and the helper from the back (each segment a scan of
 * its own), until they meet (segment-claims.ts); then the helper's blocks are
 * merged into `state`. Every part is read a few windows beyond its end, and
 * every part of the helper's from a few windows before its start, so a run of
 * matches that crosses a boundary is picked up whatever the alignment the scan
 * before it arrived with; blocks both threads find are written twice, with the
 * same bytes. The result is the single scan's in practice
 * (test/split-scan.test.ts): a block can be missed only where the same target
 * block occurs on both sides of a boundary and the single scan's finding it
 * first changed where the scan went next.
 *
 * If the worker fails, the main scan is stopped and the ScanWorkerError thrown;
 * the caller throws the working file away.
 */
export async function matchSeedSplit(path: string, size: number, index: BlockIndex, state: TargetState, output: PositionalWriter, helper: SeedScanHelper, options: MatchSeedSplitOptions = {}): Promise<MatchSeedResult> {
  const params = index.checksums.params;
  const segments = seedSegments(size, params, options.segmentSize);
  const { segmentSize, count, overlap } = segments;
  const claims = new SegmentClaims(count);
  // The first segment is the main thread's before the worker can ask.
  claims.claimFront();
  let mainClaimed = 1;
  /** The end of the segments the main thread has claimed: its bytes read beyond it are overlap. */
  let mainOwnEnd = Math.min(size, segmentSize);
  let mainReachedEnd = false;
  let mainDone = false;
  let mainRead = 0;
  let workerRead = 0;
  const progress = (): void => options.onProgress?.(Math.min(size, mainRead + workerRead));
  const stop = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, stop.signal]) : stop.signal;
  const remote = helper.scan(path, segments, claims, state.present, (n) => {
    workerRead = n;
    progress();
  });
  // A worker failure ends the main scan at its next chunk, not after it.
  remote.catch(() => stop.abort());
  let local: MatchSeedResult;
  try {
    local = await matchSeed(path, index, state, output, {
      signal,
      // Both cores scan: async reads would wait for a core (sync-io.ts).
      read: (p, start) =>
        readChunksSync(p, start, mainOwnEnd, undefined, {
          // At the end of its segments: the next one if the worker has not
          // taken it, else a few windows into the worker's, then stop.
          extend: (reached) => {
            if (mainDone) return reached;
            const next = mainClaimed < (options.mainSegments ?? Infinity) ? claims.claimFront() : -1;
            if (next >= 0) mainClaimed++;
            if (next < 0) {
              mainDone = true;
              return reached + overlap;
            }
            mainOwnEnd = Math.min(size, (next + 1) * segmentSize);
            return mainOwnEnd;
          },
          atFileEnd: () => {
            mainReachedEnd = true;
          },
        }),
      atSeedEnd: () => mainReachedEnd,
      onProgress: (n) => {
        mainRead = Math.min(n, mainOwnEnd);
        progress();
      },
    });
  } catch (err) {
    claims.closeAll();
    // The worker's error, not the AbortedError it caused here.
    if (err instanceof AbortedError && stop.signal.aborted && !options.signal?.aborted) await remote;
    throw err;
  }
  // The main scan ends when no segment is left to claim, or early when every
  // block has been found: then the worker need not start another one.
  if (state.complete) claims.closeAll();
  // An abort must not wait for the worker (a worker stuck on a hung mount
  // would hold the sync, its lock and its files for good): the caller
  // terminates it on the way out.
  const { found, bytesRead } = await untilAborted(remote, options.signal);
  const merged = addFound(state, found);
  // Half a MB at 1 GiB, which the main thread's fetch would otherwise keep until a major GC.
  releaseMemory([found.buffer]);
  const bytesReused = local.bytesReused + merged.bytesReused;
  const blocks = local.blocks + merged.blocks;
  options.onProgress?.(size);
  // Bytes of the seed read, each counted once: overlaps read by both are not.
  return { bytesRead: Math.min(local.bytesRead, mainOwnEnd) + bytesRead, bytesReused, blocks };
}

/** Marks the worker's blocks present; the bytes and blocks this added (the main thread may have found some too). */
function addFound(state: TargetState, found: Int32Array): { bytesReused: number; blocks: number } {
  // Indexed (for-of made an iterator result per block: 5 MB of garbage for
  // the 127 000 of a 1 GiB seed's second half), and in a function of its
  // own, which is all that gets compiled when the loop runs long.
  const params = state.checksums.params;
  let bytesReused = 0;
  let blocks = 0;
  for (let i = 0; i < found.length; i++) {
    const id = found[i]!;
    if (!state.add(id)) continue;
    bytesReused += blockBytes(params, id);
    blocks++;
  }
  return { bytesReused, blocks };
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
