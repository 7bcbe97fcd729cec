// Smoke run of the benchmark harness (bench/run.ts) on a 4 MiB corpus, so the
// harness cannot rot: if a rename in lib/ or dist/ breaks bench/case.js, or the
// report loses a case or a column, this fails. No timing assertions: the
// numbers only have to be there and positive. zsyncmake's rows are checked
// when it is installed, and its absence must be reported, not crash. The sync
// case (ours and zsync against a loopback server) runs too; its zsync row is
// checked when zsync is installed (skipped visibly without it, failing in CI).
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { formatReport, type BenchResult } from '../bench/report.js';
import { formatSocketReport, type SocketBenchResult } from '../bench/socket.js';
import { findTool, needTool } from './support/tools.js';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('..', import.meta.url));

async function harness(args: string[], env: Record<string, string>): Promise<string> {
  const { stdout } = await run(process.execPath, ['--import', 'tsx', 'bench/run.ts', ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    maxBuffer: 16 << 20,
  });
  return stdout;
}

describe('benchmark harness (smoke run, 4 MiB)', function () {
  this.timeout(60_000);
  let dir: string;
  let result: BenchResult;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'zbench-smoke-'));
    result = JSON.parse(await harness(['--size', '4', '--runs', '1', '--json'], { ZBENCH_DIR: dir })) as BenchResult;
  });

  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('runs every case of ours with positive figures', () => {
    const ours = result.cases.filter((c) => c.side === 'ours');
    expect(ours.map((c) => c.id)).to.deep.equal(['checksums', 'match-old', 'match-new', 'match-none', 'sync']);
    for (const c of ours) {
      expect(c.samples, c.id).to.have.length(1);
      expect(c.bytes, c.id).to.be.within(4_000_000, 4_194_304);
      for (const key of ['wallS', 'procS', 'mbps', 'cpuS', 'rssMB'] as const) expect(c.median[key], `${c.id} ${key}`).to.be.a('number').above(0);
    }
    expect(result.meta.blockSize).to.equal(2048);
    expect(result.meta.baselineRssMB).to.be.above(0);
  });

  it('finds what each seed holds: every block of new.bin, most of old.bin, nothing of random data', () => {
    const byId = new Map(result.cases.map((c) => [c.id, c]));
    const blockCount = byId.get('checksums')!.blockCount!;
    expect(byId.get('checksums')!.median.blocks).to.equal(blockCount);
    expect(byId.get('match-new')!.median.blocks).to.equal(blockCount);
    expect(byId.get('match-old')!.median.blocks).to.be.within(blockCount * 0.9, blockCount - 1);
    expect(byId.get('match-none')!.median.blocks).to.equal(0);
  });

  it('times zsyncmake side by side when it is installed', () => {
    const rival = result.cases.find((c) => c.id === 'zsyncmake');
    if (!findTool('zsyncmake')) {
      expect(rival).to.equal(undefined);
      expect(result.notes.join('\n')).to.match(/zsyncmake is missing/);
      return;
    }
    expect(rival, 'zsyncmake row').to.not.equal(undefined);
    expect(rival!.median.wallS).to.be.above(0);
    const ratio = result.ratios.find((r) => r.rival === 'zsyncmake');
    expect(ratio, 'ours/zsyncmake').to.not.equal(undefined);
    expect(ratio!.proc).to.be.above(0);
  });

  it('times zsync once on the seed that matches nothing, side by side with our scan, when zsync is installed', () => {
    const rival = result.cases.find((c) => c.id === 'zsync-none');
    if (!findTool('zsync') || !findTool('zsyncmake')) {
      expect(rival).to.equal(undefined);
      return;
    }
    expect(rival, 'zsync -i nomatch.bin row').to.not.equal(undefined);
    expect(rival!.rivalOf).to.equal('match-none');
    expect(rival!.samples).to.have.length(1);
    for (const key of ['wallS', 'cpuS', 'rssMB'] as const) expect(rival!.median[key], key).to.be.a('number').above(0);
    const ratio = result.ratios.find((r) => r.ours === 'match-none' && r.rival === 'zsync-none');
    expect(ratio!.wall).to.be.above(0);
  });

  it('syncs new.bin from a loopback server with our CLI, output hash checked, traffic counted', () => {
    const sync = result.cases.find((c) => c.id === 'sync')!;
    expect(result.meta.server, 'server').to.be.a('string');
    for (const s of sync.samples) {
      expect(s.extra.sha256ok, 'output SHA-256 checked').to.equal(1);
      for (const key of ['selfFetched', 'selfRequests', 'totalS', 'reused'] as const) expect(s.extra[key], key).to.be.above(0);
    }
    const net = sync.median.net!;
    expect(net, 'traffic').to.not.equal(null);
    // The edits touch ~1% of the 4 MiB: some payload, far less than the file.
    expect(net.fetched).to.be.within(1, sync.bytes * 0.2);
    expect(net.requests).to.be.at.least(2);
    if (findTool('nginx')) {
      // From nginx's access log: the .zsync is a request, and the wire carries headers besides the payload.
      expect(net.requests).to.equal(sync.samples[0]!.extra.selfRequests! + 1);
      expect(net.fetched).to.equal(sync.samples[0]!.extra.selfFetched);
      expect(net.wire).to.be.above(net.fetched!);
    }
    expect(sync.median.blocks).to.be.within(sync.blockCount! * 0.9, sync.blockCount! - 1);
  });

  it('times zsync side by side on the same server when it is installed', function () {
    needTool(this, 'zsync');
    const rival = result.cases.find((c) => c.id === 'zsync');
    expect(rival, 'zsync row').to.not.equal(undefined);
    expect(rival!.rivalOf).to.equal('sync');
    for (const s of rival!.samples) {
      expect(s.extra.sha256ok, 'output SHA-256 checked').to.equal(1);
      expect(s.extra.selfFetched, "zsync's fetched line").to.be.above(0);
    }
    for (const key of ['wallS', 'procS', 'mbps', 'cpuS', 'rssMB'] as const) expect(rival!.median[key], key).to.be.a('number').above(0);
    const ratio = result.ratios.find((r) => r.rival === 'zsync')!;
    for (const key of ['wall', 'cpu', 'rss', 'fetched'] as const) expect(ratio[key], key).to.be.a('number').above(0);
    const targets = result.targets.map((t) => t.what);
    expect(targets).to.include('sync wall time, ours/zsync');
    expect(targets).to.include('sync bytes fetched, ours/zsync');
  });

  it('prints one table with a row per case', () => {
    const text = formatReport(result);
    for (const label of ['checksums', 'match (edited seed)', 'match (all match)', 'match (none match)', 'sync -i old.bin']) expect(text).to.include(label);
    expect(text).to.match(/^case\s+input\s+MB\s+wall s\s+proc s\s+MB\/s\s+CPU s\s+RSS MB\s+blocks\s+fetched MB\s+wire MB\s+reqs$/m);
  });

  it('--only runs one case, and says so plainly when zsyncmake is missing', async () => {
    const text = await harness(['--size', '4', '--runs', '1', '--only', 'checksums'], { ZBENCH_DIR: dir, ZSYNCMAKE: join(dir, 'no-such-zsyncmake') });
    expect(text).to.match(/^checksums\s+new\.bin/m);
    expect(text).to.not.match(/match \(/);
    expect(text).to.not.match(/^sync /m);
    expect(text).to.not.match(/fetched MB/);
    expect(text).to.match(/zsyncmake: MISSING/);
    expect(text).to.match(/zsyncmake is missing/);
  });

  it('--only sync falls back to our serve when nginx is missing', async () => {
    const out = await harness(['--size', '4', '--runs', '1', '--only', 'sync', '--no-rival', '--json'], { ZBENCH_DIR: dir, NGINX: '' });
    const r = JSON.parse(out) as BenchResult;
    expect(r.cases.map((c) => c.id)).to.deep.equal(['sync']);
    expect(r.meta.server).to.equal('zsync-streams serve');
    expect(r.notes.join('\n')).to.match(/nginx is missing/);
    const sync = r.cases[0]!;
    expect(sync.samples[0]!.extra.sha256ok).to.equal(1);
    expect(sync.median.net!.fetched).to.equal(sync.samples[0]!.extra.selfFetched);
    expect(sync.median.wallS).to.be.above(0);
  });
});

