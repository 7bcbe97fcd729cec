/**
 * One 1 MiB read buffer per thread, for the jobs a worker runs one after the
 * other (the scan worker's scans, then its hashing of the result): allocated
 * once, not once per job. Each 1 MiB buffer that a job left behind stayed in
 * the thread's malloc arena after it was freed, and the next job's came on top.
 */
let buffer: Buffer | undefined;

export function threadReadBuffer(): Buffer {
  return (buffer ??= Buffer.allocUnsafeSlow(1 << 20));
}
