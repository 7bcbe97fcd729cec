/**
 * The built package as users get it: dist/cli.js is one bundle, and so is
 * each worker thread, while dist/index.js stays a tree of modules. Both find
 * their workers from dist/module-root.js. If this regressed, `make` and `sync`
 * of any file from 16 MiB up would fail to start a thread (the tests that go
 * through lib/ under tsx would not notice), or a sync's hashing thread would be
 * missed in silence (it falls back to a pass of its own).
 */
import { expect } from 'chai';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { zsyncmake as libZsyncmake } from '../lib/zsyncmake.js';
import { startFaultServer, type FaultServer } from './support/fault-server.js';
import { CLI, cli, makePair } from './support/sync-fixtures.js';

/** Past the 16 MiB from which make and sync use worker threads by default. */
const SIZE = 20 << 20;
const DIST = join(CLI, '..');

describe('the built package (dist/) and its worker threads', function () {
  this.timeout(60_000);
  const { oldData, newData } = makePair(2026, SIZE);
  let dir: string;
  let fs: FaultServer;
  let control: Buffer;

  before(async () => {
    await stat(CLI).catch(() => {
      throw new Error(`${CLI} is missing: run npm run build first`);
    });
    dir = await mkdtemp(join(tmpdir(), 'zs-dist-'));
    await writeFile(join(dir, 'new.bin'), newData);
    await writeFile(join(dir, 'old.bin'), oldData);
    // The reference: the library's single-threaded path, from the sources.
    await libZsyncmake(join(dir, 'new.bin'), { blockSize: 4096, urls: 'new.bin', output: join(dir, 'ref.zsync'), parallelFrom: Infinity });
    control = await readFile(join(dir, 'ref.zsync'));
    fs = await startFaultServer({ files: { '/new.bin': newData, '/new.bin.zsync': control }, dataPath: '/new.bin' });
  });
  after(async () => {
    await fs?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('the CLI bundle makes a 20 MiB file\'s control file on its hashing threads, the same bytes', async () => {
    const out = join(dir, 'cli.zsync');
    const r = await cli(['make', '-b', '4096', '-u', 'new.bin', '-o', out, join(dir, 'new.bin')]);
    expect(r.stderr).to.equal('');
    expect(r.code).to.equal(0);
    expect((await readFile(out)).equals(control)).to.equal(true);
  });

  it('the CLI bundle syncs from a 20 MiB seed, scanned on two threads and hashed on the second', async () => {
    const out = join(dir, 'cli-out.bin');
    const r = await cli(['sync', '-q', '--json', '-i', join(dir, 'old.bin'), '-o', out, fs.url('/new.bin.zsync')]);
    expect(r.code, r.stdout + r.stderr).to.equal(0);
    const result = JSON.parse(r.stdout) as { ok: boolean; bytesReused: number; verified: string[] };
    expect(result.ok).to.equal(true);
    expect(result.bytesReused).to.be.above(SIZE / 2);
    expect(result.verified).to.deep.equal(['SHA-1']);
    expect((await readFile(out)).equals(newData)).to.equal(true);
  });

  it('dist/index.js runs zsyncmake() and zsync() on its worker threads', async () => {
    const lib = (await import(pathToFileURL(join(DIST, 'index.js')).href)) as typeof import('../lib/index.js');
    const made = join(dir, 'lib.zsync');
    await lib.zsyncmake(join(dir, 'new.bin'), { blockSize: 4096, urls: 'new.bin', output: made, parallelFrom: 0 });
    expect((await readFile(made)).equals(control)).to.equal(true);
    const out = join(dir, 'lib-out.bin');
    const result = await lib.zsync(fs.url('/new.bin.zsync'), { output: out, seeds: [join(dir, 'old.bin')], parallelFrom: 0 });
    expect(result.bytesReused).to.be.above(SIZE / 2);
    expect((await readFile(out)).equals(newData)).to.equal(true);
  });

  it('dist/index.js loads none of the bundles: no second copy of a module, no parentPort listener in a user\'s worker', async () => {
    const bundles = ['cli.js', 'sync/scan-worker.js', 'sync/prefix-hash-worker.js', 'parallel/checksum-worker.js'].map((f) => join(DIST, f));
    const seen = new Set<string>();
    const visit = async (file: string): Promise<void> => {
      if (seen.has(file)) return;
      seen.add(file);
      const text = await readFile(file, 'utf8');
      for (const m of text.matchAll(/(?:from|import)\s*\(?\s*'(\.[^']+)'/g)) await visit(join(file, '..', m[1]!));
    };
    await visit(join(DIST, 'index.js'));
    expect(seen.size, 'modules reached from dist/index.js').to.be.above(20);
    expect([...seen].filter((f) => bundles.includes(f))).to.deep.equal([]);
  });

  it('the hashing thread a sync starts when no scan thread is there answers from where dist/module-root.js finds it', async () => {
    const worker = new Worker(new URL('./sync/prefix-hash-worker.js', pathToFileURL(join(DIST, 'module-root.js'))));
    try {
      worker.postMessage({ open: join(dir, 'new.bin'), algorithms: ['sha1'] });
      worker.postMessage({ finish: SIZE });
      const [reply] = (await once(worker, 'message')) as [{ ok: boolean; digests: string[] }];
      expect(reply).to.deep.equal({ ok: true, digests: [createHash('sha1').update(newData).digest('hex')] });
    } finally {
      await worker.terminate();
    }
  });
});
