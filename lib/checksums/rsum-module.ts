/**
 * The rsum module's code, written with wasm-emit.ts (the arithmetic is
 * explained in rsum-wasm.ts). Run at build time only: scripts/gen-wasm-bytes.ts
 * writes its bytes into wasm-bytes.generated.ts, which rsum-wasm.ts loads.
 */
import { Body, emitModule, Op, SimdOp, ValType } from './wasm-emit.js';

/** rsum16(ptr, n): the packed rsum of n * 16 bytes at ptr, as a block of that length. */
export function rsumModule(): Uint8Array<ArrayBuffer> {
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
