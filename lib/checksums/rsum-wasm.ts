/**
 * zsync's rsum of a whole block in WebAssembly SIMD, for blocks long enough
 * that a copy into the module's memory pays: with MD4 at several blocks per
 * pass, the rsum of each block (every block of `make`, the window after every
 * match of the seed scan) had become as costly as its MD4. Same answers as
 * rsum.ts's JavaScript, which stays the reference and the fallback.
 *
 * In 16-bit lanes the sums wrap just as rsum's do (mod 2^16), so no lane ever
 * needs folding. For N vectors of 16 bytes, S_t the bytes of vector t:
 *   a = sum S_t,   b = sum (L - i) c_i = 16 * sum_t (S_0 + ... + S_t) - sum_t sum_j j c_tj.
 */
import { Body, emitModule, Op, SimdOp, ValType, wasm } from './wasm-emit.js';

/** Bytes summed per call: the whole of the module's one page of memory. */
const PIECE = 1 << 16;

/** rsum16(ptr, n): the packed rsum of n * 16 bytes at ptr, as a block of that length. */
function rsumModule(): Uint8Array<ArrayBuffer> {
  const { I32, V128 } = ValType;
  const [ptr, n, A, B, W, lo, hi, w0, w1] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
  const body = new Body()
    // Lane weights j of the bytes of a vector: 0-7 for its low half, 8-15 for its high half.
    .v128i32(0 | (1 << 16), 2 | (3 << 16), 4 | (5 << 16), 6 | (7 << 16)).set(w0)
    .v128i32(8 | (9 << 16), 10 | (11 << 16), 12 | (13 << 16), 14 | (15 << 16)).set(w1)
    .block().get(n).op(Op.I32Eqz).brIf(0).loop()
    .get(ptr).simdMem(SimdOp.V128Load).tee(hi).simd(SimdOp.I16x8ExtendLowI8x16U).set(lo)
    .get(hi).simd(SimdOp.I16x8ExtendHighI8x16U).set(hi)
    .get(A).get(lo).simd(SimdOp.I16x8Add).get(hi).simd(SimdOp.I16x8Add).tee(A)
    .get(B).simd(SimdOp.I16x8Add).set(B)
    .get(W).get(lo).get(w0).simd(SimdOp.I16x8Mul).simd(SimdOp.I16x8Add).get(hi).get(w1).simd(SimdOp.I16x8Mul).simd(SimdOp.I16x8Add).set(W)
    .get(ptr).i32(16).op(Op.I32Add).set(ptr)
    .get(n).i32(1).op(Op.I32Sub).tee(n).brIf(0).end().end();
  // The lanes' totals: pairs to i32 lanes, then the four lanes added.
  const total = (v: number): void => {
    body.get(v).simd(SimdOp.I32x4ExtaddPairwiseI16x8U).set(v);
    body.get(v).extractLane32(0).get(v).extractLane32(1).op(Op.I32Add).get(v).extractLane32(2).op(Op.I32Add).get(v).extractLane32(3).op(Op.I32Add);
  };
  total(A);
  body.i32(16).op(Op.I32Shl);
  total(B);
  body.i32(4).op(Op.I32Shl);
  total(W);
  body.op(Op.I32Sub).i32(0xffff).op(Op.I32And).op(Op.I32Or);
  return emitModule({ pages: 1, name: 'memory', imported: false }, [
    { params: [I32, I32], results: [I32], locals: Array<ValType>(7).fill(V128), body, export: 'rsum16' },
  ]);
}

interface RsumExports {
  memory: { readonly buffer: ArrayBuffer };
  rsum16(ptr: number, n: number): number;
}

const BYTES = rsumModule();
const kernel = wasm.validate(BYTES) ? new wasm.Instance(new wasm.Module(BYTES)).exports as RsumExports : null;
const heap = kernel ? new Uint8Array(kernel.memory.buffer) : null;

/** Whether rsumSimd() can run here (the runtime has WebAssembly SIMD). */
export const RSUM_SIMD = kernel !== null;

/**
 * rsumBlock's contract (rsum of `blockSize` bytes from `start`, zeros past the
 * end of `data`, packed unsigned), in SIMD. Only where RSUM_SIMD is true.
 */
export function rsumSimd(data: Uint8Array, start: number, blockSize: number): number {
  const rsum16 = kernel!.rsum16;
  const mem = heap!;
  const end = Math.min(start + blockSize, data.length);
  let a = 0;
  let b = 0;
  // Piece by piece: a piece [p, q) adds its own b, plus its a once for every
  // byte of the block after it (and every padded position).
  for (let p = start; p < end; ) {
    const q = Math.min(end, p + PIECE);
    const whole = (q - p) & ~15;
    mem.set(data.subarray(p, p + whole), 0);
    const packed = rsum16(0, whole >>> 4);
    const va = packed >>> 16;
    let ta = 0;
    let tb = 0;
    // The last few bytes, fewer than 16, in JavaScript: tb = sum (q - i) c_i.
    for (let i = p + whole; i < q; i++) {
      ta += data[i]!;
      tb += ta;
    }
    // The vector part's b counts its bytes up to p + whole: each counts q - p - whole more times.
    const pa = va + ta;
    const pb = (packed & 0xffff) + (q - p - whole) * va + tb;
    a = (a + pa) & 0xffff;
    b = (b + pb + pa * (start + blockSize - q)) & 0xffff; // exact below 2^53, and & keeps the low bits
    p = q;
  }
  return (((a & 0xffff) << 16) | (b & 0xffff)) >>> 0;
}
