// zsyncmake() hashes big regular files on two cores (worker threads reading the
// file themselves). Its output must be the same bytes as the one-thread stream
// path and as the real zsyncmake: a split at the wrong block, a lost last
// block, or a SHA-1 over the wrong bytes would change the file.
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { createCipheriv } from 'node:crypto';
import { mkdtemp, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { zsyncmake } from '../lib/zsyncmake.js';
import { needTool } from './support/tools.js';

const run = promisify(execFile);

describe('zsyncmake on two cores', function () {
  this.timeout(60_000);
  let dir: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'zs-make-parallel-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  for (const [length, extra] of [[5_000_001, {}], [4 * 2048, {}], [3_000_000, { sha256: true }], [1_000_003, { strongAlgorithm: 'SHA-224' as const }], [1, {}], [0, {}], [5_000_001, { blockSize: 2 << 20 }]] as const) {
    it(`writes the same bytes as the stream path for ${length} bytes ${JSON.stringify(extra)}`, async () => {
      const file = join(dir, `f${length}.bin`);
      await writeFile(file, createCipheriv('aes-128-ctr', Buffer.alloc(16, 3), Buffer.alloc(16)).update(Buffer.alloc(length)));
      const base = { urls: 'f.bin', mtime: new Date('2026-01-02T03:04:05Z'), ...extra };
      await zsyncmake(file, { ...base, output: join(dir, 'threads.zsync'), parallelFrom: 0 });
      await zsyncmake(file, { ...base, output: join(dir, 'stream.zsync'), parallelFrom: Infinity });
      expect(await readFile(join(dir, 'threads.zsync'))).to.deep.equal(await readFile(join(dir, 'stream.zsync')));
    });
  }

  it('is byte-identical to the real zsyncmake on a 20 MB file (the default path)', async function () {
    const zsyncmakeBin = needTool(this, 'zsyncmake');
    const file = join(dir, 'big.bin');
    await writeFile(file, createCipheriv('aes-128-ctr', Buffer.alloc(16, 9), Buffer.alloc(16)).update(Buffer.alloc(20_000_003)));
    await utimes(file, new Date('2026-01-02T03:04:05Z'), new Date('2026-01-02T03:04:05Z'));
    await run(zsyncmakeBin, ['-u', 'big.bin', '-o', 'real.zsync', 'big.bin'], { cwd: dir });
    await zsyncmake(file, { urls: 'big.bin', output: join(dir, 'ours.zsync') });
    expect(await readFile(join(dir, 'ours.zsync'))).to.deep.equal(await readFile(join(dir, 'real.zsync')));
  });
});
