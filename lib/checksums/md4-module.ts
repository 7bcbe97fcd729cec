/**
 * The MD4 modules' code, written with wasm-emit.ts: a scalar kernel for one
 * message of any length, and SIMD kernels hashing four or eight messages of one
 * length at once, one per i32x4 lane. Run at build time only
 * (scripts/gen-wasm-bytes.ts writes their bytes into wasm-bytes.generated.ts,
 * which md4-wasm.ts loads), and by the test that holds the two equal: emitting
 * them took 20-30 ms of every thread's start.
 */
import { Body, emitModule, Op, SimdOp, ValType, type FuncDef } from './wasm-emit.js';
import { PAD, PAD4, PAGES, STATE, STATE4 } from './md4-layout.js';

const IV = [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476] as const;
const ROUND2 = 0x5a827999;
const ROUND3 = 0x6ed9eba1;
/** Message word order and rotation amounts of each round (RFC 1320, section 3.4). */
const ORDER = [
  [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
  [0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15],
  [0, 8, 4, 12, 2, 10, 6, 14, 1, 9, 5, 13, 3, 11, 7, 15],
] as const;
const SHIFTS = [[3, 7, 11, 19], [3, 5, 9, 13], [3, 9, 11, 15]] as const;

/**
 * The 48 steps over one chunk. At step i the registers play the roles
 * a, b, c, d in the order the RFC writes them: [abcd k s], [dabc k s], [cdab k s], [bcda k s].
 */
function steps(regs: readonly number[], step: (round: number, a: number, b: number, c: number, d: number, k: number, s: number) => void): void {
  for (let round = 0; round < 3; round++) {
    for (let i = 0; i < 16; i++) {
      const r = (4 - (i & 3)) & 3;
      step(round, regs[r]!, regs[(r + 1) & 3]!, regs[(r + 2) & 3]!, regs[(r + 3) & 3]!, ORDER[round]![i]!, SHIFTS[round]![i & 3]!);
    }
  }
}

/** The scalar module: init(), chunks(ptr, n), finish(ptr, tail, bitsLo, bitsHi, out), md4(ptr, len, out); it defines the memory. */
export function md4ScalarModule(): Uint8Array<ArrayBuffer> {
  const { I32 } = ValType;

  const init = new Body();
  IV.forEach((v, i) => init.i32(0).i32(v).mem(Op.I32Store, STATE + 4 * i, 2));

  // chunks(ptr, n): n 64-byte chunks from ptr into the state.
  const [ptr, n, A, B, C, D, AA, BB, CC, DD] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
  const chunks = new Body();
  [A, B, C, D].forEach((r, i) => chunks.i32(0).mem(Op.I32Load, STATE + 4 * i, 2).set(r));
  chunks.block().get(n).op(Op.I32Eqz).brIf(0).loop();
  [A, B, C, D].forEach((r, i) => chunks.get(r).set([AA, BB, CC, DD][i]!));
  steps([A, B, C, D], (round, a, b, c, d, k, s) => {
    // a + X[k] + constant first: only F, G or H waits for the step before.
    chunks.get(a).get(ptr).mem(Op.I32Load, 4 * k).op(Op.I32Add);
    if (round > 0) chunks.i32(round === 1 ? ROUND2 : ROUND3).op(Op.I32Add);
    if (round === 0) chunks.get(d).get(b).get(c).get(d).op(Op.I32Xor).op(Op.I32And).op(Op.I32Xor); // d ^ (b & (c ^ d))
    else if (round === 1) chunks.get(c).get(d).op(Op.I32And).get(c).get(d).op(Op.I32Or).get(b).op(Op.I32And).op(Op.I32Or); // majority
    else chunks.get(c).get(d).op(Op.I32Xor).get(b).op(Op.I32Xor);
    chunks.op(Op.I32Add).i32(s).op(Op.I32Rotl).set(a);
  });
  [A, B, C, D].forEach((r, i) => chunks.get(r).get([AA, BB, CC, DD][i]!).op(Op.I32Add).set(r));
  chunks.get(ptr).i32(64).op(Op.I32Add).set(ptr);
  chunks.get(n).i32(1).op(Op.I32Sub).tee(n).brIf(0).end().end();
  [A, B, C, D].forEach((r, i) => chunks.i32(0).get(r).mem(Op.I32Store, STATE + 4 * i, 2));

  // finish(ptr, tail, bitsLo, bitsHi, out): the last tail (< 64) bytes, padded, then the digest to out.
  const [fPtr, tail, bitsLo, bitsHi, out, padLen] = [0, 1, 2, 3, 4, 5];
  const finish = new Body()
    .i32(PAD).get(fPtr).get(tail).memoryCopy()
    .i32(PAD).get(tail).op(Op.I32Add).i32(0).i32(128).get(tail).op(Op.I32Sub).memoryFill()
    .i32(PAD).get(tail).op(Op.I32Add).i32(0x80).mem(Op.I32Store8)
    // One chunk if the length's 8 bytes fit after the 0x80, else two.
    .i32(64).i32(128).get(tail).i32(56).op(Op.I32LtU).op(Op.Select).set(padLen)
    .i32(PAD - 8).get(padLen).op(Op.I32Add).get(bitsLo).mem(Op.I32Store, 0)
    .i32(PAD - 8).get(padLen).op(Op.I32Add).get(bitsHi).mem(Op.I32Store, 4)
    .i32(PAD).get(padLen).i32(6).op(Op.I32ShrU).call(1)
    .get(out).i32(STATE).i32(16).memoryCopy();

  // md4(ptr, len, out): the whole message at once.
  const md4 = new Body()
    .call(0)
    .get(0).get(1).i32(6).op(Op.I32ShrU).call(1)
    .get(0).get(1).i32(~63).op(Op.I32And).op(Op.I32Add)
    .get(1).i32(63).op(Op.I32And)
    .get(1).i32(3).op(Op.I32Shl)
    .get(1).i32(29).op(Op.I32ShrU)
    .get(2).call(2);

  const funcs: FuncDef[] = [
    { params: [], results: [], locals: [], body: init, export: 'init' },
    { params: [I32, I32], results: [], locals: Array<ValType>(8).fill(I32), body: chunks, export: 'chunks' },
    { params: [I32, I32, I32, I32, I32], results: [], locals: [I32], body: finish, export: 'finish' },
    { params: [I32, I32, I32], results: [], locals: [], body: md4, export: 'md4' },
  ];
  return emitModule({ pages: PAGES, name: 'memory', imported: false }, funcs);
}

/**
 * Transposes four vectors (rows) into four (columns), through four temporaries:
 * lane j of column i is lane i of row j. Columns may be the rows themselves.
 */
function transpose(b: Body, rows: readonly number[], cols: readonly number[], t: readonly number[]): void {
  b.get(rows[0]!).get(rows[1]!).shuffle32(0, 4, 1, 5).set(t[0]!);
  b.get(rows[0]!).get(rows[1]!).shuffle32(2, 6, 3, 7).set(t[1]!);
  b.get(rows[2]!).get(rows[3]!).shuffle32(0, 4, 1, 5).set(t[2]!);
  b.get(rows[2]!).get(rows[3]!).shuffle32(2, 6, 3, 7).set(t[3]!);
  b.get(t[0]!).get(t[2]!).shuffle32(0, 1, 4, 5).set(cols[0]!);
  b.get(t[0]!).get(t[2]!).shuffle32(2, 3, 6, 7).set(cols[1]!);
  b.get(t[1]!).get(t[3]!).shuffle32(0, 1, 4, 5).set(cols[2]!);
  b.get(t[1]!).get(t[3]!).shuffle32(2, 3, 6, 7).set(cols[3]!);
}

/**
 * The functions chunksN(p0, ..., n) and md4xN(p0, ..., len, out), N = 4 * groups:
 * N messages of one length hashed at once, N digests to out. Each group of four
 * messages is one set of i32x4 vectors, a lane per message; with two groups
 * their steps interleave, so one group's work fills the other's wait on its
 * dependency chain (MD4 is one long chain: each step needs the one before).
 * `at` is the index chunksN will have in the module.
 */
function simdFunctions(groups: number, at: number): FuncDef[] {
  const { I32, V128 } = ValType;
  const lanes = 4 * groups;
  // chunksN(p0, ..., n): the pointers and n are params, then the vectors.
  const P = Array.from({ length: lanes }, (_, i) => i);
  const n = lanes;
  let next = lanes + 1;
  const vectors = (count: number): number[] => Array.from({ length: count }, () => next++);
  const state = Array.from({ length: groups }, () => vectors(4));
  const saved = Array.from({ length: groups }, () => vectors(4));
  const M = Array.from({ length: groups }, () => vectors(16));
  const R = vectors(4);
  const T = vectors(4);
  const [K2, K3] = vectors(2);
  const vectorCount = next - lanes - 1;

  const chunks = new Body();
  state.flat().forEach((r, i) => chunks.i32(0).simdMem(SimdOp.V128Load, STATE4 + 16 * i).set(r));
  chunks.i32(ROUND2).simd(SimdOp.I32x4Splat).set(K2!).i32(ROUND3).simd(SimdOp.I32x4Splat).set(K3!);
  chunks.block().get(n).op(Op.I32Eqz).brIf(0).loop();
  // Word w of message j into lane j of M[w]: four rows of four words, transposed.
  for (let g = 0; g < groups; g++) {
    for (let q = 0; q < 4; q++) {
      for (let j = 0; j < 4; j++) chunks.get(P[4 * g + j]!).simdMem(SimdOp.V128Load, 16 * q).set(R[j]!);
      transpose(chunks, R, M[g]!.slice(4 * q, 4 * q + 4), T);
    }
  }
  state.flat().forEach((r, i) => chunks.get(r).set(saved.flat()[i]!));
  const perGroup = (g: number, round: number, a: number, b: number, c: number, d: number, k: number, s: number): void => {
    const t = T[g]!;
    // a + X[k] + constant first: only F, G or H waits for the step before.
    chunks.get(a).get(M[g]![k]!).simd(SimdOp.I32x4Add);
    if (round > 0) chunks.get(round === 1 ? K2! : K3!).simd(SimdOp.I32x4Add);
    if (round === 0) chunks.get(c).get(d).get(b).simd(SimdOp.V128Bitselect); // b ? c : d, bit by bit
    else if (round === 1) chunks.get(c).get(d).simd(SimdOp.V128And).get(c).get(d).simd(SimdOp.V128Or).get(b).simd(SimdOp.V128And).simd(SimdOp.V128Or); // majority
    else chunks.get(c).get(d).simd(SimdOp.V128Xor).get(b).simd(SimdOp.V128Xor);
    chunks.simd(SimdOp.I32x4Add);
    // No vector rotate: (x << s) | (x >>> (32 - s)).
    chunks.tee(t).i32(s).simd(SimdOp.I32x4Shl).get(t).i32(32 - s).simd(SimdOp.I32x4ShrU).simd(SimdOp.V128Or).set(a);
  };
  steps([0, 1, 2, 3], (round, a, b, c, d, k, s) => {
    for (let g = 0; g < groups; g++) {
      const r = state[g]!;
      perGroup(g, round, r[a]!, r[b]!, r[c]!, r[d]!, k, s);
    }
  });
  state.flat().forEach((r, i) => chunks.get(r).get(saved.flat()[i]!).simd(SimdOp.I32x4Add).set(r));
  P.forEach((p) => chunks.get(p).i32(64).op(Op.I32Add).set(p));
  chunks.get(n).i32(1).op(Op.I32Sub).tee(n).brIf(0).end().end();
  state.flat().forEach((r, i) => chunks.i32(0).get(r).simdMem(SimdOp.V128Store, STATE4 + 16 * i));

  // md4xN(p0, ..., len, out)
  const len = lanes;
  const out = lanes + 1;
  const [tail, off, padLen] = [lanes + 2, lanes + 3, lanes + 4];
  const S = [lanes + 5, lanes + 6, lanes + 7, lanes + 8];
  const T4 = [lanes + 9, lanes + 10, lanes + 11, lanes + 12];
  const md4xN = new Body();
  for (let i = 0; i < 4 * groups; i++) {
    const v = IV[i & 3]!;
    md4xN.i32(0).v128i32(v, v, v, v).simdMem(SimdOp.V128Store, STATE4 + 16 * i);
  }
  P.forEach((p) => md4xN.get(p));
  md4xN.get(len).i32(6).op(Op.I32ShrU).call(at);
  md4xN.get(len).i32(63).op(Op.I32And).set(tail).get(len).get(tail).op(Op.I32Sub).set(off);
  md4xN.i32(64).i32(128).get(tail).i32(56).op(Op.I32LtU).op(Op.Select).set(padLen);
  P.forEach((p, j) => {
    const pad = PAD4 + 128 * j;
    md4xN
      .i32(pad).get(p).get(off).op(Op.I32Add).get(tail).memoryCopy()
      .i32(pad).get(tail).op(Op.I32Add).i32(0).i32(128).get(tail).op(Op.I32Sub).memoryFill()
      .i32(pad).get(tail).op(Op.I32Add).i32(0x80).mem(Op.I32Store8)
      .i32(pad - 8).get(padLen).op(Op.I32Add).get(len).i32(3).op(Op.I32Shl).mem(Op.I32Store, 0)
      .i32(pad - 8).get(padLen).op(Op.I32Add).get(len).i32(29).op(Op.I32ShrU).mem(Op.I32Store, 4);
  });
  P.forEach((_, j) => md4xN.i32(PAD4 + 128 * j));
  md4xN.get(padLen).i32(6).op(Op.I32ShrU).call(at);
  for (let g = 0; g < groups; g++) {
    S.forEach((r, i) => md4xN.i32(0).simdMem(SimdOp.V128Load, STATE4 + 64 * g + 16 * i).set(r));
    // Lane j of A, B, C, D is message j's digest: transposed, each digest is one vector.
    transpose(md4xN, S, S, T4);
    S.forEach((r, j) => md4xN.get(out).get(r).simdMem(SimdOp.V128Store, 64 * g + 16 * j));
  }

  const i32s = (count: number): ValType[] => Array<ValType>(count).fill(I32);
  return [
    { params: i32s(lanes + 1), results: [], locals: Array<ValType>(vectorCount).fill(V128), body: chunks },
    { params: i32s(lanes + 2), results: [], locals: [...i32s(3), ...Array<ValType>(8).fill(V128)], body: md4xN, export: `md4x${lanes}` },
  ];
}

/** The SIMD module: md4x4 and md4x8. It imports the scalar module's memory. */
export function md4SimdModule(): Uint8Array<ArrayBuffer> {
  return emitModule({ pages: PAGES, name: 'memory', imported: true }, [...simdFunctions(1, 0), ...simdFunctions(2, 2)]);
}
