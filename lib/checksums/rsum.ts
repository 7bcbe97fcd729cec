/**
 * zsync's weak rolling checksum. For a block of L bytes c[0..L-1]:
 *   a = sum c[i]            (mod 2^16)
 *   b = sum (L - i) * c[i]  (mod 2^16)
 * packed as (a << 16) | b, the 4 bytes zsync writes big-endian. Unlike Adler-32
 * there is no modulus 65521 and `a` starts at 0: plain 16-bit wrap-around.
 */

import { RSUM_SIMD, rsumSimd } from './rsum-wasm.js';

/** From this block size on, rsumSimd's copy and call cost less than they save (100 against 150 ns at 256 bytes here). */
const SIMD_FROM = 256;

/**
 * rsum of `blockSize` bytes of `data` from `start`; bytes past the end of `data`
 * count as zeros (zsync pads the last block, and the end of a seed, with zeros).
 * Returns the packed value as an unsigned 32-bit number. In WebAssembly SIMD
 * (rsum-wasm.ts) from 256 bytes where the runtime has it.
 */
export function rsumBlock(data: Uint8Array, start: number, blockSize: number): number {
  return RSUM_SIMD && blockSize >= SIMD_FROM ? rsumSimd(data, start, blockSize) : rsumScalar(data, start, blockSize);
}

/** rsumBlock in plain JavaScript: the reference for rsumSimd, and the path for small blocks. */
export function rsumScalar(data: Uint8Array, start: number, blockSize: number): number {
  const end = Math.min(start + blockSize, data.length);
  let a = 0;
  let b = 0;
  // b is the sum of the running sums of a: each byte counts once for every
  // position from its own to the end of the block, i.e. (L - i) times. Zero
  // padding past `end` adds nothing to a, but every padded position adds a to b.
  // Sums are folded to 16 bits every 64 KiB, before b could outgrow a double's
  // exact integers (blocks may be up to 16 MiB). Eight bytes a step: b gains the
  // eight running sums at once, which cuts the chain of dependent additions
  // (1.4 -> 2 GB/s here against one byte a step).
  let i = start;
  while (i < end) {
    const stop = Math.min(end, i + 0x10000);
    const stop8 = stop - ((stop - i) & 7);
    for (; i < stop8; i += 8) {
      const c0 = data[i]!;
      const c1 = data[i + 1]!;
      const c2 = data[i + 2]!;
      const c3 = data[i + 3]!;
      const c4 = data[i + 4]!;
      const c5 = data[i + 5]!;
      const c6 = data[i + 6]!;
      const c7 = data[i + 7]!;
      b += 8 * a + 8 * c0 + 7 * c1 + 6 * c2 + 5 * c3 + 4 * c4 + 3 * c5 + 2 * c6 + c7;
      a += c0 + c1 + c2 + c3 + c4 + c5 + c6 + c7;
    }
    for (; i < stop; i++) {
      a += data[i]!;
      b += a;
    }
    a &= 0xffff;
    b &= 0xffff;
  }
  const padding = start + blockSize - end;
  if (padding > 0) b += a * padding;
  return (((a & 0xffff) << 16) | (b & 0xffff)) >>> 0;
}

/**
 * One roll of the window by a byte: `out` leaves, `inp` enters. `shift` is
 * log2(blockSize). Returns the new packed value. The matcher inlines the same
 * arithmetic in its hot loop; this is the reference form.
 */
export function rsumRoll(packed: number, out: number, inp: number, shift: number): number {
  const a = ((packed >>> 16) + inp - out) & 0xffff;
  const b = ((packed & 0xffff) + a - (out << shift)) & 0xffff;
  return ((a << 16) | b) >>> 0;
}

/**
 * The part of a packed rsum that a control file stores with `weakBytes` bytes:
 * the last `weakBytes` of the 4 big-endian bytes (2 bytes keep all of b; 3 add
 * the low byte of a). Returned as a signed 32-bit integer, the form the block
 * index stores and compares.
 */
export function weakMask(weakBytes: number): number {
  return weakBytes >= 4 ? -1 : (1 << (weakBytes * 8)) - 1;
}
