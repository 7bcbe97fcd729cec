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

  describe('direct (runs written from the caller\'s buffer, with writeSync)', () => {
    /** A writer with writeSync that records each write, into a file of `length` 0xee bytes. */
    const recording = (): { file: Buffer; writes: Array<[number, number]>; writer: { write: () => Promise<void>; writeSync: (b: Uint8Array, o: number, n: number, p: number) => number } } => {
      const file = Buffer.alloc(length, 0xee);
      const writes: Array<[number, number]> = [];
      return {
        file,
        writes,
        writer: {
          write: () => Promise.reject(new Error('direct mode must not write asynchronously')),
          writeSync: (b, o, n, p) => {
            // Short writes, as a kernel may make them: writeFullySync goes on.
            const k = Math.min(n, 7);
            file.set(b.subarray(o, o + k), p);
            writes.push([p, k]);
            return k;
          },
        },
      };
    };

    it('writes consecutive blocks lying one after another in one buffer as one run, at release(), copying nothing', () => {
      const { file, writes, writer: out } = recording();
      const writer = new BlockRunWriter(out, { blockSize: bs, length }, undefined, { direct: true });
      expect(writer.direct).to.equal(true);
      // Blocks 2, 3, 4 one after another in `chunk`; then 7 from elsewhere in it.
      const chunk = Buffer.alloc(8 * bs, 0x55);
      for (const [i, at] of [[2, 3], [3, 3 + bs], [4, 3 + 2 * bs], [7, 5 * bs]] as const) {
        blockOf(i).copy(chunk, at);
        expect(writer.addFrom(i, chunk, at)).to.equal(undefined);
      }
      // Block 7 broke the run 2-4, which was written then; 7 waits for release().
      expect(writes.reduce((n, [, k]) => n + k, 0)).to.equal(3 * bs);
      expect(writes.every(([p]) => p >= 2 * bs && p < 5 * bs)).to.equal(true);
      writer.release();
      chunk.fill(0x66); // the caller reuses its buffer: what was written stays
      for (let i = 0; i < 11; i++) {
        const start = i * bs;
        const end = Math.min(length, start + bs);
        const want = [2, 3, 4, 7].includes(i) ? target.subarray(start, end) : Buffer.alloc(end - start, 0xee);
        expect(file.subarray(start, end).equals(want), `block ${i}`).to.equal(true);
      }
      expect(writer.bytesWritten).to.equal(4 * bs);
    });

    it('does not join blocks that are consecutive in the target but not in the buffer, or in two buffers', async () => {
      const { file, writes, writer: out } = recording();
      const writer = new BlockRunWriter(out, { blockSize: bs, length }, undefined, { direct: true });
      const a = Buffer.alloc(3 * bs);
      const b = Buffer.alloc(3 * bs);
      blockOf(0).copy(a, 0);
      blockOf(1).copy(a, 2 * bs); // a gap of a block between 0 and 1 in `a`
      blockOf(2).copy(b, 0); // 2 follows 1 in the target, but in another buffer
      blockOf(10).copy(b, bs); // the last block: 5 bytes
      writer.addFrom(0, a, 0);
      writer.addFrom(1, a, 2 * bs);
      writer.addFrom(2, b, 0);
      writer.addFrom(10, b, bs);
      await writer.end();
      const starts = new Set(writes.map(([p]) => Math.floor(p / bs)));
      expect([...starts]).to.deep.equal([0, 1, 2, 10]);
      expect(file.subarray(0, 3 * bs).equals(target.subarray(0, 3 * bs))).to.equal(true);
      expect(file.subarray(10 * bs).equals(target.subarray(10 * bs))).to.equal(true);
      expect(writer.bytesWritten).to.equal(3 * bs + 5);
    });

    it('without direct mode, release() leaves a run in the slab to grow across the caller\'s chunks', async () => {
      const writes: number[] = [];
      const file = new MemoryFile(Buffer.alloc(length, 0xee));
      const counting = { write: (b: Uint8Array, o: number, n: number, p: number) => (writes.push(p), file.write(b, o, n, p)) };
      const writer = new BlockRunWriter(counting, { blockSize: bs, length });
      for (let i = 0; i < 4; i++) {
        writer.addFrom(i, blockOf(i), 0);
        writer.release();
      }
      await writer.end();
      expect(writes).to.deep.equal([0]);
      expect(Buffer.from(file.toBuffer()).subarray(0, 4 * bs).equals(target.subarray(0, 4 * bs))).to.equal(true);
    });

    it('writes what add() is given before it returns, and copies into slabs when the writer has no writeSync', async () => {
      const { file, writer: out } = recording();
      const writer = new BlockRunWriter(out, { blockSize: bs, length }, undefined, { direct: true });
      const view = new Uint8Array(blockOf(5));
      expect(writer.add(5, view)).to.equal(undefined);
      view.fill(0x77);
      expect(file.subarray(5 * bs, 6 * bs).equals(target.subarray(5 * bs, 6 * bs))).to.equal(true);

      const plain = new MemoryFile(Buffer.alloc(length, 0xee));
      const asyncOnly = { write: (b: Uint8Array, o: number, n: number, p: number) => plain.write(b, o, n, p) };
      const copying = new BlockRunWriter(asyncOnly, { blockSize: bs, length }, undefined, { direct: true });
      expect(copying.direct).to.equal(false);
      const buf = Buffer.from(blockOf(6));
      copying.addFrom(6, buf, 0);
      buf.fill(0x66);
      await copying.end();
      expect(Buffer.from(plain.toBuffer()).subarray(6 * bs, 7 * bs).equals(target.subarray(6 * bs, 7 * bs))).to.equal(true);
    });
  });
});
