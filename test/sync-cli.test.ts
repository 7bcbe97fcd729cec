/**
 * The built `zsync-streams sync` binary (node dist/cli.js) against servers on
 * 127.0.0.1: exit codes as zsync's, --json, the `used N local, fetched M` line,
 * https with a test CA, -k, -A, -u, and a sync killed with SIGKILL and run
 * again. If this regressed, scripts switching from zsync would misread results,
 * a killed sync would touch OUTPUT or refetch what it had, or TLS checks could
 * be retried around.
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ZsyncResult } from '../lib/zsync.js';
import { startFaultServer, type FaultServer } from './support/fault-server.js';
import { CLI, cli, editHeader, makePair, outputChecks, parseSummary, seededBytes, withOverwrites, zsyncmake } from './support/sync-fixtures.js';
import { makeTestCa, type TestCa } from './support/test-ca.js';
import { needTool } from './support/tools.js';
import { prng } from './generators.js';

const SIZE = 1_200_000;
const NEW = makePair(91, SIZE).newData;
const OLD = withOverwrites(NEW, 9, 10, 4000, 10_000, 110_000);
const OLD_MTIME = new Date('2021-02-03T04:05:06Z');

const { oldOutput, expectUntouched, expectNew } = outputChecks(OLD, NEW, OLD_MTIME);

describe('zsync-streams sync (the built CLI)', function () {
  this.timeout(30_000);
  let dir: string;
  let control: Buffer;
  let fs: FaultServer;
  let n = 0;
  let work: string;

  before(async function () {
    const make = needTool(this, 'zsyncmake');
    await stat(CLI).catch(() => {
      throw new Error(`${CLI} is missing: run npm run build first`);
    });
    dir = await mkdtemp(join(tmpdir(), 'zs-cli-'));
    await writeFile(join(dir, 'new.bin'), NEW);
    await zsyncmake(make, join(dir, 'new.bin'), 'new.bin', join(dir, 'new.bin.zsync'));
    control = await readFile(join(dir, 'new.bin.zsync'));
    await editHeader(join(dir, 'new.bin.zsync'), (l) => l.map((x) => (x.startsWith('SHA-1:') ? `SHA-1: ${'1'.repeat(40)}` : x)), join(dir, 'bad.zsync'));
    await editHeader(join(dir, 'new.bin.zsync'), (l) => l.map((x) => (x.startsWith('URL:') ? 'URL: gone.bin' : x)), join(dir, 'gone.zsync'));
    await editHeader(join(dir, 'new.bin.zsync'), (l) => l.filter((x) => !x.startsWith('SHA-1:')).map((x) => (x.startsWith('URL:') ? 'URL: gone.bin' : x)), join(dir, 'nohash-gone.zsync'));
    await editHeader(join(dir, 'new.bin.zsync'), (l) => l.map((x) => (x.startsWith('Filename:') ? 'Filename: ../evil' : x)), join(dir, 'evil.zsync'));
    const files: Record<string, Buffer> = { '/new.bin': NEW, '/new.bin.zsync': control, '/garbage.zsync': Buffer.from('this is not a control file\n\n') };
    for (const f of ['bad', 'gone', 'nohash-gone', 'evil']) files[`/${f}.zsync`] = await readFile(join(dir, `${f}.zsync`));
    fs = await startFaultServer({ files, dataPath: '/new.bin' });
  });
  beforeEach(async () => {
    fs.reset();
    work = join(dir, `w${n++}`);
    await mkdir(work);
  });
  after(async () => {
    await fs?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('--help prints the usage and exits 0', async () => {
    const r = await cli(['sync', '--help']);
    expect(r.code).to.equal(0);
    expect(r.stdout).to.match(/Usage: zsync-streams sync/);
  });

  it('syncs and ends with zsync\'s summary line, options after the positional too', async () => {
    const out = join(work, 'out.bin');
    await oldOutput(out);
    const r = await cli(['sync', fs.url('/new.bin.zsync'), '-o', out], { cwd: work });
    expect(r.code, r.stderr).to.equal(0);
    await expectNew(out);
    const summary = parseSummary(r.stdout);
    expect(summary, r.stdout).to.not.equal(undefined);
    expect(summary!.used + summary!.fetched).to.be.at.least(SIZE);
    expect(summary!.fetched).to.be.below(10 * 4000 + 10 * 2 * 2048 + 1);
    expect(r.stdout.trim().split('\n').pop()).to.match(/^used \d+ local, fetched \d+$/);
  });

  it('-s is -q (as in zsync), -V prints the version and exits 0', async () => {
    const out = join(work, 'out.bin');
    const r = await cli(['sync', '-s', '-o', out, fs.url('/new.bin.zsync')], { cwd: work });
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.equal('');
    await expectNew(out);
    const v = await cli(['sync', '-V']);
    expect(v.code).to.equal(0);
    expect(v.stdout).to.match(/^zsync-streams \d+\.\d+\.\d+/);
  });

  it('3 for a control file with no URL (as zsync), and a password in a URL is never printed', async () => {
    await editHeader(join(dir, 'new.bin.zsync'), (l) => l.filter((x) => !x.startsWith('URL:')), join(work, 'nourl.zsync'));
    const r = await cli(['sync', '-o', 'out.bin', 'nourl.zsync'], { cwd: work });
    expect(r.code, r.stderr).to.equal(3);
    const secret = fs.url('/nope.zsync').replace('http://', 'http://bob:hunter2@');
    for (const args of [['sync', '-o', 'out.bin', secret], ['sync', '--json', '-o', 'out.bin', secret]]) {
      const e = await cli(args, { cwd: work });
      expect(e.code).to.equal(3);
      expect(e.stdout + e.stderr).to.not.include('hunter2');
      expect(e.stdout + e.stderr).to.include('***@');
    }
  });

  it('-q prints nothing on stdout', async () => {
    const out = join(work, 'out.bin');
    const r = await cli(['sync', '-q', '-o', out, fs.url('/new.bin.zsync')], { cwd: work });
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.equal('');
    await expectNew(out);
  });

  it('--json prints one object with ok, bytesReused, bytesFetched, bytesOnWire, requests, seconds and bytes per seed', async () => {
    const out = join(work, 'out.bin');
    await oldOutput(out);
    const seed = join(work, 'seed.bin');
    await writeFile(seed, NEW.subarray(0, 100_000));
    const r = await cli(['sync', '--json', '-i', seed, '-o', out, fs.url('/new.bin.zsync')], { cwd: work });
    expect(r.code, r.stderr).to.equal(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).to.have.length(1);
    const j = JSON.parse(lines[0]!) as ZsyncResult;
    expect(j.ok).to.equal(true);
    for (const k of ['bytesReused', 'bytesFetched', 'bytesOnWire', 'requests'] as const) expect(j[k], k).to.be.a('number');
    expect(j.seconds.total).to.be.a('number');
    expect(j.seeds.map((s) => s.path)).to.deep.equal([out, seed]);
    for (const s of j.seeds) expect(s.bytesReused).to.be.a('number');
    expect(j.bytesReused).to.equal(j.seeds.reduce((a, s) => a + s.bytesReused, 0));
    expect(j.bytesReused + j.bytesFetched).to.be.at.least(SIZE);
    expect(j.bytesOnWire).to.be.at.least(j.bytesFetched);
    expect(j.requests).to.equal(fs.requests('/new.bin'));
    await expectNew(out);
  });

  describe('exit codes', () => {
    it('1 for bad arguments', async () => {
      for (const args of [['sync'], ['sync', '--bogus', 'x.zsync'], ['sync', 'a.zsync', 'b.zsync'], ['sync', '--concurrency', 'many', 'a.zsync']]) {
        const r = await cli(args, { cwd: work });
        expect(r.code, args.join(' ')).to.equal(1);
        expect(r.stderr).to.not.equal('');
      }
    });

    it('1 for a control file that cannot be parsed, local or over HTTP', async () => {
      await writeFile(join(work, 'garbage.zsync'), 'zsync: 0.6.2\nBlocksize: banana\n\n');
      const local = await cli(['sync', '-o', 'out.bin', 'garbage.zsync'], { cwd: work });
      expect(local.code, local.stderr).to.equal(1);
      const remote = await cli(['sync', '-o', 'out.bin', fs.url('/garbage.zsync')], { cwd: work });
      expect(remote.code, remote.stderr).to.equal(1);
      expect(await readdir(work)).to.deep.equal(['garbage.zsync']);
    });

    it('2 when the data is gone (404), leaving OUTPUT untouched', async () => {
      const out = join(work, 'out.bin');
      await oldOutput(out);
      const r = await cli(['sync', '-o', out, fs.url('/gone.zsync')], { cwd: work });
      expect(r.code, r.stderr).to.equal(2);
      expect(r.stderr.trim().split('\n')).to.have.length(1);
      await expectUntouched(out);
    });

    it('2 for a control file without SHA-1 whose data cannot be fetched (zsync 0.6.2 exits 0 there)', async () => {
      const out = join(work, 'out.bin');
      const r = await cli(['sync', '-o', out, fs.url('/nohash-gone.zsync')], { cwd: work });
      expect(r.code, r.stderr).to.equal(2);
      expect(await readdir(work)).to.not.include('out.bin');
    });

    it('2 with "checksum mismatch" named when the whole-file hash is wrong, leaving OUTPUT untouched', async () => {
      const out = join(work, 'out.bin');
      await oldOutput(out);
      const r = await cli(['sync', '-o', out, fs.url('/bad.zsync')], { cwd: work });
      expect(r.code).to.equal(2);
      expect(r.stderr).to.match(/checksum mismatch/);
      expect(r.stderr.trim().split('\n')).to.have.length(1);
      await expectUntouched(out);
    });

    it('3 when the control file cannot be fetched (404, nothing listening)', async () => {
      const r404 = await cli(['sync', '-o', 'out.bin', fs.url('/nope.zsync')], { cwd: work });
      expect(r404.code, r404.stderr).to.equal(3);
      const refused = await cli(['sync', '-o', 'out.bin', 'http://127.0.0.1:1/x.zsync'], { cwd: work });
      expect(refused.code, refused.stderr).to.equal(3);
      const json = await cli(['sync', '--json', '-o', 'out.bin', fs.url('/nope.zsync')], { cwd: work });
      expect(json.code).to.equal(3);
      const j = JSON.parse(json.stdout) as { ok: boolean; error: { code: string } };
      expect(j.ok).to.equal(false);
      expect(j.error.code).to.equal('ERR_ZSYNC_CONTROL_UNAVAILABLE');
      expect(await readdir(work)).to.deep.equal([]);
    });
  });

  it('-k keeps the .zsync and the second run gets a 304 instead of downloading it again', async () => {
    const out = join(work, 'out.bin');
    const keep = join(work, 'kept.zsync');
    for (let i = 0; i < 2; i++) {
      await oldOutput(out);
      const r = await cli(['sync', '-k', keep, '-o', out, fs.url('/new.bin.zsync')], { cwd: work });
      expect(r.code, r.stderr).to.equal(0);
      await expectNew(out);
    }
    expect(fs.log.filter((r) => r.path === '/new.bin.zsync').map((r) => r.status)).to.deep.equal([200, 304]);
    expect(fs.sent('/new.bin.zsync')).to.equal(control.length);
  });

  it('-u gives a local .zsync the URL its relative URLs are resolved against; without it, its own folder', async () => {
    await writeFile(join(work, 'local.zsync'), control);
    const r = await cli(['sync', '-u', fs.url('/x/../remote.zsync'), '-o', 'out.bin', 'local.zsync'], { cwd: work });
    expect(r.code, r.stderr).to.equal(0);
    await expectNew(join(work, 'out.bin'));
    expect(fs.requests('/new.bin')).to.be.greaterThan(0);
    // Without -u: relative to the .zsync's folder, where new.bin is not.
    const missing = await cli(['sync', '-o', 'out2.bin', 'local.zsync'], { cwd: work });
    expect(missing.code, missing.stderr).to.equal(2);
    await writeFile(join(work, 'new.bin'), NEW);
    const local = await cli(['sync', '-o', 'out2.bin', 'local.zsync'], { cwd: work });
    expect(local.code, local.stderr).to.equal(0);
    await expectNew(join(work, 'out2.bin'));
  });

  it('never writes outside the current folder for Filename: ../evil (no -o)', async () => {
    const inner = join(work, 'inner');
    await mkdir(inner);
    const r = await cli(['sync', fs.url('/evil.zsync')], { cwd: inner });
    expect(r.code, r.stderr).to.equal(0);
    expect(await readdir(work)).to.deep.equal(['inner']);
    const files = await readdir(inner);
    expect(files).to.have.length(1);
    await expectNew(join(inner, files[0]!));
  });

  describe('-A basic auth', () => {
    let auth: FaultServer;
    before(async () => {
      auth = await startFaultServer({ files: { '/new.bin': NEW, '/new.bin.zsync': control }, dataPath: '/new.bin', auth: 'bob:pa:ss' });
    });
    after(async () => {
      await auth?.stop();
    });

    it('works with -A HOST:PORT=USER:PASS and -A HOST=USER:PASS, exits 3 without', async () => {
      for (const host of [`127.0.0.1:${auth.port}`, '127.0.0.1']) {
        const out = join(work, `out-${host.length}.bin`);
        const r = await cli(['sync', '-A', `${host}=bob:pa:ss`, '-o', out, auth.url('/new.bin.zsync')], { cwd: work });
        expect(r.code, r.stderr).to.equal(0);
        await expectNew(out);
      }
      const r = await cli(['sync', '-o', 'none.bin', auth.url('/new.bin.zsync')], { cwd: work });
      expect(r.code).to.equal(3);
      const bad = await cli(['sync', '-A', 'nonsense', '-o', 'none.bin', auth.url('/new.bin.zsync')], { cwd: work });
      expect(bad.code).to.equal(1);
    });
  });

  describe('https with a test CA', () => {
    let ca: TestCa;
    let tls: FaultServer;
    before(async function () {
      this.timeout(20_000);
      ca = await makeTestCa();
      tls = await startFaultServer({ files: { '/new.bin': NEW, '/new.bin.zsync': control }, dataPath: '/new.bin', tls: { key: ca.key, cert: ca.cert } });
    });
    beforeEach(() => tls.reset());
    after(async () => {
      await tls?.stop();
      await ca?.remove();
    });

    it('works with --ca FILE', async () => {
      const out = join(work, 'out.bin');
      await oldOutput(out);
      const r = await cli(['sync', '--ca', ca.caFile, '-o', out, tls.url('/new.bin.zsync')], { cwd: work });
      expect(r.code, r.stderr).to.equal(0);
      await expectNew(out);
      expect(tls.requests('/new.bin')).to.be.greaterThan(0);
    });

    it('fails with a TLS error without it, after one handshake (not retried)', async () => {
      const r = await cli(['sync', '-o', 'out.bin', tls.url('/new.bin.zsync')], { cwd: work });
      expect(r.code).to.equal(3);
      expect(r.stderr).to.match(/certificate|TLS/i);
      expect(tls.tlsErrors).to.equal(1);
      // The data over https, the .zsync local: exit 2, ERR_ZSYNC_TLS, one handshake.
      tls.reset();
      await writeFile(join(work, 'local.zsync'), control);
      const data = await cli(['sync', '-u', tls.url('/new.bin.zsync'), '-o', 'out.bin', 'local.zsync'], { cwd: work });
      expect(data.code).to.equal(2);
      expect(data.stderr).to.include('ERR_ZSYNC_TLS');
      expect(tls.tlsErrors).to.equal(1);
      expect(tls.requests()).to.equal(0);
      expect(await readdir(work)).to.deep.equal(['local.zsync', 'out.bin.part']);
    });

    it('--ca adds to NODE_EXTRA_CA_CERTS, never replaces it', async () => {
      const other = await makeTestCa();
      try {
        const out = join(work, 'out.bin');
        const env = { ...process.env, NODE_EXTRA_CA_CERTS: ca.caFile };
        const r = await cli(['sync', '--ca', other.caFile, '-o', out, tls.url('/new.bin.zsync')], { cwd: work, env });
        expect(r.code, r.stderr).to.equal(0);
        await expectNew(out);
        // And --ca alone still works when the env names another CA.
        const r2 = await cli(['sync', '--ca', ca.caFile, '-o', out, tls.url('/new.bin.zsync')], { cwd: work, env: { ...process.env, NODE_EXTRA_CA_CERTS: other.caFile } });
        expect(r2.code, r2.stderr).to.equal(0);
      } finally {
        await other.remove();
      }
    });

    it('works with --no-check-certificate, and warns', async () => {
      const out = join(work, 'out.bin');
      const r = await cli(['sync', '--no-check-certificate', '-o', out, tls.url('/new.bin.zsync')], { cwd: work });
      expect(r.code, r.stderr).to.equal(0);
      expect(r.stderr).to.match(/warning.*not checked/i);
      await expectNew(out);
    });
  });

  describe('killed with SIGKILL mid-download and run again', () => {
    const BIG = makePair(93, 2 * 1024 * 1024).newData;
    const BIG_OLD = (() => {
      const b = Buffer.from(BIG);
      const rand = prng(11);
      for (let i = 0; i < 12; i++) seededBytes(rand, 60_000).copy(b, 30_000 + i * 170_000);
      return b;
    })();
    let slow: FaultServer;
    let fast: FaultServer;
    let bigControl: Buffer;

    before(async function () {
      const make = needTool(this, 'zsyncmake');
      await writeFile(join(dir, 'big.bin'), BIG);
      await zsyncmake(make, join(dir, 'big.bin'), 'big.bin', join(dir, 'big.bin.zsync'));
      bigControl = await readFile(join(dir, 'big.bin.zsync'));
      const files = { '/big.bin': BIG, '/big.bin.zsync': bigControl };
      slow = await startFaultServer({ files, dataPath: '/big.bin', bytesPerSecond: 150_000 });
      fast = await startFaultServer({ files, dataPath: '/big.bin' });
    });
    after(async () => {
      await slow?.stop();
      await fast?.stop();
    });

    it('finishes correctly, the two runs fetch at most 1.1x one run, and the killed run never touched OUTPUT', async () => {
      // One uninterrupted run, for the reference count.
      const ref = join(work, 'ref.bin');
      await writeFile(ref, BIG_OLD);
      const one = await cli(['sync', '--json', '-o', ref, fast.url('/big.bin.zsync')], { cwd: work });
      expect(one.code, one.stderr).to.equal(0);
      const uninterrupted = (JSON.parse(one.stdout) as ZsyncResult).bytesFetched;
      expect(uninterrupted).to.be.greaterThan(500_000);

      const out = join(work, 'out.bin');
      await writeFile(out, BIG_OLD);
      await utimes(out, OLD_MTIME, OLD_MTIME);
      const child = spawn(process.execPath, [CLI, 'sync', '-q', '-o', out, slow.url('/big.bin.zsync')], { cwd: work, stdio: 'ignore' });
      const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
      const deadline = Date.now() + 15_000;
      while (slow.sent('/big.bin') < uninterrupted * 0.4 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(slow.sent('/big.bin'), 'the first run got some data before the kill').to.be.at.least(uninterrupted * 0.4);
      child.kill('SIGKILL');
      expect(await exited).to.equal('SIGKILL');
      const firstRun = slow.sent('/big.bin');
      expect(firstRun).to.be.below(uninterrupted * 0.9);

      // The killed run left OUTPUT exactly as it was, and its work in OUTPUT.part.
      expect((await readFile(out)).equals(BIG_OLD)).to.equal(true);
      expect((await stat(out)).mtime.getTime()).to.equal(OLD_MTIME.getTime());
      expect(await readdir(work)).to.include('out.bin.part');

      const again = await cli(['sync', '--json', '-o', out, fast.url('/big.bin.zsync')], { cwd: work });
      expect(again.code, again.stderr).to.equal(0);
      await expectNew(out, BIG);
      const second = JSON.parse(again.stdout) as ZsyncResult;
      expect(second.seeds[0]!.path).to.equal(`${out}.part`);
      // eslint-disable-next-line no-console
      console.log(`      killed run ${firstRun} + rerun ${second.bytesFetched} = ${((firstRun + second.bytesFetched) / uninterrupted).toFixed(3)}x one run (${uninterrupted})`);
      expect(firstRun + second.bytesFetched).to.be.at.most(uninterrupted * 1.1);
      expect((await readdir(work)).sort()).to.deep.equal(['out.bin', 'out.bin.zs-old', 'ref.bin', 'ref.bin.zs-old']);
    });
  });
});
