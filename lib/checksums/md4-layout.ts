/** Layout of the MD4 module's memory, shared by its emitter (md4-module.ts) and its runtime (md4-wasm.ts). */
export const STATE = 0; // scalar A, B, C, D
export const STATE4 = 64; // the SIMD state: vectors A, B, C, D, a lane per message, for up to two groups of four messages
export const PAD = 256; // the last one or two chunks of a scalar message, padded (128 bytes)
export const PAD4 = 512; // the same for up to eight messages (8 x 128 bytes)
export const OUT = 1536; // up to eight digests handed back
export const INPUT = 4096;
/** Input bytes taken in one batch. */
export const INPUT_BYTES = 1 << 20;
/** Digests of one batch, written after the input. */
export const DIGESTS = INPUT + INPUT_BYTES;
export const MAX_BATCH = 2048;
export const PAGES = Math.ceil((DIGESTS + 16 * MAX_BATCH) / 65536);
