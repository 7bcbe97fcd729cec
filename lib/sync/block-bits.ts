/**
 * A set of blocks as a bit a block, block i at bit i & 7 of byte i >>> 3: how
 * the main thread tells the scan worker which blocks it already has (32 KB at
 * 1 GiB in 4 KiB blocks, where the byte a block of TargetState.present is 256).
 */
export function packBits(present: Uint8Array): Uint8Array<ArrayBuffer> {
  const bits = new Uint8Array(Math.ceil(present.length / 8));
  for (let i = 0; i < present.length; i++) if (present[i] === 1) bits[i >>> 3]! |= 1 << (i & 7);
  return bits;
}

/** True when block i is in `bits` (packBits). */
export function hasBit(bits: Uint8Array, i: number): boolean {
  return (bits[i >>> 3]! & (1 << (i & 7))) !== 0;
}
