import { stat } from 'node:fs/promises';
import { STRONG_DIGEST_BYTES, type StrongAlgorithm } from '../checksums/strong.js';
import { ZsyncError } from '../errors.js';
import type { ChecksumSummary } from '../engine/checksummer.js';
import { MODULE_ROOT } from '../module-root.js';
import { spawnWorker } from './spawn-worker.js';
import { runChecksumJob, type ChecksumJob, type ChecksumJobResult } from './checksum-job.js';

export interface ParallelChecksumOptions {
  blockSize: number;
  strongAlgorithm?: StrongAlgorithm;
  sha256?: boolean;
  /**
   * Share of the blocks given to the worker that also computes the whole-file
   * hash (it reads the whole file for that). Default 0.35, which balances
   * SHA-1 against rsum + MD4 on the machines we measured.
   */
  hashingShare?: number;
}

/** Untruncated block sums of a whole file, in block order, and its summary. */
export interface FileChecksums {
  /** Packed rsum per block. */
  weak: Int32Array;
  /** Whole digest per block, back to back (digestBytes each). */
  strong: Uint8Array;
  digestBytes: number;
  summary: ChecksumSummary;
}

/**
 * The block checksums of a file on disk, on two cores: a worker thread
 * computes the whole-file SHA-1 (and SHA-256) and the blocks of the first part
 * of the file, this thread the blocks of the rest; each reads what it needs itself,
 * so nothing is copied between threads but the results. The same numbers as
 * ChecksumStream, which is what a pipe or a stream gets.
 */
export async function parallelChecksums(path: string, options: ParallelChecksumOptions): Promise<FileChecksums> {
  const { blockSize } = options;
  const strongAlgorithm = options.strongAlgorithm ?? 'MD4';
  const { size: length } = await stat(path);
  const blockCount = Math.ceil(length / blockSize);
  const share = Math.min(1, Math.max(0, options.hashingShare ?? 0.35));
  const split = Math.min(length, Math.round((blockCount * share)) * blockSize);
  const base = { path, length, blockSize, strongAlgorithm };
  const jobs: ChecksumJob[] = [
    { ...base, start: 0, end: split, sha1: true, sha256: options.sha256 === true },
    { ...base, start: split, end: length, sha1: false, sha256: false },
  ];
  // The hashing job in a worker, the other on this thread: one thread fewer to start.
  const results = await Promise.all([runInWorker(jobs[0]!), runChecksumJob(jobs[1]!)]);
  const digestBytes = STRONG_DIGEST_BYTES[strongAlgorithm];
  const weak = new Int32Array(blockCount);
  const strong = new Uint8Array(blockCount * digestBytes);
  let at = 0;
  for (const r of results) {
    weak.set(r.weak, at);
    strong.set(r.strong, at * digestBytes);
    at += r.weak.length;
  }
  const first = results[0]!;
  const summary: ChecksumSummary = { kind: 'summary', length, blockCount, blockSize, strongAlgorithm, sha1: first.sha1! };
  if (first.sha256 !== undefined) summary.sha256 = first.sha256;
  return { weak, strong, digestBytes, summary };
}

function runInWorker(job: ChecksumJob): Promise<ChecksumJobResult> {
  const worker = spawnWorker(MODULE_ROOT, 'parallel/checksum-worker');
  return new Promise<ChecksumJobResult>((resolve, reject) => {
    worker.once('message', (msg: { ok: true; result: ChecksumJobResult } | { ok: false; message: string }) => {
      if (msg.ok) resolve(msg.result);
      else reject(new ZsyncError('ERR_ZSYNC_CHECKSUM_WORKER', msg.message));
    });
    worker.once('error', reject);
    worker.once('exit', (code) => {
      if (code !== 0) reject(new ZsyncError('ERR_ZSYNC_CHECKSUM_WORKER', `checksum worker exited with ${code}`));
    });
    worker.postMessage(job);
  }).finally(() => void worker.terminate());
}
