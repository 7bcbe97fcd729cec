/**
 * Data generators shared by the engine's property tests: target files with
 * low-entropy stretches (so identical blocks and weak-sum collisions really
 * occur), seeds made from them by random edits, and random chunkings. All
 * randomness comes from fast-check or from the seeded PRNG below, so a failing
 * case is reproduced by its fast-check seed.
 */
import fc from 'fast-check';
import { Readable } from 'node:stream';

/** mulberry32: a small seeded PRNG, uniform in [0, 2^32). */
export function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

/** Integer in [min, max] from a PRNG. */
export function between(rand: () => number, min: number, max: number): number {
  return min + (rand() % (max - min + 1));
}

export function randomBytes(rand: () => number, n: number): Buffer {
  const out = Buffer.alloc(n);
  for (let i = 0; i < n; i++) out[i] = rand() & 0xff;
  return out;
}

/**
 * A file of `length` bytes built from segments: random bytes, short repeating
 * patterns, zeros, and copies of earlier parts (whole blocks or not), in
 * proportions set by `style`.
 */
export function makeFile(seed: number, length: number, blockSize: number, style: FileStyle): Buffer {
  const rand = prng(seed);
  if (style === 'zeros') return Buffer.alloc(length);
  const out = Buffer.alloc(length);
  let o = 0;
  while (o < length) {
    const n = Math.min(length - o, between(rand, 1, blockSize * 4));
    const pick = style === 'random' ? 0 : rand() % 4;
    if (pick === 0) {
      out.set(randomBytes(rand, n), o);
    } else if (pick === 1) {
      const pattern = randomBytes(rand, between(rand, 1, 8));
      for (let i = 0; i < n; i++) out[o + i] = pattern[i % pattern.length]!;
    } else if (pick === 2) {
      out.fill(0, o, o + n);
    } else if (o > 0) {
      // A copy of earlier content, block aligned half the time: duplicate blocks.
      const aligned = (rand() & 1) === 0;
      let from = between(rand, 0, o - 1);
      if (aligned) from -= from % blockSize;
      out.copyWithin(o, from, Math.min(from + n, o));
      o += Math.min(n, o - from);
      continue;
    }
    o += n;
  }
  return out;
}

export type FileStyle = 'random' | 'mixed' | 'zeros';

export type Edit =
  | { kind: 'insert'; at: number; len: number; fill: 'random' | 'zeros' }
  | { kind: 'delete'; at: number; len: number }
  | { kind: 'overwrite'; at: number; len: number }
  | { kind: 'move'; from: number; len: number; to: number }
  | { kind: 'duplicate'; from: number; len: number; to: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'grow'; len: number };

/** Positions are fractions of the current length (0..1), lengths are in block units times 1/8. */
export function editArb(): fc.Arbitrary<Edit> {
  const frac = fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true });
  const len = fc.integer({ min: 1, max: 40 }); // eighths of a block: partial and whole blocks
  return fc.oneof(
    fc.record({ kind: fc.constant('insert' as const), at: frac, len, fill: fc.constantFrom('random' as const, 'zeros' as const) }),
    fc.record({ kind: fc.constant('delete' as const), at: frac, len }),
    fc.record({ kind: fc.constant('overwrite' as const), at: frac, len }),
    fc.record({ kind: fc.constant('move' as const), from: frac, len, to: frac }),
    fc.record({ kind: fc.constant('duplicate' as const), from: frac, len, to: frac }),
    fc.record({ kind: fc.constant('truncate' as const), at: frac }),
    fc.record({ kind: fc.constant('grow' as const), len }),
  );
}

