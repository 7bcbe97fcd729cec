/**
 * matchSeed(), the sync's scan loop, in its two ways of writing: straight from
 * the seed's chunk inside the matcher's callback (a writer with writeSync, as
 * the scan threads have), or by copies kept until the chunk is done (a writer
 * that may ask to wait). Both must find the same blocks and write their bytes,
 * whatever the chunks' sizes, with the chunk's buffer written over as soon as
 * the loop asks for the next one.
 */
import { expect } from 'chai';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BlockIndex } from '../lib/engine/block-index.js';
import { blockSpan } from '../lib/engine/params.js';
import { MemoryFile, type PositionalWriter } from '../lib/engine/positional.js';
import { TargetState } from '../lib/engine/target-state.js';
import { blockChecksumsSync } from '../lib/pyzsync-api.js';
import { matchSeed } from '../lib/sync/match-seed.js';
import { makePair } from './support/sync-fixtures.js';

describe('matchSeed', function () {
  this.timeout(60_000);
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'zs-match-seed-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** The seed's bytes in chunks of uneven sizes, all in one buffer that is scribbled over once the loop moves on. */
  const unevenChunks = (seed: Buffer, blockSize: number) =>
    function* (_path: string, start: number): Generator<Buffer> {
      const sizes = [5 * blockSize + 3, 7, blockSize, 3 * blockSize - 1, 65_537];
      const buf = Buffer.alloc(70_000);
      let i = 0;
      for (let at = start; at < seed.length; ) {
        const n = Math.min(sizes[i++ % sizes.length]!, seed.length - at);
        seed.copy(buf, 0, at, at + n);
        at += n;
        yield buf.subarray(0, n);
        buf.fill(0xa5);
      }
    };

  for (const [blockSize, seqMatches] of [[1024, 2], [2048, 1]] as const) {
    it(`writes from the chunk what it would write from copies, the same blocks and counts (${blockSize}-byte blocks, seqMatches ${seqMatches})`, async () => {
      for (let s = 1; s <= 4; s++) {
        const { oldData, newData } = makePair(s * 7 + blockSize, 400_000 + s * 33_333);
        const sums = blockChecksumsSync(newData, { blockSize, seqMatches, weakBytes: seqMatches === 2 ? 3 : 4, strongBytes: seqMatches === 2 ? 5 : 8 });
        const path = join(dir, `seed-${blockSize}-${s}`);
        await writeFile(path, oldData);
        const read = unevenChunks(oldData, blockSize);
        const direct = new MemoryFile(Buffer.alloc(newData.length, 0xee));
        const copied = new MemoryFile(Buffer.alloc(newData.length, 0xee));
        // No writeSync: the run writer copies, and may ask to wait.
        const copying: PositionalWriter = { write: copied.write.bind(copied) };
        const directState = new TargetState(sums);
        const copiedState = new TargetState(sums);
        const byDirect = await matchSeed(path, new BlockIndex(sums), directState, direct, { read });
        const byCopies = await matchSeed(path, new BlockIndex(sums), copiedState, copying, { read });

        expect([...directState.present]).to.deep.equal([...copiedState.present]);
        expect(byDirect).to.deep.equal(byCopies);
        let found = 0;
        for (let i = 0; i < directState.present.length; i++) {
          if (directState.present[i] !== 1) continue;
          found++;
          const { start, end } = blockSpan({ blockSize, length: newData.length }, i);
          expect(direct.toBuffer().subarray(start, end).equals(newData.subarray(start, end)), `block ${i}, written from the chunk`).to.equal(true);
          expect(copied.toBuffer().subarray(start, end).equals(newData.subarray(start, end)), `block ${i}, written from copies`).to.equal(true);
        }
        expect(byDirect.blocks).to.equal(found);
        expect(found).to.be.greaterThan(0);
      }
    });
  }

  it('fails with the error of a synchronous write that fails inside the scan', async () => {
    const { oldData, newData } = makePair(5, 300_000);
    const sums = blockChecksumsSync(newData, { blockSize: 1024 });
    const path = join(dir, 'failing-write');
    await writeFile(path, oldData);
    let calls = 0;
    const failing: PositionalWriter = {
      write: () => Promise.resolve({ bytesWritten: 0 }),
      writeSync: (_buffer, _offset, length) => {
        if (++calls === 2) throw Object.assign(new Error('EIO: i/o error, write'), { code: 'EIO' });
        return length;
      },
    };
    const err = await matchSeed(path, new BlockIndex(sums), new TargetState(sums), failing).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).to.have.property('code', 'EIO');
  });
});
