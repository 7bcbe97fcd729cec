/**
 * zsync() end to end against servers on 127.0.0.1 that misbehave, and the
 * control-file plumbing around it: mirrors, relative URLs, -k, basic auth,
 * hostile Filename headers, missing hashes. If this regressed, a flaky or lying
 * server could leave a corrupt or half-written OUTPUT, a limited server (200,
 * first range only, 501) would fail the sync, or a .zsync could make us write
 * outside the chosen folder.
 */
import { expect } from 'chai';
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ZsyncError } from '../lib/errors.js';
import { ControlSync } from '../lib/sync/control-sync.js';
import { defaultOutputName } from '../lib/sync/output-name.js';
import { zsync, type ZsyncOptions, type ZsyncResult } from '../lib/zsync.js';
import { startFaultServer, type FaultMode, type FaultServer } from './support/fault-server.js';
import { editHeader, makePair, outputChecks, rejection, withOverwrites, zsyncmake } from './support/sync-fixtures.js';
import { needTool } from './support/tools.js';

const SIZE = 1_500_000;
const NEW = makePair(77, SIZE).newData;
/** The new file with 15 small overwrites: 15 ranges to fetch, spread out. */
const OLD = withOverwrites(NEW, 5, 15, 3000, 20_000, 95_000);
const OLD_MTIME = new Date('2020-05-06T07:08:09Z');

/** An OUTPUT holding the old version, with a known mtime, and checks on it. */
const { oldOutput, expectUntouched, expectNew } = outputChecks(OLD, NEW, OLD_MTIME);

/** Nothing in `dir` but the allowed names (no stray temp files). */
async function expectOnly(dir: string, allowed: string[]): Promise<void> {
  for (const f of await readdir(dir)) expect(allowed, `unexpected file ${f}`).to.include(f);
}