// Smoke run of the socket benchmark (bench/socket.ts through `--only socket`):
// 10 followers on a 1 MiB file, v1 then an update() to v2, so the script, its
// child processes (plain node on the built dist/) and its report cannot rot.
describe('socket benchmark (smoke run, 10 clients, 1 MiB)', function () {
  this.timeout(60_000);
  let result: SocketBenchResult;

  before(async () => {
    result = JSON.parse(await harness(['--only', 'socket', '--clients', '10', '--size', '1', '--timeout', '50', '--json'], {})) as SocketBenchResult;
  });

  it('brings every client to v1, then after update() to v2, every output checked by SHA-1', () => {
    expect(result.ok, result.failures.join('; ')).to.equal(true);
    expect(result.meta.clients).to.equal(10);
    expect(result.meta.fileBytes).to.equal(1 << 20);
    expect(result.phases.map((p) => p.version)).to.deep.equal([1, 2]);
    for (const p of result.phases) {
      expect(p.synced, `v${p.version} synced`).to.equal(10);
      expect(p.outputsOk, `v${p.version} SHA-1 ok`).to.equal(10);
      expect(p.wallS).to.be.above(0);
      expect(p.clientS.median).to.be.above(0);
      expect(p.fetchedPerClient.median).to.be.above(0).and.below(result.meta.fileBytes * 0.2);
    }
    expect(result.phases[1]!.updateS).to.be.above(0);
    expect(result.clientErrors).to.deep.equal([]);
  });

  it('records the server: reads within 1.1x the union asked, sessions, peak RSS of each process', () => {
    for (const p of result.phases) {
      expect(p.unionAsked, `v${p.version} union`).to.be.above(0);
      expect(p.bytesAsked).to.be.at.least(p.unionAsked);
      expect(p.readRatio, `v${p.version} read/union`).to.be.within(0.5, 1.1);
    }
    expect(result.server.sessions).to.equal(10);
    expect(result.server.peakClients).to.be.within(1, 10);
    expect(result.server.sessionErrors).to.equal(0);
    expect(result.server.peakRssMB).to.be.above(0);
    expect(result.clientProcs).to.have.length(2);
    for (const c of result.clientProcs) expect(c.peakRssMB).to.be.above(0);
  });

  it('prints one table', () => {
    const text = formatSocketReport(result);
    expect(text).to.match(/^wall s, all clients in place\s+\S+\s+\S+$/m);
    expect(text).to.match(/^read \/ union \(<= 1\.1\)\s+[\d.]+\s+[\d.]+$/m);
    expect(text).to.match(/server peak RSS MB/);
    expect(text).to.match(/result: OK/);
  });
});
