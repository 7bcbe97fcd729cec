/**
 * PrefixHasher (a worker thread hashing a file as far as it is told the bytes
 * are final) gives the digests of the whole file, however the final prefix
 * grows. If this regressed, a sync of a big file would fail a good result, or
 * pass one whose hash was taken over stale bytes.
 */
import { expect } from 'chai';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PrefixHasher } from '../lib/sync/prefix-hasher.js';
import { prng } from './generators.js';
import { rejection } from './support/sync-fixtures.js';

describe('PrefixHasher (worker thread)', function () {
  this.timeout(30_000);
  let dir: string;
  let file: string;
  const data = randomBytes(5_000_017);
  const sha1 = createHash('sha1').update(data).digest('hex');
  const sha256 = createHash('sha256').update(data).digest('hex');

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'zs-prefix-hash-'));
    file = join(dir, 'data.bin');
    await writeFile(file, data);
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('verifies SHA-1 and SHA-256 of the whole file, advanced in random steps', async () => {
    const rand = prng(7);
    const hasher = new PrefixHasher(file, { sha1, sha256: sha256.toUpperCase() });
    for (let at = 0; at < data.length; at += rand() % 1_500_000) hasher.advance(at);
    expect(await hasher.verify(data.length)).to.deep.equal(['SHA-1', 'SHA-256']);
  });

  it('verifies a file it was never advanced over', async () => {
    expect(await new PrefixHasher(file, { sha1 }).verify(data.length)).to.deep.equal(['SHA-1']);
  });

  it('a wrong digest is ERR_ZSYNC_FILE_HASH_MISMATCH', async () => {
    const err = await rejection(new PrefixHasher(file, { sha1: '0'.repeat(40) }).verify(data.length));
    expect(err).to.have.property('code', 'ERR_ZSYNC_FILE_HASH_MISMATCH');
  });

  it('a file shorter than the length it is told is ERR_ZSYNC_HASH_WORKER', async () => {
    const err = await rejection(new PrefixHasher(file, { sha1 }).verify(data.length + 1));
    expect(err).to.have.property('code', 'ERR_ZSYNC_HASH_WORKER');
  });
});
