import { createHash, createCipheriv } from 'node:crypto';
import { once } from 'node:events';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRangeServer } from '../transport/range-server.js';
import { zsync } from '../zsync.js';
import { zsyncmake } from '../zsyncmake.js';
import { InvalidArgumentError } from '../errors.js';
import { integerOption, parseCommandLine } from './args.js';

export const summary = 'make, serve and sync a sample file over HTTP on this machine, and report what it saved';
export const usage = `Usage: zsync-streams demo [--size MIB] [--keep]

The whole job end to end, on built-in defaults: makes two versions of a sample
file (the new one with about 1% edited in scattered places), makes the new
one's .zsync, serves both with the built-in server on a free loopback port,
syncs the old version to the new one over HTTP, checks the result by SHA-1,
and prints what was reused and what was fetched.

  --size MIB   size of the sample file (default 64)
  --keep       keep the temporary folder and print its path`;

export async function run(argv: string[]): Promise<number> {
  const { values } = parseCommandLine(argv, {
    size: { type: 'string' },
    keep: { type: 'boolean' },
  });
  const sizeMiB = integerOption('size', values.size, 64);
  if (sizeMiB < 1) throw new InvalidArgumentError('--size must be at least 1 (MiB)');
  const dir = await mkdtemp(join(tmpdir(), 'zsync-streams-demo-'));
  const server = createRangeServer({ root: join(dir, 'server') });
  try {
    const serverDir = join(dir, 'server');
    const clientDir = join(dir, 'client');
    await mkdir(serverDir);
    await mkdir(clientDir);
    const { oldData, newData } = syntheticPair(sizeMiB * 1048576);
    await writeFile(join(serverDir, 'sample.bin'), newData);
    await writeFile(join(clientDir, 'sample.bin'), oldData);
    const say = (line: string): boolean => process.stdout.write(`${line}\n`);
    say(`made      sample.bin: old ${mb(oldData.length)} MB, new ${mb(newData.length)} MB (about 1% edited)`);

    let t = performance.now();
    const made = await zsyncmake(join(serverDir, 'sample.bin'), { urls: 'sample.bin', output: join(serverDir, 'sample.bin.zsync') });
    say(`zsyncmake sample.bin.zsync: ${made.params.length ? Math.ceil(made.params.length / made.params.blockSize) : 0} blocks of ${made.params.blockSize} bytes in ${seconds(t)} s`);

    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/sample.bin.zsync`;
    say(`serving   ${url}`);

    t = performance.now();
    const result = await zsync(url, { directory: clientDir });
    const total = result.length;
    say(`zsync     ${seconds(t)} s: reused ${mb(result.bytesReused)} MB from the old file, fetched ${mb(result.bytesFetched)} MB ` +
      `(${((100 * result.bytesFetched) / Math.max(1, total)).toFixed(2)}% of the file) in ${result.requests} requests, ${mb(result.bytesOnWire)} MB on the wire`);
    say(`          phases: match ${result.seconds.match} s, fetch ${result.seconds.fetch} s, verify ${result.seconds.verify} s`);
    const got = createHash('sha1').update(await readFile(result.output)).digest('hex');
    const want = createHash('sha1').update(newData).digest('hex');
    say(`result    ${result.verified.join(', ')} verified; SHA-1 ${got} ${got === want ? 'matches' : 'DOES NOT MATCH'} the new file`);
    say(`used ${result.bytesReused} local, fetched ${result.bytesFetched}`);
    if (values.keep) say(`files kept in ${dir}`);
    return got === want ? 0 : 1;
  } finally {
    server.close();
    server.closeAllConnections();
    if (!values.keep) await rm(dir, { recursive: true, force: true });
  }
}

function mb(n: number): string {
  return (n / 1e6).toFixed(2);
}

function seconds(since: number): string {
  return ((performance.now() - since) / 1000).toFixed(2);
}

/** Deterministic pseudo-random old file, and a new one with ~1% edited: inserts, deletes, overwrites. */
function syntheticPair(size: number): { oldData: Buffer; newData: Buffer } {
  const cipher = createCipheriv('aes-256-ctr', createHash('sha256').update('zsync-streams demo').digest(), Buffer.alloc(16));
  const oldData = cipher.update(Buffer.alloc(size));
  const parts: Buffer[] = [];
  let rng = 12345;
  const next = (n: number): number => {
    rng = (Math.imul(rng, 1103515245) + 12345) >>> 0;
    return rng % n;
  };
  const edits = Math.max(1, Math.floor(size / 100 / 2048));
  const slot = Math.floor(size / edits);
  let cur = 0;
  for (let k = 0; k < edits; k++) {
    const pos = k * slot + next(Math.max(1, slot - 4096));
    parts.push(oldData.subarray(cur, pos));
    cur = pos;
    const len = 1 + next(4096);
    const kind = next(3);
    if (kind !== 1) parts.push(cipher.update(Buffer.alloc(len))); // insert or overwrite: new bytes
    if (kind !== 0) cur = Math.min(size, cur + len); // delete or overwrite: skip old bytes
  }
  parts.push(oldData.subarray(cur));
  return { oldData, newData: Buffer.concat(parts) };
}
