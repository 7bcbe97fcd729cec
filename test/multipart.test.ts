/**
 * The multipart/byteranges parser and the small range helpers of the fetcher.
 * If these regressed, a multi-range answer would be mis-sliced (wrong bytes at
 * the wrong offsets), depend on how TCP chunked it, or swallow a broken body
 * silently instead of failing with a typed error.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { RemoteChunk } from '../lib/engine/block-assembler.js';
import { parseContentRange, parseContentRangeBytes, type ContentRange } from '../lib/transport/content-range.js';
import { MultipartByterangesParser } from '../lib/transport/multipart-parser.js';
import type { BlockChecksums } from '../lib/engine/block-checksums.js';
import { rangeBytes, unpackRanges } from '../lib/engine/packed-ranges.js';
import { TargetState, type ByteRange } from '../lib/engine/target-state.js';
import { mergePacked, mergeRanges, rangeHeader, rangeSpecLength, Wanted } from '../lib/transport/range-plan.js';
import { prng, randomBytes } from './generators.js';

const BOUNDARY = '3d6b6a416f9b5';

interface Part {
  start: number;
  data: Buffer;
}

function body(parts: Part[], total: number, opts: { preamble?: string; epilogue?: string; boundary?: string; padding?: string } = {}): Buffer {
  const b = opts.boundary ?? BOUNDARY;
  const out: Buffer[] = [Buffer.from(opts.preamble ?? '', 'latin1')];
  parts.forEach((p, i) => {
    out.push(Buffer.from(`${i === 0 && !opts.preamble ? '' : '\r\n'}--${b}${opts.padding ?? ''}\r\nContent-Type: application/octet-stream\r\nContent-Range: bytes ${p.start}-${p.start + p.data.length - 1}/${total}\r\n\r\n`, 'latin1'));
    out.push(p.data);
  });
  out.push(Buffer.from(`\r\n--${b}--${opts.epilogue ?? '\r\n'}`, 'latin1'));
  return Buffer.concat(out);
}

function split(buf: Buffer, sizes: number[] | number): Buffer[] {
  const out: Buffer[] = [];
  let o = 0;
  let i = 0;
  while (o < buf.length) {
    const n = typeof sizes === 'number' ? sizes : Math.max(1, sizes[i++ % sizes.length]!);
    out.push(buf.subarray(o, o + n));
    o += n;
  }
  return out;
}

async function parse(chunks: Buffer[], options: { boundary?: string; onPart?: (r: { start: number; end: number }) => void; maxHeaderBytes?: number } = {}): Promise<Map<number, Buffer>> {
  const parser = new MultipartByterangesParser({ boundary: options.boundary ?? BOUNDARY, ...(options.onPart ? { onPart: options.onPart } : {}), ...(options.maxHeaderBytes ? { maxHeaderBytes: options.maxHeaderBytes } : {}) });
  const got: RemoteChunk[] = [];
  await pipeline(Readable.from(chunks), parser as unknown as NodeJS.ReadWriteStream, async (source: AsyncIterable<unknown>) => {
    for await (const c of source as AsyncIterable<RemoteChunk>) got.push({ offset: c.offset, data: Buffer.from(c.data) });
  });
  // Reassemble contiguous chunks per part start.
  const byStart = new Map<number, Buffer>();
  let current: { start: number; pieces: Uint8Array[]; next: number } | undefined;
  for (const c of got) {
    if (!current || c.offset !== current.next) {
      if (current) byStart.set(current.start, Buffer.concat(current.pieces));
      current = { start: c.offset, pieces: [], next: c.offset };
    }
    current.pieces.push(c.data);
    current.next += c.data.length;
  }
  if (current) byStart.set(current.start, Buffer.concat(current.pieces));
  return byStart;
}

async function parseError(chunks: Buffer[], options: Parameters<typeof parse>[1] = {}): Promise<Error & { code?: string }> {
  try {
    await parse(chunks, options);
  } catch (err) {
    return err as Error & { code?: string };
  }
  throw new Error('expected the parser to fail');
}

function sampleParts(seed: number): { parts: Part[]; total: number } {
  const rand = prng(seed);
  const parts: Part[] = [];
  let o = rand() % 100;
  const n = 1 + (rand() % 6);
  for (let i = 0; i < n; i++) {
    // Part data that contains the boundary text and CRLFs, which must not confuse the parser.
    const len = 1 + (rand() % 3000);
    const data = randomBytes(rand, len);
    if (len > 60 && (rand() & 1) === 0) data.write(`\r\n--${BOUNDARY}\r\n\r\n`, rand() % (len - 40), 'latin1');
    parts.push({ start: o, data });
    o += len + 1 + (rand() % 5000);
  }
  return { parts, total: o + 10 };
}

function expectParts(got: Map<number, Buffer>, parts: Part[]): void {
  expect([...got.keys()]).to.deep.equal(parts.map((p) => p.start));
  for (const p of parts) expect(got.get(p.start)!.equals(p.data), `part at ${p.start}`).to.equal(true);
}

describe('MultipartByterangesParser', () => {
  const { parts, total } = sampleParts(7);
  const plain = body(parts, total);
  const wrapped = body(parts, total, { preamble: 'This is a preamble.\r\nIgnore it.\r\n', epilogue: '\r\nan epilogue, also ignored\r\n' });

  for (const [name, buf] of [['without preamble', plain], ['with preamble and epilogue', wrapped]] as const) {
    it(`parses a body ${name} whole`, async () => {
      expectParts(await parse([buf]), parts);
    });
    it(`parses a body ${name} one byte at a time`, async () => {
      expectParts(await parse(split(buf, 1)), parts);
    });
    it(`parses a body ${name} in 321-byte slices`, async () => {
      expectParts(await parse(split(buf, 321)), parts);
    });
  }

  it('parses random bodies at random chunk boundaries (fast-check)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 1_000_000 }), fc.array(fc.integer({ min: 1, max: 700 }), { minLength: 1, maxLength: 20 }), fc.boolean(), async (seed, sizes, pre) => {
        const s = sampleParts(seed);
        const buf = pre ? body(s.parts, s.total, { preamble: 'x\r\n', epilogue: 'tail' }) : body(s.parts, s.total);
        expectParts(await parse(split(buf, sizes)), s.parts);
      }),
      { numRuns: 60 },
    );
  });

  it('accepts transport padding after a boundary and a quoted-style boundary with odd characters', async () => {
    const boundary = "a'()+_,-./:=?b";
    const buf = body(parts, total, { boundary, padding: ' \t' });
    expectParts(await parse(split(buf, 7), { boundary }), parts);
  });

  it('hands each part range to onPart before its data, and a throw there fails the parse', async () => {
    const seen: number[] = [];
    await parse([plain], { onPart: (r) => seen.push(r.start) });
    expect(seen).to.deep.equal(parts.map((p) => p.start));
    const err = await parseError([plain], {
      onPart: () => {
        throw Object.assign(new Error('not asked for'), { code: 'ERR_TEST_REFUSED' });
      },
    });
    expect(err).to.have.property('code', 'ERR_TEST_REFUSED');
  });

  it('fails with ERR_ZSYNC_TRUNCATED when the body ends inside a part or before the closing boundary', async () => {
    for (const cut of [plain.length - 30, Math.floor(plain.length / 2), plain.length - 3]) {
      const err = await parseError(split(plain.subarray(0, cut), 100));
      expect(err, `cut at ${cut}`).to.have.property('code', 'ERR_ZSYNC_TRUNCATED');
    }
    expect(await parseError([Buffer.from('no boundary at all')])).to.have.property('code', 'ERR_ZSYNC_TRUNCATED');
  });

  it('fails with ERR_ZSYNC_MULTIPART on a part without Content-Range, a bad Content-Range, or text after a boundary', async () => {
    const noRange = Buffer.from(`--${BOUNDARY}\r\nContent-Type: x\r\n\r\nabc\r\n--${BOUNDARY}--\r\n`, 'latin1');
    const badRange = Buffer.from(`--${BOUNDARY}\r\nContent-Range: bytes 9-3/10\r\n\r\nabc\r\n--${BOUNDARY}--\r\n`, 'latin1');
    const junk = Buffer.from(`--${BOUNDARY}garbage\r\nContent-Range: bytes 0-2/10\r\n\r\nabc\r\n--${BOUNDARY}--\r\n`, 'latin1');
    for (const buf of [noRange, badRange, junk]) {
      expect(await parseError([buf])).to.have.property('code', 'ERR_ZSYNC_MULTIPART');
      expect(await parseError(split(buf, 1))).to.have.property('code', 'ERR_ZSYNC_MULTIPART');
    }
  });

  it('fails with ERR_ZSYNC_MULTIPART when a part is longer than its Content-Range says (no boundary where it must be)', async () => {
    const buf = Buffer.from(`--${BOUNDARY}\r\nContent-Range: bytes 0-2/10\r\n\r\nabcdef\r\n--${BOUNDARY}--\r\n`, 'latin1');
    expect(await parseError([buf])).to.have.property('code', 'ERR_ZSYNC_MULTIPART');
    expect(await parseError(split(buf, 1))).to.have.property('code', 'ERR_ZSYNC_MULTIPART');
  });

  it('bounds the preamble and part headers (ERR_ZSYNC_MULTIPART), never buffering without limit', async () => {
    const endless = Buffer.alloc(5000, 0x61);
    expect(await parseError(split(Buffer.concat([endless, endless, endless, endless]), 999), { maxHeaderBytes: 4096 })).to.have.property('code', 'ERR_ZSYNC_MULTIPART');
    const longHeader = Buffer.from(`--${BOUNDARY}\r\nX-Long: ${'y'.repeat(20000)}\r\nContent-Range: bytes 0-2/10\r\n\r\nabc\r\n--${BOUNDARY}--\r\n`, 'latin1');
    expect(await parseError(split(longHeader, 1000))).to.have.property('code', 'ERR_ZSYNC_MULTIPART');
  });

  // The part headers are read as bytes where they lie. The rules, as text:
  // the rest of the boundary line is white space; the last header whose name,
  // trimmed, is Content-Range in any case gives the part's range, which must
  // parse; no such header is an error.
  function rangeByTheRules(block: string): { range?: ContentRange; error?: string } {
    const lines = block.split('\r\n');
    if (lines[0]!.trim() !== '') return { error: `unexpected text after a boundary: ${JSON.stringify(lines[0]!.slice(0, 80))}` };
    let range: ContentRange | undefined;
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':');
      if (colon > 0 && line.slice(0, colon).trim().toLowerCase() === 'content-range') {
        range = parseContentRange(line.slice(colon + 1));
        if (!range) return { error: `bad Content-Range in a part: ${JSON.stringify(line.slice(0, 120))}` };
      }
    }
    return range ? { range } : { error: 'a part has no Content-Range' };
  }

  it('reads part headers as the rules written as text say, for any header block (fast-check)', async () => {
    const ws = fc.constantFrom(' ', '\t', '\u00a0', '\x0b', '\x0c', '');
    const name = fc.constantFrom('Content-Range', 'content-range', 'CONTENT-RANGE', 'Content-Rangé', 'Content-Type', 'X-Range', 'Content Range', '');
    const num = fc.oneof(fc.nat(5000).map(String), fc.constantFrom('007', '', '99999999999999999', '-1', '1e3'));
    const value = fc.oneof(
      fc.tuple(ws, fc.constantFrom('bytes', 'BYTES', 'Bytes', 'byte', 'bytesX'), ws, ws, num, num, fc.constantFrom('/', '-', ''), fc.oneof(num, fc.constant('*')), ws).map(
        ([a, unit, b, c, first, last, slash, total, d]) => `${a}${unit}${b}${c}${first}-${last}${slash}${total}${d}`,
      ),
      fc.string({ maxLength: 12 }),
    );
    const line = fc.tuple(ws, name, ws, fc.constantFrom(':', ''), value).map(([a, n, b, colon, v]) => `${a}${n}${b}${colon}${v}`);
    const first = fc.oneof(fc.constant(''), ws, fc.constantFrom('x', ' \u00e9'));
    await fc.assert(
      fc.asyncProperty(first, fc.array(line, { maxLength: 4 }), async (head, lines) => {
        const block = [head, ...lines].join('\r\n');
        fc.pre(!block.includes('\r\n\r\n') && !block.endsWith('\r') && !block.endsWith('\r\n'));
        const rules = rangeByTheRules(block);
        // Several Content-Range headers: the last one counts (a fixed case beside the generated ones).
        if (lines.length === 0) {
          const twice = Buffer.from(`--${BOUNDARY}\r\nContent-Range: bytes 0-2/10\r\ncontent-range: bytes 4-6/10\r\n\r\nabc\r\n--${BOUNDARY}--\r\n`, 'latin1');
          expect([...(await parse([twice])).keys()]).to.deep.equal([4]);
        }
        const size = rules.range ? Math.min(rules.range.end - rules.range.start, 64) : 3;
        const data = Buffer.alloc(size, 0x61);
        const start = rules.range?.start ?? 0;
        const total = `--${BOUNDARY}${block}\r\n\r\n`;
        const buf = Buffer.concat([Buffer.from(total, 'latin1'), data, Buffer.from(`\r\n--${BOUNDARY}--\r\n`, 'latin1')]);
        fc.pre(!rules.range || rules.range.end - rules.range.start <= 64);
        if (rules.error) {
          const err = await parseError([buf]);
          expect(err).to.have.property('code', 'ERR_ZSYNC_MULTIPART');
          expect(err.message).to.equal(rules.error);
        } else {
          const got = await parse(split(buf, 7));
          expect([...got.keys()]).to.deep.equal([start]);
          expect(got.get(start)).to.deep.equal(data);
        }
      }),
      { numRuns: 400 },
    );
  });

  it('parseContentRangeBytes reads bytes as parseContentRange reads their latin1 text', () => {
    const alphabet = fc.constantFrom(...' \t\u00a0\x0b\r\nbBytesYTESx0123456789-/*'.split(''));
    const near = fc.tuple(fc.constantFrom('', ' ', '\t'), fc.constantFrom('bytes ', 'BYTES\t', 'bytes\u00a0', 'bytes'), fc.nat(999), fc.nat(999), fc.constantFrom('/', ''), fc.oneof(fc.nat(2000).map(String), fc.constant('*'))).map(
      ([a, u, x, y, sl, t]) => `${a}${u}${x}-${y}${sl}${t}`,
    );
    fc.assert(
      fc.property(fc.oneof(near, fc.array(alphabet, { maxLength: 24 }).map((cs) => cs.join(''))), fc.nat(3), (text, pad) => {
        const bytes = Buffer.concat([Buffer.from('9'.repeat(pad), 'latin1'), Buffer.from(text, 'latin1'), Buffer.from('7', 'latin1')]);
        expect(parseContentRangeBytes(bytes, pad, pad + Buffer.byteLength(text, 'latin1'))).to.deep.equal(parseContentRange(text));
      }),
      { numRuns: 2000 },
    );
  });

  it('refuses an empty boundary with ERR_ZSYNC_MULTIPART', () => {
    expect(() => new MultipartByterangesParser({ boundary: '' })).to.throw().with.property('code', 'ERR_ZSYNC_MULTIPART');
  });
});

describe('range helpers', () => {
  it('parseContentRange takes valid byte ranges (END exclusive) and refuses the rest', () => {
    expect(parseContentRange('bytes 0-9/100')).to.deep.equal({ start: 0, end: 10, total: 100 });
    expect(parseContentRange(' bytes 5-5/*')).to.deep.equal({ start: 5, end: 6, total: undefined });
    for (const bad of [undefined, '', 'bytes 9-3/100', 'bytes 0-100/100', 'bytes */100', 'items 0-1/2', 'bytes 0-1/2/3', 'bytes -1-2/3']) {
      expect(parseContentRange(bad), String(bad)).to.equal(undefined);
    }
  });

  it('mergeRanges coalesces ranges within the gap, sorted and disjoint', () => {
    expect(mergeRanges([{ start: 300, end: 400 }, { start: 0, end: 100 }, { start: 150, end: 200 }], 50)).to.deep.equal([{ start: 0, end: 200 }, { start: 300, end: 400 }]);
    expect(mergeRanges([{ start: 0, end: 100 }, { start: 50, end: 60 }, { start: 100, end: 110 }, { start: 5, end: 5 }], 0)).to.deep.equal([{ start: 0, end: 110 }]);
    expect(rangeHeader([{ start: 0, end: 10 }, { start: 20, end: 21 }])).to.equal('bytes=0-9,20-20');
  });

  it('mergePacked merges as mergeRanges does, from objects or packed ranges, sorted or not', () => {
    const range = fc.tuple(fc.nat(5000), fc.nat(300)).map(([start, len]) => ({ start, end: start + len }));
    fc.assert(
      fc.property(fc.array(range, { maxLength: 60 }), fc.nat(400), (ranges, gap) => {
        const expected = mergeRanges(ranges, gap).flatMap((r) => [r.start, r.end]);
        const packed = Float64Array.from(ranges.flatMap((r) => [r.start, r.end]));
        expect([...mergePacked(ranges, gap)]).to.deep.equal(expected);
        expect([...mergePacked(packed, gap)]).to.deep.equal(expected);
        expect(mergeRanges(packed, gap)).to.deep.equal(mergeRanges(ranges, gap));
        expect(rangeBytes(packed)).to.equal(rangeBytes(ranges));
        expect(unpackRanges(packed)).to.deep.equal(ranges);
      }),
    );
  });

  it('TargetState.missingPacked() is missingRanges() packed: runs of missing blocks, the last cut at the length', () => {
    fc.assert(
      fc.property(fc.array(fc.boolean(), { minLength: 1, maxLength: 80 }), fc.integer({ min: 1, max: 64 }), (present, lastBytes) => {
        const params = { blockSize: 64, length: (present.length - 1) * 64 + lastBytes };
        const state = new TargetState({ params, blockCount: present.length } as unknown as BlockChecksums);
        present.forEach((p, i) => {
          if (p) state.add(i);
        });
        const ranges = state.missingRanges();
        expect([...state.missingPacked()]).to.deep.equal(ranges.flatMap((r) => [r.start, r.end]));
        // Each run of missing blocks once, disjoint and not touching, within the file.
        const runs = present.filter((p, i) => !p && (i === 0 || present[i - 1])).length;
        expect(ranges).to.have.length(runs);
        for (let i = 1; i < ranges.length; i++) expect(ranges[i]!.start).to.be.above(ranges[i - 1]!.end);
        expect(rangeBytes(ranges)).to.equal(state.missingBytes());
      }),
    );
  });

  it('Wanted subtracts what arrives, in any order, and says what is left', () => {
    const w = new Wanted([{ start: 0, end: 100 }, { start: 200, end: 300 }]);
    w.remove(50, 250);
    expect(w.list).to.deep.equal([{ start: 0, end: 50 }, { start: 250, end: 300 }]);
    expect(w.bytes).to.equal(100);
    expect(w.overlaps(50, 250)).to.equal(false);
    expect(w.overlaps(40, 60)).to.equal(true);
    w.remove(0, 50);
    w.remove(250, 300);
    expect(w.empty).to.equal(true);
  });

  it('Wanted takes in-order pieces in O(1) each: 50 000 ranges read through a whole-file body stay fast', () => {
    const ranges = Array.from({ length: 50_000 }, (_, i) => ({ start: i * 10_000, end: i * 10_000 + 2048 }));
    const w = new Wanted(ranges);
    const t0 = performance.now();
    let got = 0;
    for (let o = 0; o < 50_000 * 10_000; o += 65_536) for (const p of w.take(o, o + 65_536)) got += p.end - p.start;
    expect(got).to.equal(50_000 * 2048);
    expect(w.empty).to.equal(true);
    expect(performance.now() - t0).to.be.below(1000);
  });

  it('Wanted.take returns the wanted pieces of a span, out of order too', () => {
    const w = new Wanted([{ start: 0, end: 100 }, { start: 200, end: 300 }, { start: 400, end: 500 }]);
    expect(w.take(250, 450)).to.deep.equal([{ start: 250, end: 300 }, { start: 400, end: 450 }]);
    expect(w.take(0, 10)).to.deep.equal([{ start: 0, end: 10 }]);
    expect(w.list).to.deep.equal([{ start: 10, end: 100 }, { start: 200, end: 250 }, { start: 450, end: 500 }]);
    expect(w.bytes).to.equal(90 + 50 + 50);
    expect(w.overlaps(100, 200)).to.equal(false);
    expect(w.overlaps(240, 260)).to.equal(true);
  });

  /**
   * What is wanted, byte by byte: the pieces of a span that are wanted are its
   * maximal stretches of wanted bytes, and the list is the whole file's.
   */
  class WantedBytes {
    readonly bytes: Uint8Array;
    count = 0;
    constructor(size: number) {
      this.bytes = new Uint8Array(size);
    }
    add(ranges: readonly ByteRange[]): void {
      for (const r of ranges) this.fill(1, r.start, r.end);
    }
    /** The wanted stretches of [start, end), as start, end pairs; the bytes no longer wanted. */
    take(start: number, end: number): number[] {
      const out = this.stretches(start, end);
      this.fill(0, start, end);
      return out;
    }
    private fill(v: 0 | 1, start: number, end: number): void {
      for (let i = start; i < Math.min(end, this.bytes.length); i++) {
        this.count += v - this.bytes[i]!;
        this.bytes[i] = v;
      }
    }
    stretches(start = 0, end = this.bytes.length): number[] {
      const out: number[] = [];
      for (let i = start; i < end; i++) {
        if (this.bytes[i] !== 1) continue;
        let j = i;
        while (j < end && this.bytes[j] === 1) j++;
        out.push(i, j);
        i = j;
      }
      return out;
    }
  }

  type WantedStep = { take: [number, number] } | { add: ByteRange[] };

  /**
   * Ranges in a file of `size` bytes and steps over them: spans swept from the
   * front in order (pieces of a body as they come, cut anywhere), spans taken
   * anywhere, the same span twice, empty and reversed spans, spans reaching
   * past everything, and now and then ranges added (put back).
   */
  const wantedCase = (size: number, maxRanges: number) => {
    const range = fc.tuple(fc.nat(size - 1), fc.integer({ min: 0, max: 60 })).map(([start, len]): ByteRange => ({ start, end: Math.min(size, start + len) }));
    return fc.record({
      ranges: fc.array(range, { maxLength: maxRanges }),
      seed: fc.integer(),
      steps: fc.integer({ min: 1, max: 120 }),
    }).map(({ ranges, seed, steps }) => {
      const rand = prng(seed);
      const list: WantedStep[] = [];
      let at = 0;
      for (let k = 0; k < steps; k++) {
        const kind = rand() % 10;
        if (kind < 5) {
          // In order, from where the last in-order span ended.
          const n = 1 + (rand() % (rand() % 2 === 0 ? 40 : Math.max(1, size >> 3)));
          list.push({ take: [at, Math.min(size + 50, at + n)] });
          at = Math.min(size + 50, at + n);
        } else if (kind < 8) {
          const start = rand() % (size + 20);
          list.push({ take: [start, start + (rand() % 200)] });
        } else if (kind < 9) {
          const start = rand() % size;
          list.push({ take: [start, start - (rand() % 3)] }); // empty or reversed: nothing
        } else {
          list.push({ add: Array.from({ length: 1 + (rand() % 3) }, () => {
            const start = rand() % size;
            return { start, end: Math.min(size, start + (rand() % 80)) };
          }) });
          if (rand() % 2 === 0) at = 0; // put back: the next body starts over
        }
      }
      return { ranges, steps: list };
    });
  };

  /** Runs the steps, checking every piece, and what is left after every `checkEvery` steps and at the end. */
  function checkTakeInto({ ranges, steps }: { ranges: ByteRange[]; steps: WantedStep[] }, size: number, checkEvery = 1): void {
    const model = new WantedBytes(size + 1000); // room for spans past the end of everything
    model.add(ranges);
    // One Wanted through takeInto(), its twin through take().
    const byInto = new Wanted(ranges);
    const byTake = new Wanted(ranges);
    // What was in `out` before: kept, the pieces after it.
    const out: number[] = [-7, 123];
    let prefix = [...out];
    for (const [k, step] of steps.entries()) {
      if ('add' in step) {
        byInto.add(step.add);
        byTake.add(step.add);
        model.add(step.add);
      } else {
        const [start, end] = step.take;
        const want = model.take(start, end);
        const before = out.length;
        byInto.takeInto(start, end, out);
        const taken = byTake.take(start, end);
        const what = `take ${start}-${end}`;
        if (out.slice(0, before).join() !== prefix.join()) expect(out.slice(0, before), `${what}: what out held`).to.deep.equal(prefix);
        if (out.slice(before).join() !== want.join()) expect(out.slice(before), `${what}: the pieces appended`).to.deep.equal(want);
        if (taken.flatMap((r) => [r.start, r.end]).join() !== want.join()) expect(taken, `${what}: take()`).to.deep.equal(want);
        prefix = [...out];
        if (out.length > 5000) {
          out.length = 2; // a caller's own reuse: keeps what it keeps
          prefix = [...out];
        }
      }
      // Both Wanteds left as the bytes say, and alike.
      if (k % checkEvery !== 0 && k !== steps.length - 1) continue;
      const left = model.stretches();
      for (const [name, w] of [['takeInto', byInto], ['take', byTake]] as const) {
        const what = `after ${JSON.stringify(step)} (${name})`;
        if (w.list.flatMap((r) => [r.start, r.end]).join() !== left.join()) expect(w.list.flatMap((r) => [r.start, r.end]), `${what}: list`).to.deep.equal(left);
        if (w.bytes !== model.count) expect(w.bytes, `${what}: bytes`).to.equal(model.count);
        if (w.empty !== (left.length === 0)) expect(w.empty, `${what}: empty`).to.equal(left.length === 0);
        const last = left.length === 0 ? 0 : left[left.length - 1]!;
        if (w.last !== last) expect(w.last, `${what}: last`).to.equal(last);
      }
    }
  }

  it('Wanted.takeInto appends the pieces take() returns, as start, end pairs, leaving what is wanted as take() leaves it, in order or not (fast-check)', () => {
    const size = 2000;
    fc.assert(fc.property(wantedCase(size, 40), (c) => checkTakeInto(c, size)), { numRuns: 200 });
  });

  it('Wanted.takeInto: the same with thousands of ranges, swept in order past the point where the list is cut down (fast-check)', () => {
    // More than 1024 ranges taken from the front: the list drops them, the cursor starts over.
    const size = 40_000;
    const many = fc.record({ gap: fc.integer({ min: 2, max: 12 }), len: fc.integer({ min: 1, max: 9 }), seed: fc.integer() }).map(({ gap, len, seed }) => {
      const rand = prng(seed);
      const ranges = Array.from({ length: Math.floor(size / (gap + len)) }, (_, i) => ({ start: i * (gap + len), end: i * (gap + len) + len }));
      const steps: WantedStep[] = [];
      for (let at = 0; at < size; ) {
        const n = 1 + (rand() % 700);
        steps.push({ take: [at, at + n] });
        // Now and then a span out of order, behind or ahead.
        if (rand() % 8 === 0) {
          const s = rand() % size;
          steps.push({ take: [s, s + (rand() % 50)] });
        }
        at += n;
      }
      return { ranges, steps };
    });
    fc.assert(fc.property(many, (c) => checkTakeInto(c, size, 16)), { numRuns: 10 });
  });

  it('Wanted.takeInto appends to what `out` holds, and appends nothing for a span wanted nowhere', () => {
    const w = new Wanted([{ start: 10, end: 20 }, { start: 30, end: 40 }]);
    const out = [1, 2, 3];
    w.takeInto(0, 10, out);
    w.takeInto(20, 30, out);
    w.takeInto(15, 15, out);
    expect(out).to.deep.equal([1, 2, 3]);
    w.takeInto(15, 35, out);
    expect(out).to.deep.equal([1, 2, 3, 15, 20, 30, 35]);
    w.takeInto(0, 100, out);
    expect(out).to.deep.equal([1, 2, 3, 15, 20, 30, 35, 10, 15, 35, 40]);
    expect(w.empty).to.equal(true);
    expect(w.bytes).to.equal(0);
    expect(w.last).to.equal(0);
  });

  it('rangeSpecLength() is the length of each start-last spec rangeHeader() writes (fast-check)', () => {
    // Around each power of ten, where a number gains a digit, and up to 2^53.
    const edge = fc.integer({ min: 0, max: 15 }).chain((d) => fc.integer({ min: -2, max: 2 }).map((k) => Math.max(0, 10 ** d + k)));
    const num = fc.oneof(edge, fc.nat(), fc.maxSafeNat());
    const range = fc.tuple(num, num).map(([a, b]): ByteRange => ({ start: Math.min(a, b), end: Math.max(a, b) + 1 }));
    fc.assert(
      fc.property(fc.array(range, { minLength: 1, maxLength: 8 }), (ranges) => {
        const header = rangeHeader(ranges);
        const specs = header.slice('bytes='.length).split(',');
        expect(header.startsWith('bytes=')).to.equal(true);
        expect(specs).to.deep.equal(ranges.map((r) => `${r.start}-${r.end - 1}`));
        ranges.forEach((r, i) => expect(rangeSpecLength(r), specs[i]).to.equal(specs[i]!.length));
        // What the fetcher adds up to measure a header without writing it.
        expect('bytes='.length - 1 + ranges.reduce((n, r) => n + rangeSpecLength(r) + 1, 0)).to.equal(header.length);
      }),
      { numRuns: 1000 },
    );
    for (const [start, end, spec] of [[0, 1, '0-0'], [9, 10, '9-9'], [9, 11, '9-10'], [99, 101, '99-100'], [0, 2 ** 53, `0-${2 ** 53 - 1}`]] as const) {
      expect(rangeSpecLength({ start, end }), spec).to.equal(spec.length);
    }
  });

  it('a multipart body with no part parses to nothing (the fetcher treats it as a short answer)', async () => {
    expect((await parse([Buffer.from(`--${BOUNDARY}--\r\n`)])).size).to.equal(0);
  });
});
