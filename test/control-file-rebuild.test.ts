// Every real control file of every generation (test/fixtures/upstream, made by
// the real makers; see its README) drives our engine to rebuild its target from
// a seed, verified by the whole-file hash that file names. If this breaks, some
// generation's .zsync files no longer work with our client.
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { BlockIndex } from '../lib/engine/block-index.js';
import { BlockReader } from '../lib/engine/block-reader.js';
import { LocalPatcherStream } from '../lib/engine/local-patcher-stream.js';
import { MatcherStream } from '../lib/engine/matcher-stream.js';
import { MemoryFile } from '../lib/engine/positional.js';
import { RemotePatcherStream } from '../lib/engine/remote-patcher-stream.js';
import type { BlockChecksums } from '../lib/engine/block-checksums.js';
import { verifyFileHashes } from '../lib/sync/file-digest.js';
import { ZsyncError } from '../lib/errors.js';
import { readControlFile } from '../lib/zsyncmake.js';

const FIXTURES = new URL('./fixtures/upstream/', import.meta.url);
const fixturePath = (name: string): string => new URL(name, FIXTURES).pathname;
const fixture = (name: string): Buffer => readFileSync(fixturePath(name));
// Made here by the real zsyncmake 0.6.2: see its README.
const MADE_HERE = new URL('./fixtures/zsyncmake-0.6.2/', import.meta.url);
const madeHerePath = (name: string): string => new URL(name, MADE_HERE).pathname;

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

/**
 * Checks `data` as the client does, with the library's verifyFileHashes against
 * every whole-file hash the control file names; at least one must be there.
 */
async function verify(checksums: BlockChecksums, data: Buffer): Promise<string[]> {
  const dir = await mkdtemp(join(tmpdir(), 'zsync-streams-rebuild-'));
  try {
    const path = join(dir, 'rebuilt');
    await writeFile(path, data);
    const checked = await verifyFileHashes(path, checksums.fileHashes);
    expect(checked, 'the control file names a hash to verify').to.not.deep.equal([]);
    return checked;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The control file `name` with its header line `from` replaced by `to`. */
async function withLine(name: string, from: RegExp, to: string): Promise<Buffer> {
  const data = fixture(name);
  const end = data.indexOf('\n\n');
  const header = data.subarray(0, end).toString('latin1');
  expect(header).to.match(from);
  return Buffer.concat([Buffer.from(header.replace(from, to), 'latin1'), data.subarray(end)]);
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
      expect(await verify(checksums, data)).to.deep.equal([hash]);
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

  // A well-formed hash that the rebuilt file does not have: the blocks all
  // match their sums, so only the whole-file check can catch it.
  const wrongHashes: Array<[string, RegExp, string, string]> = [
    ['target.zsync-0.6.2.zsync', /^SHA-1: [0-9a-f]{40}$/m, `SHA-1: ${'0123456789'.repeat(4)}`, 'SHA-1'],
    ['target.zsync-go-md4.zsync', /^File-Hash: SHA-256:[0-9a-f]{64}$/m, `File-Hash: SHA-256:${'ab'.repeat(32)}`, 'SHA-256'],
  ];
  for (const [name, line, wrong, algorithm] of wrongHashes) {
    it(`${name} with a wrong but well-formed ${algorithm}: the blocks rebuild, verifyFileHashes refuses the file (ERR_ZSYNC_FILE_HASH_MISMATCH)`, async () => {
      const { checksums } = await readControlFile(await withLine(name, line, wrong));
      const { data } = await rebuild(checksums, seed, target);
      expect(data.equals(target)).to.equal(true);
      const err = await verify(checksums, data).then(() => undefined, (e: unknown) => e);
      expect(err).to.be.instanceOf(ZsyncError);
      expect(err).to.have.property('code', 'ERR_ZSYNC_FILE_HASH_MISMATCH');
      expect((err as Error).message).to.include(algorithm);
    });
  }
});

describe('the gzip-era control file (text.txt.gz, Z-Map2)', () => {
  it('rebuilds the uncompressed text.txt from its URL, verified by SHA-1, Z-Map2 entries skipped', async () => {
    const text = fixture('text.txt');
    const { header, checksums } = await readControlFile(fixturePath('text.txt.gz-0.6.2.zsync'));
    expect(header.urls).to.deep.equal(['text.txt']);
    // An older text: some lines changed, one dropped.
    const oldText = Buffer.from(text.toString('latin1').replace(/^(.*1000.*)$/m, 'changed').replace(/^.*2500.*\n/m, ''), 'latin1');
    const { data, fetched } = await rebuild(checksums, oldText, text);
    expect(await verify(checksums, data)).to.deep.equal(['SHA-1']);
    expect(data.equals(text)).to.equal(true);
    expect(fetched).to.be.below(text.length / 4);
  });
});

describe('the gzip-era control file of a .tar.gz (length a multiple of the block size)', () => {
  it('parses with its two extra records and rebuilds the uncompressed archive.tar from its URL, verified by SHA-1', async () => {
    const tar = readFileSync(madeHerePath('archive.tar'));
    const { header, checksums } = await readControlFile(madeHerePath('archive.tar.gz-0.6.2.zsync'));
    expect(header).to.include({ length: 61440, blockSize: 2048, zFilename: 'archive.tar.gz', zMapEntries: 32 });
    expect(header.urls).to.deep.equal(['archive.tar']);
    expect(checksums.blockCount).to.equal(30);
    // An older archive: some lines of a.txt changed.
    const oldTar = Buffer.from(tar.toString('latin1').replace(/^1234$/m, 'ABCD').replace(/^2345$/m, 'BCDE'), 'latin1');
    expect(oldTar.equals(tar)).to.equal(false);
    const { data, fetched } = await rebuild(checksums, oldTar, tar);
    expect(await verify(checksums, data)).to.deep.equal(['SHA-1']);
    expect(data.equals(tar)).to.equal(true);
    expect(fetched).to.be.below(tar.length / 4);
  });
});
