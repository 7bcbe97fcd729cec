/**
 * One job of parallelChecksums, run in its worker thread (checksum-worker.ts)
 * and on the calling thread: the block checksums of one block-aligned byte
 * range of a file, and optionally the whole-file digests (reading the whole
 * file in order for those, and hashing blocks on the way). Apart from the
 * worker's entry point, so that the library imports no module that listens
 * on parentPort, and the worker's bundle is not a second copy of a module
 * the library imports.
 */
import { createHash, type Hash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { rsumBlock } from '../checksums/rsum.js';
import { strongHasher, type StrongAlgorithm } from '../checksums/strong.js';

export interface ChecksumJob {
  path: string;
  length: number;
  blockSize: number;
  strongAlgorithm: StrongAlgorithm;
  /** Byte range whose blocks this worker sums: start and end are block aligned (end may be the length). */
  start: number;
  end: number;
  /** Compute the whole-file digests, reading the whole file. */
  sha1: boolean;
  sha256: boolean;
}

export interface ChecksumJobResult {
  weak: Int32Array;
  strong: Uint8Array;
  sha1?: string;
  sha256?: string;
  bytesRead: number;
}

const READ = 1 << 20;

export async function runChecksumJob(job: ChecksumJob): Promise<ChecksumJobResult> {
  const { blockSize: bs, start, end } = job;
  const hasher = strongHasher(job.strongAlgorithm);
  const blocks = Math.ceil((end - start) / bs);
  const weak = new Int32Array(blocks);
  const strong = new Uint8Array(blocks * hasher.digestBytes);
  const digests: Hash[] = [];
  const sha1 = job.sha1 ? createHash('sha1') : undefined;
  const sha256 = job.sha256 ? createHash('sha256') : undefined;
  if (sha1) digests.push(sha1);
  if (sha256) digests.push(sha256);
  const whole = digests.length > 0;
  const from = whole ? 0 : start;
  const to = whole ? job.length : end;
  // Reads of whole blocks (bs and READ are powers of two), so no block straddles two.
  const read = Math.max(READ, bs);
  const buf = Buffer.alloc(read + bs); // room to zero-pad the last block
  const handle = await open(job.path, 'r');
  let bytesRead = 0;
  try {
    for (let pos = from; pos < to; ) {
      const want = Math.min(read, to - pos);
      let got = 0;
      while (got < want) {
        const { bytesRead: n } = await handle.read(buf, got, want - got, pos + got);
        if (n === 0) throw new Error(`${job.path} ended at ${pos + got}, expected ${job.length} bytes`);
        got += n;
      }
      bytesRead += got;
      const view = buf.subarray(0, got);
      for (const d of digests) d.update(view);
      // Blocks of this chunk inside our range.
      const lo = Math.max(pos, start);
      const hi = Math.min(pos + got, end);
      if (lo < hi) {
        const first = (lo - start) / bs;
        const count = Math.ceil((hi - lo) / bs);
        // The file's last block, zero padded as zsync does (the buffer has room).
        if (hi === job.length) buf.fill(0, got, lo - pos + count * bs);
        hasher.digestBlocks(buf, lo - pos, bs, count, strong, first * hasher.digestBytes);
        for (let i = 0; i < count; i++) weak[first + i] = rsumBlock(buf, lo - pos + i * bs, bs);
      }
      pos += got;
    }
  } finally {
    await handle.close();
  }
  const result: ChecksumJobResult = { weak, strong, bytesRead };
  if (sha1) result.sha1 = sha1.digest('hex');
  if (sha256) result.sha256 = sha256.digest('hex');
  return result;
}
