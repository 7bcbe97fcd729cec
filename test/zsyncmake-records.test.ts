/**
 * Our block checksums are the ones the real zsyncmake 0.6.2 writes, record for
 * record: the stored last bytes of the big-endian rsum, the first bytes of the
 * MD4 of the zero-padded block, and the Blocksize / Hash-Lengths / Length /
 * SHA-1 it picks. If this regresses, control files we make are unusable by
 * zsync, and files zsyncmake made no longer match anything in our matcher.
 * Needs zsyncmake (Debian package zsync); skipped visibly without it, fails in CI.
 */
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { blockChecksumsSync } from '../lib/pyzsync-api.js';
import { makeFile } from './generators.js';
import { needTool } from './support/tools.js';

const run = promisify(execFile);

interface ZsyncmakeOutput {
  header: Map<string, string>;
  records: Buffer;
}

/** Splits a .zsync at the first empty line: `Name: value` lines, then the binary records. */
function split(file: Buffer): ZsyncmakeOutput {
  const cut = file.indexOf('\n\n');
  expect(cut, 'no empty line after the header').to.be.greaterThan(0);
  const header = new Map<string, string>();
  for (const line of file.subarray(0, cut).toString('latin1').split('\n')) {
    const colon = line.indexOf(': ');
    header.set(line.slice(0, colon), line.slice(colon + 2));
  }
  return { header, records: file.subarray(cut + 2) };
}

describe('block checksums agree with zsyncmake 0.6.2, record for record', function () {
  this.timeout(60_000);
  let dir = '';
  let zsyncmake = '';

  before(async function () {
    zsyncmake = needTool(this, 'zsyncmake');
    dir = await mkdtemp(join(tmpdir(), 'zsync-records-'));
  });
  after(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const cases: Array<{ length: number; blockSize?: number; style: 'mixed' | 'random' | 'zeros' }> = [
    { length: 0, style: 'random' },
    { length: 1, style: 'random' },
    { length: 2047, style: 'random' },
    { length: 2048, style: 'mixed' },
    { length: 2049, style: 'mixed' },
    { length: 150_001, style: 'mixed' },
    { length: 3_000_017, style: 'mixed' },
    { length: 100_000, style: 'zeros' },
    { length: 5000, blockSize: 16, style: 'mixed' },
    { length: 70_001, blockSize: 256, style: 'random' },
    { length: 1_000_000, blockSize: 4096, style: 'mixed' },
  ];

  for (const { length, blockSize, style } of cases) {
    it(`${length} bytes (${style}${blockSize ? `, -b ${blockSize}` : ''}): same Blocksize, Length, Hash-Lengths, SHA-1 and records`, async () => {
      const data = makeFile(length * 31 + (blockSize ?? 0), length, blockSize ?? 2048, style);
      const name = `f${length}-${blockSize ?? 'd'}.bin`;
      await writeFile(join(dir, name), data);
      await run(zsyncmake, [...(blockSize ? ['-b', String(blockSize)] : []), '-u', name, '-o', `${name}.zsync`, name], { cwd: dir });
      const { header, records } = split(await readFile(join(dir, `${name}.zsync`)));

      const ours = blockChecksumsSync(data, blockSize ? { blockSize } : {});
      const { params } = ours;
      expect(header.get('Blocksize')).to.equal(String(params.blockSize));
      expect(header.get('Length')).to.equal(String(length));
      expect(header.get('Hash-Lengths')).to.equal(`${params.seqMatches},${params.weakBytes},${params.strongBytes}`);
      expect(header.get('SHA-1')).to.equal(ours.fileHashes.sha1);

      const recordSize = params.weakBytes + params.strongBytes;
      expect(records.length).to.equal(ours.blockCount * recordSize);
      const wrong: number[] = [];
      for (let i = 0; i < ours.blockCount; i++) {
        const rec = records.subarray(i * recordSize, (i + 1) * recordSize);
        const weak = rec.readUIntBE(0, params.weakBytes);
        const strong = rec.subarray(params.weakBytes);
        const ourStrong = ours.strong.subarray(i * params.strongBytes, (i + 1) * params.strongBytes);
        if (weak !== ours.weak[i]! >>> 0 || !strong.equals(ourStrong)) wrong.push(i);
      }
      expect(wrong, 'blocks whose records differ').to.deep.equal([]);
    });
  }
});
