import type { Worker } from 'node:worker_threads';
import type { FileHashes } from '../engine/block-checksums.js';
import { ZsyncError } from '../errors.js';
import { MODULE_ROOT } from '../module-root.js';
import { spawnWorker } from '../parallel/spawn-worker.js';
import { acquireHelperThread } from '../parallel/thread-budget.js';
import type { TargetState } from '../engine/target-state.js';
import { FileHashMismatchError } from './errors.js';
import type { PrefixHashReply } from './prefix-hash-handler.js';
import type { WorkerHandOff } from '../parallel/worker-hand-off.js';

/** Worker messages are sent once the final prefix has grown by this much. */
const STEP = 1 << 20;

/**
 * The whole-file hashes of the output, computed on another core while the
 * fetch fills it in, so the sync needs no separate verify pass over the file
 * (256 MiB: 0.2 s of SHA-1 and a read that no longer wait at the end). The
 * caller says how far from the start the file is final (`advance`); a worker
 * reads that much back and hashes it, trailing the fetch, and `verify`
 * finishes the rest and checks the digests as verifyFileHashes does.
 */
export class PrefixHasher {
  private readonly worker: Worker;
  private readonly names: string[] = [];
  private readonly wanted: string[] = [];
  private sent = 0;
  /** Blocks from the start known present (follow). */
  private blocks = 0;
  private failure: Error | undefined;
  private readonly result: Promise<string[]>;
  private release: (() => void) | undefined;

  /**
   * `thread`: a worker that runs prefix-hash-handler.ts already (the seed
   * scan's, handed over, with its thread's slot); default: a worker of its
   * own, counted against the helper-thread budget when a slot is free.
   */
  constructor(path: string, expected: FileHashes, thread?: WorkerHandOff) {
    const algorithms: string[] = [];
    if (expected.sha1 !== undefined) {
      algorithms.push('sha1');
      this.names.push('SHA-1');
      this.wanted.push(expected.sha1.toLowerCase());
    }
    if (expected.sha256 !== undefined) {
      algorithms.push('sha256');
      this.names.push('SHA-256');
      this.wanted.push(expected.sha256.toLowerCase());
    }
    // A handed-over worker that failed on its way here is of no use: verify() says so, and the caller hashes itself.
    const lost = thread?.take();
    this.worker = thread?.worker ?? spawnWorker(MODULE_ROOT, 'sync/prefix-hash-worker');
    // Counted against the process's helper-thread budget when a slot is free
    // (a sync asks helperThreadAvailable() first; a direct caller may not).
    const release = thread?.release ?? acquireHelperThread();
    if (release) {
      this.release = release;
      this.worker.once('exit', release);
    }
    this.result = new Promise<string[]>((resolve, reject) => {
      if (lost) reject(new ZsyncError('ERR_ZSYNC_HASH_WORKER', `hash worker lost before it started: ${lost.message}`));
      this.worker.on('message', (msg: PrefixHashReply | object) => {
        if (!('ok' in msg)) return; // not ours: a handed-over worker's
        if (msg.ok) resolve(msg.digests);
        else reject(new ZsyncError('ERR_ZSYNC_HASH_WORKER', msg.message));
      });
      // Typed, so that the caller falls back to hashing on its own.
      this.worker.on('error', (err: Error) => reject(new ZsyncError('ERR_ZSYNC_HASH_WORKER', `hash worker failed: ${err.message}`)));
      this.worker.once('exit', (code) => reject(new ZsyncError('ERR_ZSYNC_HASH_WORKER', `hash worker exited with ${code}`)));
    });
    // Awaited by verify(); a failure before then must not count as unhandled.
    this.result.catch((err: Error) => {
      this.failure = err;
    });
    this.worker.postMessage({ open: path, algorithms });
  }

  /**
   * Advances over the blocks present in `state` from the start on: call it
   * only where every present block has been written (after the seeds' writes
   * have completed; RemotePatcherStream marks a block present once written).
   */
  follow(state: TargetState): void {
    const { present } = state;
    let b = this.blocks;
    while (b < present.length && present[b] === 1) b++;
    this.blocks = b;
    const { blockSize, length } = state.checksums.params;
    this.advance(Math.min(b * blockSize, length));
  }

  /** The first `bytes` of the file are final (written, and never written again). */
  advance(bytes: number): void {
    if (bytes - this.sent < STEP || this.failure) return;
    this.sent = bytes;
    this.worker.postMessage({ upTo: bytes });
  }

  /**
   * The whole file, `length` bytes, is final: checks its hashes. Returns the
   * algorithms verified; throws FileHashMismatchError as verifyFileHashes does.
   */
  async verify(length: number): Promise<string[]> {
    try {
      this.worker.postMessage({ finish: length });
      const digests = await this.result;
      this.names.forEach((name, i) => {
        if (digests[i] !== this.wanted[i]) throw new FileHashMismatchError(name, this.wanted[i]!, digests[i]!);
      });
      return this.names;
    } finally {
      this.close();
    }
  }

  /**
   * Stops the worker (verify does; call it when giving up before that). Its
   * slot is free at once, not when the thread is gone: the next sync (a
   * follower's next version) may have its own worker.
   */
  close(): void {
    this.release?.();
    void this.worker.terminate();
  }
}
