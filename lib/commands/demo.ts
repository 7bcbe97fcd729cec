import { createHash, createCipheriv } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { BlockIndex } from '../engine/block-index.js';
import { BlockReader } from '../engine/block-reader.js';
import { ChecksumCollector } from '../engine/checksum-collector.js';
import { ChecksumStream } from '../engine/checksum-stream.js';
import type { BlockChecksums } from '../engine/block-checksums.js';
import type { ChecksumRecord } from '../engine/checksummer.js';
import { LocalPatcherStream } from '../engine/local-patcher-stream.js';
import { MatcherStream } from '../engine/matcher-stream.js';
import { RemotePatcherStream } from '../engine/remote-patcher-stream.js';
import { defaultBlockSize } from '../engine/params.js';
import { integerOption, parseCommandLine } from './args.js';

export const summary = 'run a whole sync locally on generated files and report what it saved';
export const usage = `Usage: zsync-streams demo [--size MIB] [--keep]

Makes an old and a new file (the new one with about 1% edited in scattered
places), computes the new file's block checksums, finds the blocks the old
file already has, copies those, reads the rest from the new file (standing in
for a server), and checks the result byte for byte by SHA-1.

  --size MIB   size of the generated files (default 64)
  --keep       keep the temporary folder and print its path`;

export async function run(argv: string[]): Promise<number> {
  const { values } = parseCommandLine(argv, {
    size: { type: 'string' },
    keep: { type: 'boolean' },
  });
  const sizeMiB = integerOption('size', values.size, 64);
  const dir = await mkdtemp(join(tmpdir(), 'zsync-streams-demo-'));
  try {
    const oldPath = join(dir, 'old.bin');
    const newPath = join(dir, 'new.bin');
    const outPath = join(dir, 'out.bin');
    const { oldData, newData } = syntheticPair(sizeMiB * 1048576);
    await writeFile(oldPath, oldData);
    await writeFile(newPath, newData);
    const t0 = performance.now();

    const checksums = await checksumsOf(newPath, defaultBlockSize(newData.length));
    const t1 = performance.now();

    const index = new BlockIndex(checksums);
    const matcher = new MatcherStream(index);
    const out = await open(outPath, 'w+');
    try {
      await pipeline(createReadStream(oldPath, { highWaterMark: 1 << 20 }), matcher, new LocalPatcherStream(out, checksums.params));
      const t2 = performance.now();
      const missing = matcher.missingRanges();
      const source = await open(newPath, 'r');
      try {
        await pipeline(new BlockReader(source, checksums.params, { ranges: missing }), new RemotePatcherStream(matcher.state, out));
      } finally {
        await source.close();
      }
      const t3 = performance.now();
      const fetched = missing.reduce((n, r) => n + r.end - r.start, 0);
      await out.truncate(checksums.params.length);
      await out.close();
      const sha1 = await sha1Of(outPath);
      const ok = sha1 === checksums.fileHashes.sha1;
      const mb = (n: number): string => (n / 1e6).toFixed(2);
      const s = (a: number, b: number): string => ((b - a) / 1000).toFixed(2);
      process.stdout.write([
        `target      ${mb(newData.length)} MB in ${checksums.blockCount} blocks of ${checksums.params.blockSize} bytes`,
        `checksums   ${s(t0, t1)} s`,
        `seed scan   ${s(t1, t2)} s, ${matcher.stats.blocksFound} blocks reused (${mb(checksums.params.length - fetched)} MB)`,
        `"download"  ${s(t2, t3)} s, ${missing.length} ranges, ${mb(fetched)} MB (${((100 * fetched) / newData.length).toFixed(2)}% of the file)`,
        `result      SHA-1 ${sha1} ${ok ? 'matches' : 'DOES NOT MATCH'} the target`,
        values.keep ? `files kept in ${dir}` : '',
      ].filter(Boolean).join('\n') + '\n');
      return ok ? 0 : 1;
    } finally {
      await out.close().catch(() => {});
    }
  } finally {
    if (!values.keep) await rm(dir, { recursive: true, force: true });
  }
}

async function checksumsOf(path: string, blockSize: number): Promise<BlockChecksums> {
  const collector = new ChecksumCollector();
  let result: BlockChecksums | undefined;
  await pipeline(createReadStream(path, { highWaterMark: 1 << 20 }), new ChecksumStream({ blockSize }), async (records: AsyncIterable<ChecksumRecord>) => {
    for await (const r of records) {
      if (r.kind === 'block') collector.add(r);
      else result = collector.finish(r);
    }
  });
  return result!;
}

async function sha1Of(path: string): Promise<string> {
  const hash = createHash('sha1');
  await pipeline(createReadStream(path, { highWaterMark: 1 << 20 }), hash);
  return hash.digest('hex');
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
