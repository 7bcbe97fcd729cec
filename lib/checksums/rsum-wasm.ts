/**
 * zsync's rsum of a whole block in WebAssembly SIMD, for blocks long enough
 * that a copy into the module's memory pays: with MD4 at several blocks per
 * pass, the rsum of each block (every block of `make`, the window after every
 * match of the seed scan) had become as costly as its MD4. Same answers as
 * rsum.ts's JavaScript, which stays the reference and the fallback.
 *
 * The module's code is rsum-module.ts. In 16-bit lanes the sums wrap just as
 * rsum's do (mod 2^16), so no lane ever needs folding. For N vectors of 16
 * bytes, S_t the bytes of vector t:
 *   a = sum S_t,   b = sum (L - i) c_i = 16 * sum_t (S_0 + ... + S_t) - sum_t sum_j j c_tj.
 */
import { RSUM_WASM } from './wasm-bytes.generated.js';
import { wasm, wasmBytes } from './wasm-api.js';

/** Bytes summed per call: the whole of the module's one page of memory. */
const PIECE = 1 << 16;

interface RsumExports {
  memory: { readonly buffer: ArrayBuffer };
  rsum16(ptr: number, n: number): number;
}

const BYTES = wasmBytes(RSUM_WASM);
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
