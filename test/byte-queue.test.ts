/**
 * ByteQueue (lib/engine/byte-queue.ts), the byte FIFO under the control-file
 * and multipart parsers: checked against a plain Buffer.concat model over
 * random appends, consumes and reads, so that growth and compaction never
 * lose or reorder bytes, and slices stay valid after the queue moves on.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { ByteQueue } from '../lib/engine/byte-queue.js';

describe('ByteQueue', () => {
  it('behaves as a concatenated buffer under random appends, consumes and reads', () => {
    const op = fc.oneof(
      fc.record({ append: fc.uint8Array({ maxLength: 700 }) }),
      fc.record({ consume: fc.nat(900) }),
      fc.record({ find: fc.uint8Array({ minLength: 1, maxLength: 3 }), from: fc.nat(50) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        const q = new ByteQueue();
        let model = Buffer.alloc(0);
        const held: Array<[Buffer, Buffer]> = [];
        for (const o of ops) {
          if ('append' in o) {
            q.append(o.append);
            model = Buffer.concat([model, o.append]);
          } else if ('consume' in o) {
            q.consume(o.consume);
            model = model.subarray(Math.min(model.length, o.consume));
          } else {
            expect(q.indexOf(Buffer.from(o.find), o.from)).to.equal(model.indexOf(Buffer.from(o.find), o.from));
          }
          expect(q.length).to.equal(model.length);
          const a = Math.floor(model.length / 3);
          held.push([q.slice(a), Buffer.from(model.subarray(a))]);
          expect(q.get(0)).to.equal(model[0]);
          expect(q.toString('latin1', 1, 9)).to.equal(model.subarray(1, 9).toString('latin1'));
        }
        // Slices are copies: what the queue did afterwards left them alone.
        for (const [got, want] of held) expect(got.equals(want)).to.equal(true);
      }),
      { numRuns: 300 },
    );
  });
});
