/**
 * Worker thread of parallelChecksums: runs the jobs it is sent
 * (checksum-job.ts) and posts their results back. An entry point only:
 * nothing imports it (scripts/bundle.mjs makes it one file).
 */
import { parentPort } from 'node:worker_threads';
import { runChecksumJob, type ChecksumJob } from './checksum-job.js';

parentPort!.on('message', (job: ChecksumJob) => {
  runChecksumJob(job).then(
    (result) => parentPort!.postMessage({ ok: true, result }, [result.weak.buffer as ArrayBuffer, result.strong.buffer as ArrayBuffer]),
    (err: Error) => parentPort!.postMessage({ ok: false, message: err.message }),
  );
});
