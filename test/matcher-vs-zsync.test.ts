// The matcher against the real zsync 0.6.2, not only against our own reference:
// for random targets and edited seeds, with control files of our checksums,
// zsync's "Read seed. Target X% complete" must equal what we find, or (in the
// one documented corner, see lib/engine/matcher.ts) be less. If our rules drifted
// from zsync's, the two would disagree here.
import { expect } from 'chai';
import fc from 'fast-check';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { blockChecksumsSync, getInstructionsSync } from '../lib/pyzsync-api.js';
import { syncCaseArb } from './generators.js';
import { needTool } from './support/tools.js';

describe('MatcherStream finds what the real zsync 0.6.2 finds', function () {
  this.timeout(120_000);

  it('on 80 random target/seed pairs: never fewer blocks, the same in all but rare cases', function () {
    const zsync = needTool(this, 'zsync');
    const dir = mkdtempSync(join(tmpdir(), 'zs-vs-zsync-'));
    try {
      const cases = fc.sample(
        fc.tuple(syncCaseArb([16, 32, 64, 128, 256], 64, 300), fc.constantFrom<1 | 2>(1, 2), fc.integer({ min: 2, max: 4 }), fc.integer({ min: 3, max: 8 })),
        { numRuns: 80, seed: 20261125 },
      );
      let same = 0;
      for (const [k, [c, seq, wb, sb]] of cases.entries()) {
        const cs = blockChecksumsSync(c.target, { blockSize: c.blockSize, seqMatches: seq, weakBytes: wb, strongBytes: sb });
        const header = `zsync: 0.6.2\nFilename: t.bin\nBlocksize: ${c.blockSize}\nLength: ${c.target.length}\nHash-Lengths: ${seq},${wb},${sb}\n` +
          `URL: http://127.0.0.1:9/t.bin\nSHA-1: ${createHash('sha1').update(c.target).digest('hex')}\n\n`;
        const records: Buffer[] = [];
        for (let i = 0; i < cs.blockCount; i++) {
          const w = Buffer.alloc(4);
          w.writeInt32BE(cs.weak[i]!);
          records.push(w.subarray(4 - wb), Buffer.from(cs.strong.subarray(i * sb, (i + 1) * sb)));
        }
        writeFileSync(join(dir, 't.zsync'), Buffer.concat([Buffer.from(header), ...records]));
        writeFileSync(join(dir, 's.bin'), c.seed);
        for (const n of ['out.bin', 'out.bin.part']) rmSync(join(dir, n), { force: true });
        // The URL points at a closed port: zsync reads the seed, reports, then fails to fetch.
        const r = spawnSync(zsync, ['-i', 's.bin', '-o', 'out.bin', 't.zsync'], { cwd: dir, encoding: 'utf8', timeout: 20_000 });
        const m = /Read s\.bin\. Target ([\d.]+)% complete/.exec(r.stderr + r.stdout);
        expect(m, `case ${k}: zsync said ${r.stderr}`).to.not.equal(null);
        const theirs = Number(m![1]);
        const ours = getInstructionsSync(c.seed, cs);
        const byBlocks = (100 * ours.local.length) / cs.blockCount;
        const byBytes = (100 * (c.target.length - ours.state.missingBytes())) / c.target.length;
        const agree = Math.abs(theirs - byBlocks) < 0.051 || Math.abs(theirs - byBytes) < 0.051;
        if (agree) same++;
        else expect(Math.max(byBlocks, byBytes), `case ${k}: zsync ${theirs}%, ours ${byBlocks.toFixed(2)}%`).to.be.above(theirs);
      }
      expect(same, `${same} of ${cases.length} cases agree exactly`).to.be.at.least(cases.length - 2);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