describe('zsync() against a misbehaving server', function () {
  this.timeout(30_000);
  let dir: string;
  let control: Buffer;
  let fs: FaultServer;
  let n = 0;
  let work: string;
  let out: string;

  before(async function () {
    const make = needTool(this, 'zsyncmake');
    dir = await mkdtemp(join(tmpdir(), 'zs-faults-'));
    await writeFile(join(dir, 'new.bin'), NEW);
    await zsyncmake(make, join(dir, 'new.bin'), 'new.bin', join(dir, 'new.bin.zsync'));
    control = await readFile(join(dir, 'new.bin.zsync'));
    fs = await startFaultServer({ files: { '/new.bin': NEW, '/new.bin.zsync': control }, dataPath: '/new.bin' });
  });
  beforeEach(async () => {
    fs.setFile('/new.bin', NEW);
    fs.setFault({ mode: 'none' });
    fs.reset();
    work = join(dir, `w${n++}`);
    await mkdir(work);
    out = join(work, 'out.bin');
    await oldOutput(out);
  });
  after(async () => {
    await fs?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const sync = (options: ZsyncOptions = {}): Promise<ZsyncResult> => zsync(fs.url('/new.bin.zsync'), { output: out, backoffMs: 20, stallTimeoutMs: 500, ...options });

  it('syncs from a well-behaved server in a few multi-range requests, keeping OUTPUT.zs-old', async () => {
    const r = await sync();
    await expectNew(out);
    expect((await readFile(`${out}.zs-old`)).equals(OLD)).to.equal(true);
    expect(r.requests).to.be.at.most(2);
    expect(r.seeds.map((s) => s.path)).to.deep.equal([out]);
    expect(r.seeds[0]!.bytesReused).to.equal(r.bytesReused);
    expect(r.bytesFetched).to.be.below(15 * 3000 + 15 * 2 * 2048 + 1);
    await expectOnly(work, ['out.bin', 'out.bin.zs-old']);
  });

  for (const mode of ['ignore-range', 'first-range-only', 'multi-501', 'cap-parts'] as const) {
    it(`gives a correct OUTPUT from a server that does '${mode}' (limited but honest)`, async () => {
      fs.setFault({ mode, cap: 2 });
      const r = await sync();
      await expectNew(out);
      expect(r.adaptations.length, 'the fallback is reported').to.be.greaterThan(0);
      await expectOnly(work, ['out.bin', 'out.bin.zs-old']);
    });
  }

  for (const mode of ['drop', 'short', 'status-503', 'stall', 'wrong'] as const) {
    it(`recovers from '${mode}' on the first request by retrying`, async () => {
      fs.setFault({ mode, times: 1 });
      const r = await sync();
      await expectNew(out);
      // Transport faults are retried by the fetcher; wrong bytes fail their block
      // checksum, are dropped, and are asked for again in a second round.
      if (mode === 'wrong') expect(r.requests).to.be.greaterThan(1);
      else expect(r.retries).to.be.greaterThan(0);
    });
  }

  const persistent: Array<[FaultMode, string[]]> = [
    ['drop', ['ERR_ZSYNC_HTTP_NETWORK']],
    ['short', ['ERR_ZSYNC_HTTP_SHORT', 'ERR_ZSYNC_HTTP_NETWORK']],
    ['status-503', ['ERR_ZSYNC_HTTP_STATUS']],
    ['stall', ['ERR_ZSYNC_HTTP_STALL']],
    ['wrong', ['ERR_ZSYNC_BLOCK_CHECKSUM']],
  ];
  for (const [mode, codes] of persistent) {
    it(`fails with ${codes.join('/')} on a server that always does '${mode}', leaving OUTPUT untouched; a later run completes`, async () => {
      fs.setFault({ mode });
      const t0 = Date.now();
      const err = await rejection(sync({ maxAttempts: 3, retryBudgetMs: 5000 }));
      expect(err.code).to.be.oneOf(codes);
      expect(Date.now() - t0).to.be.below(10_000);
      await expectUntouched(out);
      await expectOnly(work, ['out.bin', 'out.bin.part']);
      // The .part holds only verified blocks: the next run takes it as a seed.
      fs.setFault({ mode: 'none' });
      const r = await sync();
      await expectNew(out);
      expect(r.seeds.map((s) => s.path)).to.deep.equal([`${out}.part`, out]);
      expect(r.seeds[0]!.bytesReused, 'the .part gave its blocks').to.be.greaterThan(SIZE / 2);
      await expectOnly(work, ['out.bin', 'out.bin.zs-old']);
    });
  }

  it('a file changed on the server between requests gives ERR_ZSYNC_REMOTE_CHANGED (ETag), never a mix', async () => {
    const changed = makePair(78, SIZE).newData;
    fs.setFault({ mode: 'change', times: 1, changed });
    const err = await rejection(sync({ maxRangesPerRequest: 2, concurrency: 1 }));
    expect(err).to.have.property('code', 'ERR_ZSYNC_REMOTE_CHANGED');
    await expectUntouched(out);
  });

  it('a file changed on a server without validators fails a block or the hash check, never a mix', async () => {
    const bare = await startFaultServer({ files: { '/new.bin': NEW, '/new.bin.zsync': control }, dataPath: '/new.bin', etag: false, lastModified: false });
    try {
      const changed = makePair(79, SIZE).newData;
      bare.setFault({ mode: 'change', times: 1, changed });
      const err = await rejection(zsync(bare.url('/new.bin.zsync'), { output: out, maxRangesPerRequest: 2, concurrency: 1 }));
      expect(err.code).to.be.oneOf(['ERR_ZSYNC_BLOCK_CHECKSUM', 'ERR_ZSYNC_FILE_HASH_MISMATCH']);
      await expectUntouched(out);
    } finally {
      await bare.stop();
    }
  });

  it('an AbortSignal stops the fetch with ERR_ZSYNC_ABORTED and leaves OUTPUT untouched', async () => {
    const slow = await startFaultServer({ files: { '/new.bin': NEW, '/new.bin.zsync': control }, dataPath: '/new.bin', bytesPerSecond: 20_000 });
    try {
      const controller = new AbortController();
      const t0 = Date.now();
      const p = zsync(slow.url('/new.bin.zsync'), {
        output: out,
        signal: controller.signal,
        onProgress: (pr) => {
          if (pr.phase === 'fetch' && pr.done > 0) controller.abort();
        },
      });
      const err = await rejection(p);
      expect(err).to.have.property('code', 'ERR_ZSYNC_ABORTED');
      expect(Date.now() - t0).to.be.below(5000);
      await expectUntouched(out);
      await expectOnly(work, ['out.bin', 'out.bin.part']);
    } finally {
      await slow.stop();
    }
  });

  it('an AbortSignal aborted before the start rejects with ERR_ZSYNC_ABORTED', async () => {
    const err = await rejection(sync({ signal: AbortSignal.abort() }));
    expect(err).to.have.property('code', 'ERR_ZSYNC_ABORTED');
    await expectUntouched(out);
  });

  // The fetch reports its progress every 256 KiB written or 100 ms, and at its
  // first write and its last: not per piece delivered (a part of a multipart
  // answer is a piece, a few KiB, and each event was an object).
  describe("the fetch's progress events", () => {
    const BIG = makePair(80, 4_000_000).newData;
    /** 400 overwrites of 16 bytes, 9 973 apart (more than four 2 KiB blocks): hundreds of ranges to fetch, a block or two each. */
    const BIG_OLD = withOverwrites(BIG, 6, 400, 16, 1000, 9_973);
    let big: FaultServer;

    before(async function () {
      const make = needTool(this, 'zsyncmake');
      await writeFile(join(dir, 'big.bin'), BIG);
      await zsyncmake(make, join(dir, 'big.bin'), 'big.bin', join(dir, 'big.bin.zsync'));
      big = await startFaultServer({ files: { '/big.bin': BIG, '/big.bin.zsync': await readFile(join(dir, 'big.bin.zsync')) }, dataPath: '/big.bin' });
    });
    after(async () => {
      await big?.stop();
    });

    /**
     * A sync of big.bin into `output`, its fetch events, and the ranges it
     * asked for. Events by bytes alone unless `intervalMs` is given: counts
     * that do not hang on how fast the machine is.
     */
    async function syncBig(output: string, intervalMs = Infinity): Promise<{ r: ZsyncResult; events: Array<{ done: number; total: number }>; ranges: number }> {
      big.reset();
      const events: Array<{ done: number; total: number }> = [];
      const r = await zsync(big.url('/big.bin.zsync'), {
        output,
        progressIntervalMs: intervalMs,
        onProgress: (p) => {
          if (p.phase === 'fetch') events.push({ done: p.done, total: p.total });
        },
      });
      expect((await readFile(output)).equals(BIG), 'OUTPUT is the new version').to.equal(true);
      const ranges = big.log.filter((l) => l.path === '/big.bin' && l.range !== undefined).reduce((n, l) => n + l.range!.split(',').length, 0);
      return { r, events, ranges };
    }

    /** Events whose `done` only goes up, to `total`, which the last one reaches; and few: one per 256 KiB, plus the first and the last. */
    function expectFewEvents(events: Array<{ done: number; total: number }>, r: ZsyncResult): void {
      expect(events.length).to.be.greaterThan(0);
      const total = events[0]!.total;
      // The bytes of the missing blocks (no gap between ranges small enough to be merged here).
      expect(total, 'the bytes the fetch was to write').to.equal(r.bytesFetched);
      for (const [i, e] of events.entries()) {
        expect(e.total, `event ${i}: total`).to.equal(total);
        expect(e.done, `event ${i}: done`).to.be.at.most(total);
        // Never down, and never an event with nothing new.
        if (i > 0) expect(e.done, `event ${i}: done rises`).to.be.above(events[i - 1]!.done);
      }
      expect(events.at(-1)!.done, 'the last event: every byte').to.equal(total);
      expect(events.length, `events for ${total} bytes`).to.be.at.most(Math.ceil(total / (256 << 10)) + 2);
    }

    it('a sync that fetches some 350 ranges reports a few events, not one a piece, done rising to total', async () => {
      const output = join(work, 'big.bin');
      await writeFile(output, BIG_OLD);
      const { r, events, ranges } = await syncBig(output);
      // (Fewer than 400: an overwritten block of a repetitive stretch is found elsewhere in the seed.)
      expect(ranges, 'ranges asked for: a piece delivered each at least').to.be.at.least(300);
      expect(r.bytesFetched).to.be.above(512 << 10);
      expectFewEvents(events, r);
      expect(events.length * 10, 'far fewer events than pieces').to.be.below(ranges);
    });

    it('with an interval of 0, reports every piece that writes something', async () => {
      const output = join(work, 'big-every.bin');
      await writeFile(output, BIG_OLD);
      const { events, ranges } = await syncBig(output, 0);
      expect(events.length, 'about an event a range').to.be.at.least(ranges / 2);
      for (let i = 1; i < events.length; i++) expect(events[i]!.done).to.be.above(events[i - 1]!.done);
    });

    it('a round that ends short of its total (bad blocks, fetched again) still reports all it wrote', async () => {
      const output = join(work, 'big-wrong.bin');
      await writeFile(output, BIG_OLD);
      big.setFault({ mode: 'wrong', times: 1 });
      let events: Array<{ done: number; total: number }>;
      try {
        ({ events } = await syncBig(output));
      } finally {
        big.setFault({ mode: 'none' });
      }
      // A round starts again from 0 with what is left as its total.
      const rounds: Array<Array<{ done: number; total: number }>> = [];
      for (const e of events) {
        const round = rounds.at(-1);
        if (round && e.total === round[0]!.total && e.done > round.at(-1)!.done) round.push(e);
        else rounds.push([e]);
      }
      expect(rounds.length, 'a second round for the bad blocks').to.be.at.least(2);
      const first = rounds[0]!;
      expect(first.at(-1)!.done, 'the first round fell short').to.be.below(first[0]!.total);
      // What each round's last event says was written adds up to what was missing.
      expect(rounds.reduce((n, round) => n + round.at(-1)!.done, 0)).to.equal(first[0]!.total);
      expect(rounds[1]![0]!.total).to.equal(first[0]!.total - first.at(-1)!.done);
    });

    it('a sync with no seed, fetching all 4 MB, reports one event per 256 KiB or so', async () => {
      const { r, events } = await syncBig(join(work, 'fresh.bin'));
      expect(r.bytesFetched).to.equal(BIG.length);
      expectFewEvents(events, r);
    });
  });
});

describe('zsync() control files: mirrors, relative URLs, -k, auth, Filename, hashes', function () {
  this.timeout(30_000);
  let dir: string;
  let fs: FaultServer;
  let authServer: FaultServer;
  let make: string;
  let control: Buffer;
  let n = 0;
  let work: string;

  /** A .zsync for NEW with its header edited, served at `path` and returned. */
  async function variant(path: string, edit: (lines: string[]) => string[]): Promise<Buffer> {
    const file = join(dir, `variant-${n}.zsync`);
    await editHeader(join(dir, 'new.bin.zsync'), edit, file);
    const buf = await readFile(file);
    fs.setFile(path, buf);
    return buf;
  }
  const setUrls = (urls: string[]) => (lines: string[]) => [...lines.filter((l) => !l.startsWith('URL:')), ...urls.map((u) => `URL: ${u}`)];

  before(async function () {
    make = needTool(this, 'zsyncmake');
    dir = await mkdtemp(join(tmpdir(), 'zs-control-'));
    await writeFile(join(dir, 'new.bin'), NEW);
    await zsyncmake(make, join(dir, 'new.bin'), 'new.bin', join(dir, 'new.bin.zsync'));
    control = await readFile(join(dir, 'new.bin.zsync'));
    fs = await startFaultServer({ files: { '/new.bin': NEW, '/new.bin.zsync': control }, dataPath: '/new.bin' });
    authServer = await startFaultServer({ files: { '/new.bin': NEW, '/new.bin.zsync': control }, dataPath: '/new.bin', auth: 'alice:s3cret' });
  });
  beforeEach(async () => {
    fs.reset();
    work = join(dir, `w${n++}`);
    await mkdir(work);
  });
  after(async () => {
    await fs?.stop();
    await authServer?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('fails over from a dead mirror (404) to a good one, whatever the order', async () => {
    await variant('/mirrors.zsync', setUrls([fs.url('/dead.bin'), 'new.bin']));
    for (let i = 0; i < 4; i++) {
      const out = join(work, `out-${i}.bin`);
      await oldOutput(out);
      await zsync(fs.url('/mirrors.zsync'), { output: out });
      await expectNew(out);
    }
  });

  it('resolves a relative URL against the .zsync URL (../ and absolute-path forms)', async () => {
    await variant('/sub/dir/a.zsync', setUrls(['../../new.bin']));
    await variant('/sub/b.zsync', setUrls(['/new.bin']));
    for (const p of ['/sub/dir/a.zsync', '/sub/b.zsync']) {
      const out = join(work, 'out.bin');
      await rm(out, { force: true });
      await zsync(fs.url(p), { output: out });
      await expectNew(out);
    }
  });

  it('takes the relative URLs of a local .zsync from `url` (zsync -u)', async () => {
    const local = join(work, 'local.zsync');
    await writeFile(local, control);
    const out = join(work, 'out.bin');
    await oldOutput(out);
    const r = await zsync(local, { output: out, url: fs.url('/some/where.zsync').replace('/some/where.zsync', '/x.zsync') });
    await expectNew(out);
    expect(fs.requests('/new.bin')).to.be.greaterThan(0);
    expect(r.requests).to.be.greaterThan(0);
  });

  it("resolves a local .zsync's relative URL against its own folder without `url`", async () => {
    const folder = join(work, 'pub');
    await mkdir(folder);
    await writeFile(join(folder, 'new.bin'), NEW);
    await writeFile(join(folder, 'new.bin.zsync'), control);
    const out = join(work, 'out.bin');
    await oldOutput(out);
    await zsync(join(folder, 'new.bin.zsync'), { output: out });
    await expectNew(out);
    expect(fs.requests()).to.equal(0);
  });

  describe('a local .zsync whose URL line does not parse as a URL (URL: http://[bad)', () => {
    let local: string;
    beforeEach(async () => {
      local = join(work, 'bad-url.zsync');
      await editHeader(join(dir, 'new.bin.zsync'), setUrls(['http://[bad']), local);
    });

    it('syncs when the seeds hold every block: the URL is never needed (fetched 0)', async () => {
      const seed = join(work, 'seed.bin');
      await writeFile(seed, NEW);
      const out = join(work, 'out.bin');
      const r = await zsync(local, { output: out, seeds: [seed] });
      await expectNew(out);
      expect(r.bytesFetched).to.equal(0);
      expect(fs.requests()).to.equal(0);
    });

    it('with blocks missing, rejects with a typed ZsyncError ERR_ZSYNC_NO_URL (not a TypeError), leaving OUTPUT untouched', async () => {
      const out = join(work, 'out.bin');
      await oldOutput(out);
      const err = await rejection(zsync(local, { output: out }));
      expect(err).to.be.instanceOf(ZsyncError);
      expect(err).to.not.be.instanceOf(TypeError);
      expect(err.code, err.message).to.equal('ERR_ZSYNC_NO_URL');
      await expectUntouched(out);
    });
  });

  it('keeps the .zsync (-k) and next time asks only whether it changed (304)', async () => {
    const keep = join(work, 'kept.zsync');
    const out = join(work, 'out.bin');
    await zsync(fs.url('/new.bin.zsync'), { output: out, keep });
    expect((await readFile(keep)).equals(control)).to.equal(true);
    const sentFirst = fs.sent('/new.bin.zsync');
    expect(sentFirst).to.equal(control.length);
    await oldOutput(out);
    await zsync(fs.url('/new.bin.zsync'), { output: out, keep });
    await expectNew(out);
    const controlRequests = fs.log.filter((r) => r.path === '/new.bin.zsync');
    expect(controlRequests.map((r) => r.status)).to.deep.equal([200, 304]);
    expect(controlRequests[1]!.headers['if-modified-since']).to.be.a('string');
    expect(fs.sent('/new.bin.zsync'), 'the .zsync is not downloaded again').to.equal(sentFirst);
  });

  it('sends basic auth given by host (-A) or in the URL, and fails without it', async () => {
    const host = `127.0.0.1:${authServer.port}`;
    const out = join(work, 'out.bin');
    await zsync(authServer.url('/new.bin.zsync'), { output: out, auth: { [host]: 'alice:s3cret' } });
    await expectNew(out);
    await rm(out);
    await zsync(authServer.url('/new.bin.zsync').replace('http://', 'http://alice:s3cret@'), { output: out });
    await expectNew(out);
    await rm(out);
    const err = await rejection(zsync(authServer.url('/new.bin.zsync'), { output: out }));
    expect(err).to.have.property('code', 'ERR_ZSYNC_CONTROL_UNAVAILABLE');
    await expectOnly(work, []);
  });

  for (const name of ['../evil', '/etc/x', '..', 'a/../../b', '.']) {
    it(`never writes outside the chosen folder for Filename: ${name}`, async () => {
      await variant('/hostile.zsync', (lines) => lines.map((l) => (l.startsWith('Filename:') ? `Filename: ${name}` : l)).map((l) => (l.startsWith('URL:') ? 'URL: new.bin' : l)));
      const inner = join(work, 'inner');
      await mkdir(inner);
      const r = await zsync(fs.url('/hostile.zsync'), { directory: inner });
      expect(r.output.startsWith(inner + '/'), r.output).to.equal(true);
      expect(await readdir(work)).to.deep.equal(['inner']);
      const files = await readdir(inner);
      expect(files).to.have.length(1);
      expect((await readFile(join(inner, files[0]!))).equals(NEW)).to.equal(true);
    });
  }

  it('a control file without SHA-1 whose data cannot be fetched is an error, not success', async () => {
    await variant('/nohash.zsync', (lines) => setUrls([fs.url('/gone.bin')])(lines.filter((l) => !l.startsWith('SHA-1:'))));
    const out = join(work, 'out.bin');
    await oldOutput(out);
    const err = await rejection(zsync(fs.url('/nohash.zsync'), { output: out }));
    expect(err.code).to.match(/^ERR_ZSYNC_/);
    await expectUntouched(out);
  });

  it('a control file without SHA-1 still syncs when the data is there (every block verified)', async () => {
    await variant('/nohash-ok.zsync', (lines) => lines.filter((l) => !l.startsWith('SHA-1:')));
    const out = join(work, 'out.bin');
    await oldOutput(out);
    const r = await zsync(fs.url('/nohash-ok.zsync'), { output: out });
    await expectNew(out);
    expect(r.verified).to.deep.equal([]);
  });

  it('a wrong SHA-1 fails with ERR_ZSYNC_FILE_HASH_MISMATCH and leaves OUTPUT untouched', async () => {
    await variant('/badhash.zsync', (lines) => lines.map((l) => (l.startsWith('SHA-1:') ? `SHA-1: ${'0'.repeat(40)}` : l)));
    const out = join(work, 'out.bin');
    await oldOutput(out);
    const err = await rejection(zsync(fs.url('/badhash.zsync'), { output: out }));
    expect(err).to.have.property('code', 'ERR_ZSYNC_FILE_HASH_MISMATCH');
    await expectUntouched(out);
  });

  // parallelFrom 0: the whole-file hash is computed by a worker thread trailing
  // the fetch (the path of files of 16 MiB and more), not by a read at the end.
  it('with the hash worker, gives the same OUTPUT, verified, also when a refetch round fills blocks in later', async () => {
    const out = join(work, 'out.bin');
    await oldOutput(out);
    fs.setFault({ mode: 'wrong', times: 1 });
    const r = await zsync(fs.url('/new.bin.zsync'), { output: out, backoffMs: 20, parallelFrom: 0 });
    await expectNew(out);
    expect(r.verified).to.deep.equal(['SHA-1']);
    expect(r.requests).to.be.greaterThan(1);
    await expectOnly(work, ['out.bin', 'out.bin.zs-old']);
  });

  it('with the hash worker, a wrong SHA-1 fails with ERR_ZSYNC_FILE_HASH_MISMATCH and leaves OUTPUT untouched', async () => {
    await variant('/badhash-worker.zsync', (lines) => lines.map((l) => (l.startsWith('SHA-1:') ? `SHA-1: ${'0'.repeat(40)}` : l)));
    const out = join(work, 'out.bin');
    await oldOutput(out);
    const err = await rejection(zsync(fs.url('/badhash-worker.zsync'), { output: out, parallelFrom: 0 }));
    expect(err).to.have.property('code', 'ERR_ZSYNC_FILE_HASH_MISMATCH');
    await expectUntouched(out);
  });

  describe('the fsync of the result, which runs while it is verified', () => {
    const realSync = ControlSync.syncToDisk;
    afterEach(() => {
      ControlSync.syncToDisk = realSync;
    });

    for (const parallelFrom of [Infinity, 0]) {
      it(`OUTPUT takes the new file's name only once its fsync is done${parallelFrom === 0 ? ' (hash worker)' : ''}`, async () => {
        const out = join(work, 'out.bin');
        await oldOutput(out);
        let synced = false;
        ControlSync.syncToDisk = async (path, before) => {
          await realSync(path, before);
          await new Promise((resolve) => setTimeout(resolve, 150)); // a slow disk
          await expectUntouched(out); // the hash is done by now, the rename is not
          synced = true;
        };
        await zsync(fs.url('/new.bin.zsync'), { output: out, parallelFrom });
        expect(synced).to.equal(true);
        await expectNew(out);
      });

      it(`an fsync that fails fails the sync and leaves OUTPUT untouched${parallelFrom === 0 ? ' (hash worker)' : ''}`, async () => {
        const out = join(work, 'out.bin');
        await oldOutput(out);
        const unhandled: unknown[] = [];
        const onUnhandled = (reason: unknown): void => {
          unhandled.push(reason);
        };
        process.on('unhandledRejection', onUnhandled);
        try {
          // Fails before the verification ends: its rejection must wait, handled, for it.
          ControlSync.syncToDisk = async (_path, before) => {
            await before; // the early write-back, which must not outlive the test
            throw Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' });
          };
          const err = await rejection(zsync(fs.url('/new.bin.zsync'), { output: out, parallelFrom }));
          expect(err).to.have.property('code', 'EIO');
          await expectUntouched(out);
          await new Promise((resolve) => setImmediate(resolve));
          expect(unhandled).to.deep.equal([]);
        } finally {
          process.off('unhandledRejection', onUnhandled);
        }
      });
    }

    it('a failed verification waits for the fsync under way, and renames nothing', async () => {
      await variant('/badhash-fsync.zsync', (lines) => lines.map((l) => (l.startsWith('SHA-1:') ? `SHA-1: ${'0'.repeat(40)}` : l)));
      const out = join(work, 'out.bin');
      await oldOutput(out);
      let running = false;
      ControlSync.syncToDisk = async (path, before) => {
        running = true;
        await realSync(path, before);
        await new Promise((resolve) => setTimeout(resolve, 100));
        running = false;
      };
      const err = await rejection(zsync(fs.url('/badhash-fsync.zsync'), { output: out }));
      expect(err).to.have.property('code', 'ERR_ZSYNC_FILE_HASH_MISMATCH');
      expect(running, 'the fsync outlived the sync').to.equal(false);
      await expectUntouched(out);
    });
  });

  it('reports bytes per seed: OUTPUT.part, OUTPUT, then -i seeds in that order', async () => {
    const out = join(work, 'out.bin');
    const half = Math.floor(SIZE / 2);
    await writeFile(`${out}.part`, NEW.subarray(0, half));
    await writeFile(join(work, 'extra.bin'), NEW.subarray(half));
    const r = await zsync(fs.url('/new.bin.zsync'), { output: out, seeds: [join(work, 'extra.bin')] });
    await expectNew(out);
    expect(r.seeds.map((s) => s.path)).to.deep.equal([`${out}.part`, join(work, 'extra.bin')]);
    expect(r.seeds[0]!.bytesReused).to.be.greaterThan(half - 4096);
    expect(r.seeds[1]!.bytesReused).to.be.greaterThan(0);
    expect(r.bytesReused).to.equal(r.seeds[0]!.bytesReused + r.seeds[1]!.bytesReused);
    expect(r.bytesFetched).to.be.below(3 * 2048);
  });
});

describe('zsync(): review fixes (refetch bounds, output safety, redaction)', function () {
  this.timeout(30_000);
  let dir: string;
  let control: Buffer;
  let fs: FaultServer;
  let n = 0;
  let work: string;

  before(async function () {
    const make = needTool(this, 'zsyncmake');
    dir = await mkdtemp(join(tmpdir(), 'zs-review-'));
    await writeFile(join(dir, 'new.bin'), NEW);
    await zsyncmake(make, join(dir, 'new.bin'), 'new.bin', join(dir, 'new.bin.zsync'));
    control = await readFile(join(dir, 'new.bin.zsync'));
    fs = await startFaultServer({ files: { '/new.bin': NEW, '/new.bin.zsync': control }, dataPath: '/new.bin', auth: 'alice:s3cret' });
  });
  beforeEach(async () => {
    fs.reset();
    fs.setFault({ mode: 'none' });
    work = join(dir, `w${n++}`);
    await mkdir(work);
  });
  after(async () => {
    await fs?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });
  const withCreds = (path: string): string => fs.url(path).replace('http://', 'http://alice:s3cret@');
  async function variant(path: string, edit: (lines: string[]) => string[]): Promise<void> {
    const file = join(dir, `variant-${n}.zsync`);
    await editHeader(join(dir, 'new.bin.zsync'), edit, file);
    fs.setFile(path, await readFile(file));
  }

  it('refetch rounds share one fetcher: a server that always sends wrong bytes costs maxAttempts requests a range, not rounds x attempts', async () => {
    const out = join(work, 'out.bin');
    await oldOutput(out);
    fs.setFault({ mode: 'wrong' });
    const err = await rejection(zsync(withCreds('/new.bin.zsync'), { output: out, maxAttempts: 3, maxRangesPerRequest: 1, concurrency: 1, backoffMs: 1 }));
    expect(err).to.have.property('code', 'ERR_ZSYNC_BLOCK_CHECKSUM');
    // 15 ranges: round 1 asks for each once, round 2 and 3 again: 3 a range at most.
    expect(fs.requests('/new.bin')).to.be.at.most(15 * 3);
    await expectUntouched(out);
  });

  it('never prints a password from a URL: errors and notes show ***@', async () => {
    const out = join(work, 'out.bin');
    await variant('/dead-first.zsync', (lines) => [...lines.filter((l) => !l.startsWith('URL:')), `URL: ${withCreds('/gone.bin')}`]);
    const err = await rejection(zsync(withCreds('/dead-first.zsync'), { output: out }));
    expect(err.message).to.not.include('s3cret');
    expect(err.message).to.include('***@');
    const missing = await rejection(zsync(withCreds('/nothing.zsync'), { output: out }));
    expect(missing.message).to.not.include('s3cret');
    fs.setFault({ mode: 'multi-501' });
    await oldOutput(out);
    const r = await zsync(withCreds('/new.bin.zsync'), { output: out });
    expect(r.adaptations.join('\n')).to.include('***@');
    expect(r.adaptations.length).to.be.greaterThan(0);
    expect(JSON.stringify(r)).to.not.include('s3cret');
  });

  it('a remote .zsync cannot make us read a local file (file: URL): ERR_ZSYNC_NO_URL', async () => {
    const secret = join(work, 'secret.bin');
    await writeFile(secret, NEW);
    await variant('/local-url.zsync', (lines) => [...lines.filter((l) => !l.startsWith('URL:')), `URL: file://${secret}`]);
    const err = await rejection(zsync(withCreds('/local-url.zsync'), { output: join(work, 'out.bin') }));
    expect(err).to.have.property('code', 'ERR_ZSYNC_NO_URL');
  });

  it('takes Filename only by zsync 0.6.2\'s rule, never a hidden or working-file name', () => {
    expect(defaultOutputName('new.bin', 'http://h/a/b.zsync')).to.equal('b');
    expect(defaultOutputName('bin-1.2.iso', 'http://h/a/bin-1.3.iso.zsync')).to.equal('bin-1.2.iso');
    expect(defaultOutputName('.bashrc', 'http://h/.bashrc.zsync')).to.equal('zsync-output');
    expect(defaultOutputName('package.json', 'http://h/pkg.zsync')).to.equal('pkg');
    expect(defaultOutputName('pkg.part', 'http://h/pkg.zsync')).to.equal('pkg');
    expect(defaultOutputName('pkg.zs-old', 'http://h/pkg.zsync')).to.equal('pkg');
    expect(defaultOutputName('pkg.zs-new', 'http://h/pkg.zsync')).to.equal('pkg');
    expect(defaultOutputName('pkg/x', 'http://h/pkg.zsync')).to.equal('pkg');
    // A local path with a bad %-escape is a name, not a URIError.
    expect(defaultOutputName(undefined, '/tmp/100%zz.zsync')).to.equal('100%zz');
    expect(defaultOutputName(undefined, 'http://h/100%zz.zsync')).to.equal('100%zz');
  });

  it('a second sync of the same OUTPUT is ERR_ZSYNC_BUSY while the lock is held; a stale lock is taken over', async () => {
    const out = join(work, 'out.bin');
    await oldOutput(out);
    await writeFile(`${out}.zs-lock`, `${process.pid}\n`);
    const err = await rejection(zsync(withCreds('/new.bin.zsync'), { output: out }));
    expect(err).to.have.property('code', 'ERR_ZSYNC_BUSY');
    await expectUntouched(out);
    // A pid that is gone (a killed run): taken over.
    await writeFile(`${out}.zs-lock`, '2147483646\n');
    await zsync(withCreds('/new.bin.zsync'), { output: out });
    await expectNew(out);
    expect(await readdir(work)).to.not.include('out.bin.zs-lock');
  });

  it('does not follow a symlink planted at the working file', async () => {
    const out = join(work, 'out.bin');
    const victim = join(work, 'victim.txt');
    await writeFile(victim, 'precious');
    await symlink(victim, join(work, '.out.bin.zs-new'));
    await zsync(withCreds('/new.bin.zsync'), { output: out });
    await expectNew(out);
    expect(await readFile(victim, 'utf8')).to.equal('precious');
  });

  it('progress never counts more than the bytes missing', async () => {
    const out = join(work, 'out.bin');
    await oldOutput(out);
    let over = 0;
    await zsync(withCreds('/new.bin.zsync'), { output: out, mergeGap: 100_000, onProgress: (p) => { if (p.phase === 'fetch' && p.done > p.total) over++; } });
    await expectNew(out);
    expect(over).to.equal(0);
  });
});
