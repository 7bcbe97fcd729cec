/**
 * `zsync-streams serve --socket` and `zsync-streams sync tcp://` as users run
 * them (the built CLI): a one-shot sync, a follower that picks up a file
 * replaced on disk, and the exit codes. If this regressed, the socket
 * transport would work as a library but not from the command line.
 */
import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI, cli, makePair, parseSummary } from './support/sync-fixtures.js';

/** Starts `serve --socket 0 ...` and resolves with its port once it listens. */
async function serveSocket(args: string[]): Promise<{ child: ChildProcess; port: number; output: () => string }> {
  const child = spawn(process.execPath, [CLI, 'serve', '--socket', '0', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (out += b.toString()));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start: ${out}`)), 20_000);
    child.stdout!.on('data', () => {
      const m = /at tcp:\/\/127\.0\.0\.1:(\d+)\//.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    child.once('exit', () => reject(new Error(`serve exited: ${out}`)));
  });
  return { child, port, output: () => out };
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('zsync-streams serve --socket / sync tcp:// (the built CLI)', function () {
  this.timeout(60_000);
  let dir: string;
  let server: Awaited<ReturnType<typeof serveSocket>> | undefined;

  before(async () => {
    await stat(CLI).catch(() => {
      throw new Error(`${CLI} is missing: run npm run build first`);
    });
  });
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'zsync-socket-cli-'));
  });
  afterEach(async () => {
    if (server && server.child.exitCode === null) {
      server.child.kill('SIGINT');
      await once(server.child, 'exit');
    }
    server = undefined;
    await rm(dir, { recursive: true, force: true });
  });

  it('syncs once, reusing the old copy, and prints zsync\'s summary line', async () => {
    const pair = makePair(41, 400_000);
    await writeFile(join(dir, 'app.bin'), pair.newData);
    await writeFile(join(dir, 'out.bin'), pair.oldData);
    server = await serveSocket([join(dir, 'app.bin')]);
    const r = await cli(['sync', '-o', join(dir, 'out.bin'), `tcp://127.0.0.1:${server.port}`]);
    expect(r.code, r.stderr).to.equal(0);
    const summary = parseSummary(r.stdout)!;
    expect(summary.used).to.be.greaterThan(0);
    expect(summary.used + summary.fetched).to.equal(pair.newData.length);
    expect((await readFile(join(dir, 'out.bin'))).equals(pair.newData)).to.equal(true);
  });

  it('--follow brings OUTPUT up to a file replaced on disk, and Ctrl-C leaves with exit 0', async () => {
    const pair = makePair(42, 300_000);
    const served = join(dir, 'app.bin');
    await writeFile(served, pair.newData);
    server = await serveSocket(['--poll-ms', '100', served]);
    const out = join(dir, 'followed.bin');
    const follower = spawn(process.execPath, [CLI, 'sync', '--follow', '-o', out, `tcp://127.0.0.1:${server.port}/app.bin`], { stdio: ['ignore', 'pipe', 'pipe'] });
    let said = '';
    follower.stdout!.on('data', (b: Buffer) => (said += b.toString()));
    follower.stderr!.on('data', (b: Buffer) => (said += b.toString()));
    try {
      const matches = async (data: Buffer): Promise<boolean> => (await readFile(out).catch(() => Buffer.alloc(0))).equals(data);
      await until('the follower has version 1', () => matches(pair.newData));
      // Published the usual way: written beside, then renamed over the served file.
      const v2 = Buffer.from(pair.newData);
      v2.write('second version', 150_000);
      await writeFile(`${served}.tmp`, v2);
      await rename(`${served}.tmp`, served);
      await until('the follower has version 2', () => matches(v2));
      await until('the follower reported version 2', async () => (said.match(/^used \d+ local, fetched \d+$/gm) ?? []).length === 2);
      expect(parseSummary(said.split('\n').filter((l) => l.startsWith('used'))[1]!)!.fetched, 'only the changed block').to.be.at.most(4096);
    } finally {
      follower.kill('SIGINT');
    }
    const [code] = (await once(follower, 'exit')) as [number | null];
    expect(code, said).to.equal(0);
    expect(server.output()).to.match(/app\.bin: version 2/);
  });

  it('refuses two FILEs with the same base name (exit 2, ERR_ZSYNC_INVALID_ARGUMENT): one name must mean one file', async () => {
    const data = makePair(44, 10_000).newData;
    await mkdir(join(dir, 'a'));
    await mkdir(join(dir, 'b'));
    await writeFile(join(dir, 'a', 'x.bin'), data);
    await writeFile(join(dir, 'b', 'x.bin'), data);
    const r = await cli(['serve', '--socket', '0', join(dir, 'a', 'x.bin'), join(dir, 'b', 'x.bin')], { timeoutMs: 20_000 });
    expect(r.code, r.stdout + r.stderr).to.equal(2);
    expect(r.stderr).to.contain('ERR_ZSYNC_INVALID_ARGUMENT');
  });

  it('takes --cache-mb 4096 (4 GiB: past a 32-bit shift) and serves', async () => {
    const pair = makePair(45, 100_000);
    await writeFile(join(dir, 'app.bin'), pair.newData);
    await writeFile(join(dir, 'out.bin'), pair.oldData);
    server = await serveSocket(['--cache-mb', '4096', join(dir, 'app.bin')]);
    const r = await cli(['sync', '-o', join(dir, 'out.bin'), `tcp://127.0.0.1:${server.port}`]);
    expect(r.code, r.stderr).to.equal(0);
    expect((await readFile(join(dir, 'out.bin'))).equals(pair.newData)).to.equal(true);
  });

  it('exits 3 when nothing listens or the server does not serve the name, 1 on HTTP-only options', async () => {
    const data = makePair(43, 10_000).newData;
    await writeFile(join(dir, 'a.bin'), data);
    server = await serveSocket([join(dir, 'a.bin')]);
    const missing = await cli(['sync', '-o', join(dir, 'x.bin'), `tcp://127.0.0.1:${server.port}/b.bin`]);
    expect(missing.code, missing.stderr).to.equal(3);
    expect(missing.stderr).to.contain('ERR_ZSYNC_NO_SUCH_FILE');
    server.child.kill('SIGINT');
    await once(server.child, 'exit');
    const refused = await cli(['sync', '-o', join(dir, 'x.bin'), `tcp://127.0.0.1:${server.port}`]);
    expect(refused.code, refused.stderr).to.equal(3);
    const http = await cli(['sync', '-k', 'keep.zsync', '-o', join(dir, 'x.bin'), `tcp://127.0.0.1:${server.port}`]);
    expect(http.code).to.equal(1);
    expect(http.stderr).to.contain('HTTP sources only');
    await stat(join(dir, 'x.bin')).then(
      () => expect.fail('no OUTPUT may appear'),
      () => {},
    );
  });
});
