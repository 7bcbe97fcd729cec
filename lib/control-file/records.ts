/**
 * The binary block records of a control file, on byte arrays only. Each record
 * is the last `weakBytes` bytes of the rsum written as 4 big-endian bytes
 * (a then b), then the first `strongBytes` bytes of the strong digest.
 */
import { sliceEach } from '../engine/checksum-collector.js';

/** Bytes of one untruncated record as the writer keeps it: 4 of rsum, then the whole digest. */
export function fullRecordBytes(digestBytes: number): number {
  return 4 + digestBytes;
}

/** Writes one untruncated record (packed rsum, whole digest) at `offset`. */
export function writeFullRecord(out: Uint8Array, offset: number, weak: number, strong: Uint8Array, digestBytes: number): void {
  out[offset] = weak >>> 24;
  out[offset + 1] = weak >>> 16;
  out[offset + 2] = weak >>> 8;
  out[offset + 3] = weak;
  out.set(strong.subarray(0, digestBytes), offset + 4);
}

/**
 * Cuts whole untruncated records down to the stored form: of each record's
 * 4 rsum bytes the last `weakBytes`, of its digest the first `strongBytes`.
 */
export function truncateRecords(full: Uint8Array, digestBytes: number, weakBytes: number, strongBytes: number): Buffer {
  const inSize = fullRecordBytes(digestBytes);
  const out = sliceEach(full, inSize, 4 - weakBytes, weakBytes + strongBytes, Math.floor(full.length / inSize));
  return Buffer.from(out.buffer, out.byteOffset, out.byteLength);
}

/**
 * Reads `count` stored records from `data` at `offset` into the parsed form
 * (weak as the stored low bytes of the packed rsum, strong back to back).
 */
export function readRecords(
  data: Uint8Array, offset: number, count: number, weakBytes: number, strongBytes: number,
  weakOut: Int32Array, strongOut: Uint8Array, firstIndex: number,
): void {
  const size = weakBytes + strongBytes;
  for (let i = 0; i < count; i++) {
    const p = offset + i * size;
    let weak = 0;
    // The stored bytes are the low-order end of the big-endian 32-bit rsum.
    for (let k = 0; k < weakBytes; k++) weak = (weak << 8) | data[p + k]!;
    weakOut[firstIndex + i] = weak;
    // Byte by byte, not set(subarray()): a view object per record was 26 MB
    // of garbage for a 1 GiB target, collections that made V8 grow its heap.
    const s = p + weakBytes;
    const o = (firstIndex + i) * strongBytes;
    for (let k = 0; k < strongBytes; k++) strongOut[o + k] = data[s + k]!;
  }
}
