/**
 * readAhead hands out a file's bytes in order, whatever the chunk size and read
 * depth; with `reuse` it does so from the same few buffers, each chunk valid
 * until the next is asked for. If this regresses, a seed scan or the whole-file
 * hash sees bytes out of order, or stale bytes of an earlier chunk.
 */
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readAhead } from '../lib/sync/read-ahead.js';

describe('readAhead', () => {
  let dir: string;
  let file: string;
  const data = randomBytes(100_003);

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'zs-read-ahead-'));
    file = join(dir, 'data.bin');
    await writeFile(file, data);
  });
  after(() => rm(dir, { recursive: true, force: true }));

  for (const reuse of [false, true]) {
    for (const [chunkSize, depth] of [[97, 1], [4096, 2], [7919, 3], [1 << 20, 2]] as const) {
      it(`yields the file's bytes in order (chunkSize ${chunkSize}, depth ${depth}, reuse ${reuse})`, async () => {
        const copies: Buffer[] = [];
        const buffers = new Set<ArrayBufferLike>();
        for await (const chunk of readAhead(file, { chunkSize, depth, reuse })) {
          copies.push(Buffer.from(chunk)); // a copy: with reuse the chunk is overwritten later
          buffers.add(chunk.buffer);
          expect(chunk.length).to.be.at.most(chunkSize);
        }
        expect(Buffer.concat(copies).equals(data)).to.equal(true);
        // Reused: depth + 1 buffers at most. (Without reuse, small buffers come
        // from Node's shared pool, so their count says nothing.)
        if (reuse && chunkSize >= 4096) expect(buffers.size).to.be.at.most(depth + 1);
      });
    }
  }

  it('with reuse, an empty file yields nothing', async () => {
    const empty = join(dir, 'empty.bin');
    await writeFile(empty, Buffer.alloc(0));
    const chunks: Buffer[] = [];
    for await (const chunk of readAhead(empty, { reuse: true })) chunks.push(chunk);
    expect(chunks).to.deep.equal([]);
  });
});