/** Applies edits to a copy of `file`; edit lengths are in eighths of a block. */
export function applyEdits(file: Buffer, edits: readonly Edit[], blockSize: number, seed: number): Buffer {
  const rand = prng(seed ^ 0x5eed);
  let f = Buffer.from(file);
  const at = (x: number): number => Math.floor(x * (f.length + 1));
  const bytes = (l: number): number => Math.max(1, Math.round((l * blockSize) / 8));
  for (const e of edits) {
    switch (e.kind) {
      case 'insert': {
        const p = at(e.at);
        const ins = e.fill === 'zeros' ? Buffer.alloc(bytes(e.len)) : randomBytes(rand, bytes(e.len));
        f = Buffer.concat([f.subarray(0, p), ins, f.subarray(p)]);
        break;
      }
      case 'delete': {
        const p = at(e.at);
        f = Buffer.concat([f.subarray(0, p), f.subarray(p + bytes(e.len))]);
        break;
      }
      case 'overwrite': {
        const p = at(e.at);
        randomBytes(rand, bytes(e.len)).copy(f, p);
        break;
      }
      case 'move':
      case 'duplicate': {
        const p = at(e.from);
        const piece = Buffer.from(f.subarray(p, p + bytes(e.len)));
        if (e.kind === 'move') f = Buffer.concat([f.subarray(0, p), f.subarray(p + piece.length)]);
        const q = at(e.to);
        f = Buffer.concat([f.subarray(0, q), piece, f.subarray(q)]);
        break;
      }
      case 'truncate':
        f = f.subarray(0, at(e.at));
        break;
      case 'grow':
        f = Buffer.concat([f, randomBytes(rand, bytes(e.len) * 4)]);
        break;
    }
  }
  return f;
}

/** A target file and a seed made from it by edits. */
export interface SyncCase {
  blockSize: number;
  target: Buffer;
  seed: Buffer;
  /** Seed for chunkings and anything else random the test needs. */
  rngSeed: number;
}

/**
 * Targets of 64 to `maxBlocks` blocks (plus a partial tail) of the given block
 * sizes, and seeds from 0 to 12 random edits of them (or, now and then, of an
 * unrelated file).
 */
export function syncCaseArb(blockSizes: readonly number[], minBlocks = 64, maxBlocks = 200): fc.Arbitrary<SyncCase> {
  return fc
    .record({
      blockSize: fc.constantFrom(...blockSizes),
      blocks: fc.integer({ min: minBlocks, max: maxBlocks }),
      tail: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 4095 })), // 0: whole blocks only
      style: fc.constantFrom<FileStyle>('mixed', 'mixed', 'mixed', 'random', 'zeros'),
      fileSeed: fc.integer(),
      // Now and then the seed is the target grown at its end: everything is found
      // before the seed ends.
      edits: fc.oneof(
        { weight: 7, arbitrary: fc.array(editArb(), { maxLength: 12 }) },
        { weight: 1, arbitrary: fc.integer({ min: 1, max: 40 }).map((len): Edit[] => [{ kind: 'grow', len }]) },
      ),
      unrelated: fc.integer({ min: 0, max: 19 }),
      rngSeed: fc.integer(),
    })
    .map(({ blockSize, blocks, tail, style, fileSeed, edits, unrelated, rngSeed }) => {
      const target = makeFile(fileSeed, blocks * blockSize + (tail % blockSize), blockSize, style);
      const base = unrelated === 0 ? makeFile(fileSeed + 1, target.length, blockSize, 'random') : target;
      const seed = applyEdits(base, edits, blockSize, rngSeed);
      return { blockSize, target, seed, rngSeed };
    });
}

/** Splits `data` into chunks of random sizes from 1 to `maxChunk` (views, in order). */
export function randomChunks(data: Uint8Array, rand: () => number, maxChunk: number): Buffer[] {
  const buf = Buffer.from(data.buffer, data.byteOffset, data.length);
  const out: Buffer[] = [];
  for (let o = 0; o < buf.length; ) {
    const n = between(rand, 1, maxChunk);
    out.push(buf.subarray(o, o + n));
    o += n;
  }
  return out;
}

/** A random largest chunk size: one byte (for small data), under a block, a few blocks, or large. */
export function randomMaxChunk(rand: () => number, blockSize: number, dataLength: number): number {
  switch (rand() % 4) {
    case 0: return dataLength <= 8192 ? 1 : between(rand, 1, 7);
    case 1: return between(rand, 1, blockSize);
    case 2: return between(rand, blockSize, blockSize * 5);
    default: return between(rand, 1, 1 << 16);
  }
}

export function shuffle<T>(items: T[], rand: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = rand() % (i + 1);
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}

/** A Readable of the given Buffers (or objects), each one chunk (no merging or splitting). */
export function chunksOf<T>(chunks: readonly T[]): Readable {
  return Readable.from(chunks, { objectMode: true });
}
