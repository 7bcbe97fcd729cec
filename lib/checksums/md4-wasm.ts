/**
 * MD4 (RFC 1320) in WebAssembly (the modules' code: md4-module.ts): a scalar
 * kernel for one message of any length, and SIMD kernels hashing four or
 * eight messages of one length at once, one per i32x4 lane. zsync's strong
 * checksum is MD4 of every block, so hashing several blocks per pass is what
 * makes `make` and the seed scan's strong checks cheap.
 *
 * Data goes into the module's memory with one copy per batch; digests are
 * written into the caller's array, so no call allocates per block. The memory
 * has a fixed size (it never grows), so our views of it are never detached.
 */
import { MD4_SCALAR_WASM, MD4_SIMD_WASM } from './wasm-bytes.generated.js';
import { DIGESTS, INPUT, INPUT_BYTES, MAX_BATCH, OUT } from './md4-layout.js';
import { wasm, wasmBytes } from './wasm-api.js';

interface ScalarExports {
  memory: { readonly buffer: ArrayBuffer };
  init(): void;
  chunks(ptr: number, n: number): void;
  finish(ptr: number, tail: number, bitsLo: number, bitsHi: number, out: number): void;
  md4(ptr: number, len: number, out: number): void;
}

interface SimdExports {
  md4x4(p0: number, p1: number, p2: number, p3: number, len: number, out: number): void;
  md4x8(p0: number, p1: number, p2: number, p3: number, p4: number, p5: number, p6: number, p7: number, len: number, out: number): void;
}

// Compiled once per thread (each worker loads this file anew); instantiated per Md4.
const SCALAR = new wasm.Module(wasmBytes(MD4_SCALAR_WASM));
const SIMD_BYTES = wasmBytes(MD4_SIMD_WASM);
// A runtime without WebAssembly SIMD refuses the module: the scalar kernel then does everything.
const SIMD = wasm.validate(SIMD_BYTES) ? new wasm.Module(SIMD_BYTES) : null;

/** Whether this runtime runs the 4-lane kernel. */
export const MD4_SIMD = SIMD !== null;

export interface Md4Options {
  /** Use the 4-lane kernel when the runtime has SIMD. Default true; false for tests and benchmarks of the scalar kernel. */
  simd?: boolean;
}

/**
 * An MD4 hasher with its own WebAssembly memory. Synchronous and not reentrant,
 * which JavaScript's one thread makes safe to share.
 */
export class Md4 {
  /**
   * Messages per pass of the widest kernel: 8 with SIMD (two 4-lane groups
   * interleaved; a pass of 4 costs about 80% of a pass of 8 here), else 1.
   */
  readonly lanes: 1 | 8;
  private readonly scalar: ScalarExports;
  private readonly simd: SimdExports | null;
  /** All of the module's memory; it never grows, so this view is never detached. */
  private readonly heap: Uint8Array;

  constructor(options: Md4Options = {}) {
    this.scalar = new wasm.Instance(SCALAR).exports as unknown as ScalarExports;
    this.simd = options.simd !== false && SIMD !== null
      ? new wasm.Instance(SIMD, { env: { memory: this.scalar.memory } }).exports as unknown as SimdExports
      : null;
    this.lanes = this.simd ? 8 : 1;
    this.heap = new Uint8Array(this.scalar.memory.buffer);
  }

  /** MD4 of data[start, end) into out[outOffset, outOffset + 16). */
  digestInto(data: Uint8Array, out: Uint8Array, outOffset = 0, start = 0, end = data.length): void {
    const heap = this.heap;
    const len = end - start;
    if (len <= INPUT_BYTES) {
      heap.set(data.subarray(start, end), INPUT);
      this.scalar.md4(INPUT, len, OUT);
    } else {
      // Longer than the input area: through it in pieces of whole chunks.
      const { init, chunks, finish } = this.scalar;
      init();
      let at = start;
      for (; end - at > INPUT_BYTES; at += INPUT_BYTES) {
        heap.set(data.subarray(at, at + INPUT_BYTES), INPUT);
        chunks(INPUT, INPUT_BYTES >>> 6);
      }
      const rest = end - at;
      heap.set(data.subarray(at, end), INPUT);
      chunks(INPUT, rest >>> 6);
      // The bit length, 64 bits as two words: len * 8 overflows 32 bits past 512 MiB.
      finish(INPUT + (rest & ~63), rest & 63, (len % 0x20000000) * 8, Math.floor(len / 0x20000000), OUT);
    }
    for (let i = 0; i < 16; i++) out[outOffset + i] = heap[OUT + i]!;
  }

  /**
   * MD4 of each of `count` messages of `size` bytes lying back to back in `data`
   * from `offset`; the digests go back to back into `out` from `outOffset`.
   * Eight or four at a time with SIMD: this is the call for whole blocks.
   */
  digestBlocksInto(data: Uint8Array, offset: number, size: number, count: number, out: Uint8Array, outOffset = 0): void {
    const simd = this.simd;
    if (simd === null || 8 * size > INPUT_BYTES) {
      for (let i = 0; i < count; i++) this.digestInto(data, out, outOffset + 16 * i, offset + i * size, offset + (i + 1) * size);
      return;
    }
    const heap = this.heap;
    const perBatch = Math.min(MAX_BATCH, Math.floor(INPUT_BYTES / size / 8) * 8);
    for (let done = 0; done < count; ) {
      const n = Math.min(perBatch, count - done);
      const from = offset + done * size;
      heap.set(data.subarray(from, from + n * size), INPUT);
      let i = 0;
      for (; i + 8 <= n; i += 8) {
        const p = INPUT + i * size;
        simd.md4x8(p, p + size, p + 2 * size, p + 3 * size, p + 4 * size, p + 5 * size, p + 6 * size, p + 7 * size, size, DIGESTS + 16 * i);
      }
      if (i + 4 <= n) {
        const p = INPUT + i * size;
        simd.md4x4(p, p + size, p + 2 * size, p + 3 * size, size, DIGESTS + 16 * i);
        i += 4;
      }
      const rest = n - i;
      const p = INPUT + i * size;
      if (rest === 1) {
        this.scalar.md4(p, size, DIGESTS + 16 * i);
      } else if (rest > 1) {
        // Two or three left: one 4-lane pass (lanes repeated) still beats two scalar ones.
        simd.md4x4(p, p + size, rest === 3 ? p + 2 * size : p, p, size, OUT);
        heap.copyWithin(DIGESTS + 16 * i, OUT, OUT + 16 * rest);
      }
      out.set(heap.subarray(DIGESTS, DIGESTS + 16 * n), outOffset + 16 * done);
      done += n;
    }
  }
}
