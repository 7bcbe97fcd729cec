// Every real control file of every generation (test/fixtures/upstream, made by
// the real makers; see its README) drives our engine to rebuild its target from
// a seed, verified by the whole-file hash that file names. If this breaks, some
// generation's .zsync files no longer work with our client.
import { expect } from 'chai';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { BlockIndex } from '../lib/engine/block-index.js';
import { BlockReader } from '../lib/engine/block-reader.js';
import { LocalPatcherStream } from '../lib/engine/local-patcher-stream.js';
import { MatcherStream } from '../lib/engine/matcher-stream.js';
import { MemoryFile } from '../lib/engine/positional.js';
import { RemotePatcherStream } from '../lib/engine/remote-patcher-stream.js';
import type { BlockChecksums } from '../lib/engine/block-checksums.js';
import { readControlFile } from '../lib/zsyncmake.js';

const FIXTURES = new URL('./fixtures/upstream/', import.meta.url);
const fixturePath = (name: string): string => new URL(name, FIXTURES).pathname;
const fixture = (name: string): Buffer => readFileSync(fixturePath(name));

/**
 * The client's steps without HTTP: match the seed, copy what it has, then take
 * the missing ranges from `server` (the file the URL names) and patch them in.
 */
async function rebuild(checksums: BlockChecksums, seed: Buffer, server: Buffer): Promise<{ data: Buffer; fetched: number }> {
  const matcher = new MatcherStream(new BlockIndex(checksums));
  const out = new MemoryFile();
  await pipeline(Readable.from([seed]), matcher, new LocalPatcherStream(out, checksums.params));
  const missing = matcher.missingRanges();
  await pipeline(new BlockReader(new MemoryFile(server), checksums.params, { ranges: missing }), new RemotePatcherStream(matcher.state, out));
  expect(matcher.state.missingBlocks()).to.deep.equal([]);
  return { data: Buffer.from(out.toBuffer().subarray(0, checksums.params.length)), fetched: missing.reduce((n, r) => n + r.end - r.start, 0) };
}

/** Checks `data` against every whole-file hash the control file names; at least one must be there. */
function verify(checksums: BlockChecksums, data: Buffer): string[] {
  const checked: string[] = [];
  const { sha1, sha256 } = checksums.fileHashes;
  if (sha1 !== undefined) {
    expect(createHash('sha1').update(data).digest('hex')).to.equal(sha1);
    checked.push('SHA-1');
  }
  if (sha256 !== undefined) {
    expect(createHash('sha256').update(data).digest('hex')).to.equal(sha256);
    checked.push('SHA-256');
  }
  expect(checked, 'the control file names a hash to verify').to.not.deep.equal([]);
  return checked;
}

describe('rebuilding target.bin from seed.bin with every generation\'s control file', () => {
  const seed = fixture('seed.bin');
  const target = fixture('target.bin');
  const cases: Array<[string, string]> = [
    ['target.zsync-0.6.2.zsync', 'SHA-1'],
    ['target.zsync-0.6.5.zsync', 'SHA-1'],
    ['target.zsync-go-md4.zsync', 'SHA-256'],
    ['target.zsync-go-md5.zsync', 'SHA-256'],
    ['target.zsync-go-sha224.zsync', 'SHA-256'],
  ];
  for (const [name, hash] of cases) {
    it(`${name}: rebuilt byte for byte, verified by ${hash}, most of it from the seed`, async () => {
      const { header, checksums } = await readControlFile(fixturePath(name));
      expect(header.urls).to.deep.equal(['target.bin']);
      const { data, fetched } = await rebuild(checksums, seed, target);
      expect(verify(checksums, data)).to.deep.equal([hash]);
      expect(data.equals(target)).to.equal(true);
      // Three edits of the seed touch a handful of 2 KiB blocks, not the file.
      expect(fetched).to.be.below(target.length / 4);
    });
  }

  it('a wrong seed still gives the right file: everything is fetched', async () => {
    const { checksums } = await readControlFile(fixturePath('target.zsync-go-sha224.zsync'));
    const { data, fetched } = await rebuild(checksums, Buffer.alloc(50000, 7), target);
    expect(data.equals(target)).to.equal(true);
    expect(fetched).to.equal(target.length);
  });
});

describe('the gzip-era control file (text.txt.gz, Z-Map2)', () => {
  it('rebuilds the uncompressed text.txt from its URL, verified by SHA-1, Z-Map2 entries skipped', async () => {
    const text = fixture('text.txt');
    const { header, checksums } = await readControlFile(fixturePath('text.txt.gz-0.6.2.zsync'));
    expect(header.urls).to.deep.equal(['text.txt']);
    // An older text: some lines changed, one dropped.
    const oldText = Buffer.from(text.toString('latin1').replace(/^(.*1000.*)$/m, 'changed').replace(/^.*2500.*\n/m, ''), 'latin1');
    const { data, fetched } = await rebuild(checksums, oldText, text);
    expect(verify(checksums, data)).to.deep.equal(['SHA-1']);
    expect(data.equals(text)).to.equal(true);
    expect(fetched).to.be.below(text.length / 4);
  });
});
