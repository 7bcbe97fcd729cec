/**
 * BlockRunWriter (lib/engine/block-run-writer.ts): blocks in, in any order, as
 * views (add) or as a place in a buffer (addFrom); out: each block's bytes at
 * index * blockSize, the last one cut to the file's length, whatever the slab
 * size, and nothing else written.
 */
import { expect } from 'chai';
import { BlockRunWriter } from '../lib/engine/block-run-writer.js';
import { MemoryFile } from '../lib/engine/positional.js';
import { prng } from './generators.js';

describe('BlockRunWriter', () => {
  const bs = 16;
  const length = 10 * bs + 5; // 11 blocks, the last one 5 bytes
  const target = Buffer.from(Array.from({ length }, (_, i) => (i * 7 + 3) & 0xff));
  const blockOf = (i: number): Buffer => {
    const b = Buffer.alloc(bs); // the last block zero padded, as a match's window is
    target.copy(b, 0, i * bs, Math.min(length, (i + 1) * bs));
    return b;
  };

  for (const slab of [bs, 3 * bs, 1 << 20]) {
    it(`writes runs and single blocks, given either way, at their places (slab ${slab} bytes)`, async () => {
      const rand = prng(slab);
      for (let round = 0; round < 20; round++) {
        const order = Array.from({ length: 11 }, (_, i) => i).filter(() => (rand() & 3) !== 0);
        // Mostly ascending, as a seed's runs come, with a few swapped.
        for (let k = 1; k < order.length; k++) if ((rand() & 7) === 0) [order[k - 1], order[k]] = [order[k]!, order[k - 1]!];
        const out = new MemoryFile(Buffer.alloc(length, 0xee));
        const writer = new BlockRunWriter(out, { blockSize: bs, length }, slab);
        for (const i of order) {
          let wait: Promise<void> | undefined;
          if (rand() & 1) {
            // A window somewhere in a bigger buffer, as the matcher hands it over.
            const at = rand() % 40;
            const buf = Buffer.alloc(at + bs + (rand() % 9), 0x55);
            blockOf(i).copy(buf, at);
            wait = writer.addFrom(i, buf, at);
            if (wait) await wait;
            buf.fill(0x66); // the writer took its copy
          } else {
            const view = new Uint8Array(blockOf(i));
            wait = writer.add(i, view);
            if (wait) await wait;
            view.fill(0x77);
          }
        }
        await writer.end();
        const got = Buffer.from(out.toBuffer());
        for (let i = 0; i < 11; i++) {
          const start = i * bs;
          const end = Math.min(length, start + bs);
          const want = order.includes(i) ? target.subarray(start, end) : Buffer.alloc(end - start, 0xee);
          expect(got.subarray(start, end).equals(want), `round ${round}: block ${i}`).to.equal(true);
        }
        expect(writer.bytesWritten).to.equal(order.reduce((n, i) => n + Math.min(length, (i + 1) * bs) - i * bs, 0));
      }
    });
  }

  it('refuses a block that is not the target\'s, or too short, with ERR_ZSYNC_OUT_OF_RANGE', () => {
    const writer = new BlockRunWriter(new MemoryFile(), { blockSize: bs, length });
    expect(() => writer.add(11, Buffer.alloc(bs))).to.throw().with.property('code', 'ERR_ZSYNC_OUT_OF_RANGE');
    expect(() => writer.add(0, Buffer.alloc(bs - 1))).to.throw().with.property('code', 'ERR_ZSYNC_OUT_OF_RANGE');
    expect(() => writer.addFrom(0, Buffer.alloc(bs + 3), 4)).to.throw().with.property('code', 'ERR_ZSYNC_OUT_OF_RANGE');
    // The last block needs only its 5 bytes.
    expect(writer.addFrom(10, Buffer.alloc(9), 4)).to.equal(undefined);
  });
});
