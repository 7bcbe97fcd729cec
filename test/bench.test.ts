// Smoke run of the benchmark harness (bench/run.ts) on a 4 MiB corpus, so the
// harness cannot rot: if a rename in lib/ or dist/ breaks bench/case.js, or the
// report loses a case or a column, this fails. No timing assertions: the
// numbers only have to be there and positive. zsyncmake's rows are checked
// when it is installed, and its absence must be reported, not crash.
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { formatReport, type BenchResult } from '../bench/report.js';
import { findTool } from './support/tools.js';

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
    expect(ours.map((c) => c.id)).to.deep.equal(['checksums', 'match-old', 'match-new', 'match-none']);
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
    expect(result.ratios).to.have.length(1);
    expect(result.ratios[0]!.proc).to.be.above(0);
  });

  it('prints one table with a row per case', () => {
    const text = formatReport(result);
    for (const label of ['checksums', 'match (edited seed)', 'match (all match)', 'match (none match)']) expect(text).to.include(label);
    expect(text).to.match(/^case\s+input\s+MB\s+wall s\s+proc s\s+MB\/s\s+CPU s\s+RSS MB\s+blocks$/m);
  });

  it('--only runs one case, and says so plainly when zsyncmake is missing', async () => {
    const text = await harness(['--size', '4', '--runs', '1', '--only', 'checksums'], { ZBENCH_DIR: dir, ZSYNCMAKE: join(dir, 'no-such-zsyncmake') });
    expect(text).to.match(/^checksums\s+new\.bin/m);
    expect(text).to.not.match(/match \(/);
    expect(text).to.match(/zsyncmake: MISSING/);
    expect(text).to.match(/zsyncmake is missing/);
  });
});
